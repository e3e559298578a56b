/**
 * The webhook dispatcher: a reactor over the log (like the job scheduler, with a checkpoint of
 * its own) that turns each event a webhook subscribes to into a delivery row and a BullMQ job.
 * It reads the webhook streams itself, in log order, so an event goes to exactly the webhooks
 * registered before it. Delivery ids are derived from (webhook, event): a batch applied again
 * after a crash inserts nothing new and re-adds jobs BullMQ already has, so no event is missed
 * or sent twice. It is never rebuilt from zero (that would resend history).
 */
import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import type pg from 'pg';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import type { PostgresProjection } from '../../core/projections/projection.js';
import { eventTime } from '../../core/projections/projection.js';
import {
  APPROVAL_PREFIX,
  CHANGE_SET_PREFIX,
  CONFIG_PREFIX,
  DEPLOYMENT_PREFIX,
  WEBHOOK_PREFIX,
} from '../../core/streams.js';
import { unlessAborted, type DeliveryJob } from '../../core/jobs/queues.js';
import type { WebhookEvent } from './webhook.decider.js';
import { webhookMessageOf } from './webhook-events.js';

export const DISPATCHER_NAME = 'webhook-dispatcher';

export const deliveryIdOf = (webhookId: string, eventId: string) =>
  `whd_${createHash('sha256').update(`${webhookId}/${eventId}`).digest('hex').slice(0, 32)}`;

async function applySubscription(client: pg.PoolClient, event: WebhookEvent) {
  const d = event.data;
  switch (event.type) {
    case 'WebhookRegistered':
      await client.query(
        `INSERT INTO webhook_subscriptions (webhook_id, tenant_id, events, active)
         VALUES ($1, $2, $3, TRUE) ON CONFLICT (webhook_id) DO NOTHING`,
        [d.webhookId, d.tenantId, event.data.events],
      );
      return;
    case 'WebhookUpdated':
      await client.query(
        `UPDATE webhook_subscriptions SET events = COALESCE($2, events), active = COALESCE($3, active)
          WHERE webhook_id = $1`,
        [d.webhookId, event.data.events ?? null, event.data.active ?? null],
      );
      return;
    case 'WebhookDeleted':
      await client.query('DELETE FROM webhook_subscriptions WHERE webhook_id = $1', [d.webhookId]);
      return;
    case 'WebhookSecretRotated':
      return;
  }
}

export function webhookDispatcher(queue: Queue<DeliveryJob>): PostgresProjection {
  return {
    name: DISPATCHER_NAME,
    streamPrefixes: [
      WEBHOOK_PREFIX,
      CONFIG_PREFIX,
      APPROVAL_PREFIX,
      CHANGE_SET_PREFIX,
      DEPLOYMENT_PREFIX,
    ],
    tables: [],
    async apply(client, events, signal) {
      const jobs: string[] = [];
      for (const e of events) {
        if (e.streamId.startsWith(WEBHOOK_PREFIX)) {
          await applySubscription(client, e as unknown as WebhookEvent);
          continue;
        }
        jobs.push(...(await recordDeliveries(client, e)));
      }
      // Added while the batch's transaction is open: if it rolls back, the batch runs again
      // and produces the same ids (a job that finds no row yet retries). A shutdown gives up an
      // add waiting for Redis (the runner's signal; see unlessAborted).
      if (jobs.length) {
        await unlessAborted(
          queue.addBulk(
            jobs.map((deliveryId) => ({
              name: 'deliver',
              data: { deliveryId },
              opts: { jobId: deliveryId },
            })),
          ),
          signal,
        );
      }
    },
  };
}

async function recordDeliveries(client: pg.PoolClient, e: RecordedEvent): Promise<string[]> {
  const message = webhookMessageOf(e);
  if (!message) return [];
  const { rows } = await client.query<{ webhook_id: string }>(
    `SELECT webhook_id FROM webhook_subscriptions
      WHERE tenant_id = $1 AND active AND $2 = ANY(events) ORDER BY webhook_id`,
    [message.tenantId, message.type],
  );
  const ids: string[] = [];
  for (const { webhook_id } of rows) {
    const deliveryId = deliveryIdOf(webhook_id, e.id);
    await client.query(
      `INSERT INTO webhook_deliveries
         (delivery_id, webhook_id, tenant_id, event_id, event_type, position, payload, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (delivery_id) DO NOTHING`,
      [
        deliveryId,
        webhook_id,
        message.tenantId,
        e.id,
        message.type,
        e.position.toString(),
        JSON.stringify(message.payload),
        eventTime(e),
      ],
    );
    ids.push(deliveryId);
  }
  return ids;
}
