/**
 * Webhook deliveries (worker process): the dispatcher that records them from the log, and the
 * BullMQ worker that sends each, signed, retrying on the schedule of
 * ConfigService__Webhooks__RetrySchedule (about 24 hours by default) before giving up.
 */
import { DelayedError, Worker, type Job, type Queue } from 'bullmq';
import type { Services } from '../../composition.js';
import {
  QUEUES,
  bullConnection,
  bullPrefix,
  closeBull,
  throttledErrorLog,
  type DeliveryJob,
} from '../../core/jobs/queues.js';
import { PostgresProjectionRunner } from '../../core/projections/runner.js';
import { webhookStream } from '../../core/streams.js';
import { evolveWebhook, initialWebhookState, type WebhookEvent } from './webhook.decider.js';
import { sendWebhook } from './webhook-sender.js';
import { signedHeaders } from './webhook-signing.js';
import { webhookDispatcher } from './webhooks.dispatcher.js';
import { projectionComponent } from '../operations/heartbeats.js';

interface DeliveryRow {
  delivery_id: string;
  webhook_id: string;
  tenant_id: string;
  payload: unknown;
  status: string;
}

const FINAL = new Set(['Delivered', 'Failed', 'Cancelled']);

export function startWebhookDelivery(
  s: Services,
  queue: Queue<DeliveryJob>,
  options: { idleWaitMs?: number } = {},
) {
  const { retryScheduleMs, timeoutMs, allowPrivateNetworks } = s.settings.webhooks;

  async function deliver(job: Job<DeliveryJob>, token?: string) {
    const id = job.data.deliveryId;
    const { rows } = await s.pool.query<DeliveryRow>(
      'SELECT delivery_id, webhook_id, tenant_id, payload, status FROM webhook_deliveries WHERE delivery_id = $1',
      [id],
    );
    const row = rows[0];
    // The dispatcher adds the job before its batch commits, so the row may not be visible yet:
    // look again shortly, without spending one of the delivery's attempts.
    if (!row) {
      await job.moveToDelayed(Date.now() + 100, token);
      throw new DelayedError();
    }
    if (FINAL.has(row.status)) return { status: row.status };
    const { events } = await s.commandStore.readStream(
      webhookStream(row.tenant_id, row.webhook_id),
    );
    const hook = (events as unknown as WebhookEvent[]).reduce(evolveWebhook, initialWebhookState());
    if (!hook.exists || hook.deleted || !hook.active) {
      await s.pool.query(
        `UPDATE webhook_deliveries SET status = 'Cancelled' WHERE delivery_id = $1`,
        [id],
      );
      return { status: 'Cancelled' };
    }
    const body = JSON.stringify(row.payload);
    const attempt = await sendWebhook(hook.url, body, signedHeaders(hook.secret, id, body), {
      allowPrivate: allowPrivateNetworks,
      timeoutMs,
      userAgent: 'config-service-webhooks/1',
    });
    const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const status = attempt.error ? (last ? 'Failed' : 'Retrying') : 'Delivered';
    await s.pool.query(
      `UPDATE webhook_deliveries
          SET status = $2::text, attempts = attempts + 1, last_status_code = $3, last_latency_ms = $4,
              last_error = $5, last_attempt_at = now() AT TIME ZONE 'UTC',
              delivered_at = CASE WHEN $2::text = 'Delivered' THEN now() AT TIME ZONE 'UTC' END
        WHERE delivery_id = $1`,
      [id, status, attempt.status ?? null, attempt.latencyMs, attempt.error ?? null],
    );
    if (attempt.error) throw new Error(`delivery ${id}: ${attempt.error}`);
    return { status, httpStatus: attempt.status };
  }

  const worker = new Worker<DeliveryJob>(QUEUES.webhookDeliveries, deliver, {
    connection: bullConnection(s.settings),
    prefix: bullPrefix(s.settings),
    concurrency: 20,
    settings: {
      backoffStrategy: (attemptsMade) =>
        retryScheduleMs[Math.min(attemptsMade, retryScheduleMs.length) - 1] ?? 0,
    },
  });
  worker.on(
    'error',
    throttledErrorLog((f, m) => s.logger.error(f, m), 'webhook worker error'),
  );
  worker.on('failed', (job, err) =>
    s.logger.warn(
      { delivery: job?.data.deliveryId, attempts: job?.attemptsMade, err: err.message },
      'webhook delivery failed',
    ),
  );

  const dispatcher = new PostgresProjectionRunner(s.pool, s.store, webhookDispatcher(queue), {
    idleWaitMs: options.idleWaitMs ?? 1000,
    onError: (err) =>
      s.logger.error({ err }, 'webhook dispatcher failed; retrying from checkpoint'),
    onAlive: (name) => s.heartbeats.alive(projectionComponent(name)),
  });
  const controller = new AbortController();
  const running = dispatcher.run(controller.signal);

  return {
    /** The dispatcher's loop ends once the queue's connection is closed (Queues.close). */
    async close(graceMs?: number) {
      controller.abort();
      await closeBull(worker, graceMs);
      await running;
    },
  };
}
