/**
 * The worker process's BullMQ workers (npm run start:worker): deployment steps, change-request
 * expiry, projection rebuilds, and the scheduler that turns events into those jobs.
 */
import { Worker, type Job } from 'bullmq';
import type { Services } from '../../composition.js';
import { createProjector } from '../../composition.js';
import { rebuildProjections, type RebuildProgress } from '../projections/rebuild.js';
import { PostgresProjectionRunner } from '../projections/runner.js';
import type { CommandContext } from '../commands/command-handling.js';
import {
  QUEUES,
  Queues,
  queueCounts,
  bullConnection,
  bullPrefix,
  closeBull,
  throttledErrorLog,
  type Cause,
  type ExpiryJob,
  type RebuildJob,
  type ScheduledChangeJob,
  type StepJob,
} from './queues.js';
import { jobScheduler } from './scheduler.js';
import { timerDelay } from '../timeout.js';
import { startWebhookDelivery } from '../../features/webhooks/webhooks.worker.js';
import { reconcileJobs, scheduleReconciler } from './reconciler.js';
import { startCheckpointSigning } from '../../features/integrity/integrity.checkpoints.js';
import { activeSpanContext, inSpan, linksTo } from '../observability/trace-context.js';
import { WORKER_COMPONENT, projectionComponent } from '../../features/operations/heartbeats.js';

/** Overall percentage: finished projections plus the share of the current one replayed. */
export function rebuildPercent(p: Parameters<RebuildProgress>[0]): number {
  const current = p.head > 0n ? Number((p.position * 100n) / p.head) / 100 : 1;
  return Math.min(100, Math.round(((p.done + Math.min(1, current)) / p.total) * 100));
}

/**
 * Sends progress in order and never backwards. The rebuild reports batches without waiting (so
 * replay never stalls on Redis), and each report is a separate Lua call that can finish out of
 * order; unchained, a late 67 could overwrite the final 100. The returned promise settles once
 * this report and every earlier one has been sent.
 */
export function progressReporter(send: (percent: number) => Promise<unknown>) {
  let last = -1;
  let chain: Promise<void> = Promise.resolve();
  return (percent: number): Promise<void> => {
    if (percent <= last) return chain;
    last = percent;
    chain = chain
      .catch(() => undefined)
      .then(async () => {
        await send(percent);
      });
    return chain;
  };
}

/** Jobs act as the system, caused by the job, in the job's own trace. */
const systemContext = (job: Job): CommandContext => {
  const span = activeSpanContext();
  return {
    userId: 'system',
    correlationId: `job-${job.id}`,
    causationId: `job-${job.id}`,
    traceId: span?.traceId,
    spanId: span?.spanId,
  };
};

/** A span per job, linked to the request whose event scheduled it. */
const traced = <T>(job: Job, cause: Cause | undefined, work: () => Promise<T>) =>
  inSpan(
    `job ${job.queueName}`,
    { links: linksTo(cause ? [cause] : []), attributes: { job: String(job.id) } },
    work,
  );

export function startWorkers(s: Services, options: { idleWaitMs?: number } = {}) {
  const queues = new Queues(s.settings);
  s.metrics.sources.queueCounts = () => queueCounts(queues);
  const projector = createProjector(s);
  const base = { connection: bullConnection(s.settings), prefix: bullPrefix(s.settings) };
  const log = (queue: string) => (job: Job | undefined, err: Error) =>
    s.logger.error({ queue, job: job?.id, err }, 'job failed');

  const steps = new Worker<StepJob>(
    QUEUES.deploymentSteps,
    (job) =>
      traced(job, job.data.cause, async () => {
        const result = await s.deploymentCommands.advance(
          job.data.deploymentId,
          job.data.stepIndex,
          systemContext(job),
          job.data.bake,
        );
        return { position: result.position?.toString() ?? null };
      }),
    { ...base, concurrency: 10 },
  );
  const expiry = new Worker<ExpiryJob>(
    QUEUES.approvalExpiry,
    (job) =>
      traced(job, job.data.cause, async () => {
        const data = job.data;
        const result =
          'changeSetId' in data
            ? await s.changeSetCommands.expire(
                { tenantId: data.tenantId, changeSetId: data.changeSetId },
                systemContext(job),
              )
            : await s.changeRequestCommands.expire(data.approvalId, systemContext(job));
        return { expired: result.position !== undefined };
      }),
    { ...base, concurrency: 10 },
  );
  const scheduled = new Worker<ScheduledChangeJob>(
    QUEUES.scheduledChanges,
    (job) =>
      traced(job, job.data.cause, async () => {
        const result = await s.scheduledChangeCommands.apply(
          { tenantId: job.data.tenantId, scheduleId: job.data.scheduleId },
          systemContext(job),
        );
        return { status: result.state.exists ? result.state.status : null };
      }),
    { ...base, concurrency: 10 },
  );
  const rebuild = new Worker<RebuildJob>(
    QUEUES.rebuild,
    async (job) => {
      const report = progressReporter((percent) => job.updateProgress(percent));
      const rebuilt = await rebuildProjections(
        s,
        projector,
        job.data.projections,
        (msg) => s.logger.info({ job: job.id }, msg),
        (p) => report(rebuildPercent(p)),
      );
      return { rebuilt };
    },
    { ...base, concurrency: 1 },
  );
  const reconcile = new Worker(
    QUEUES.reconcile,
    async () => {
      const result = await reconcileJobs(s, queues);
      if (result.recreated.length) {
        s.logger.warn({ jobs: result.recreated }, 'reconciler re-created lost jobs');
      }
      return result;
    },
    { ...base, concurrency: 1 },
  );
  const every = s.settings.jobReconcileIntervalMs;
  const schedule = () =>
    scheduleReconciler(queues, every).catch((err: unknown) =>
      s.logger.error({ err }, 'could not schedule the job reconciler; retrying'),
    );
  void schedule();
  // Again now and then: a Redis that lost its data lost the repeatable job too.
  // (A long interval must stay within the timer limit: past it Node fires every millisecond.)
  const reschedule = setInterval(
    () => void schedule(),
    timerDelay(Math.max(60_000, every * 5)),
  ).unref();
  const workers = [steps, expiry, scheduled, rebuild, reconcile];
  steps.on('failed', log(QUEUES.deploymentSteps));
  scheduled.on('failed', log(QUEUES.scheduledChanges));
  expiry.on('failed', log(QUEUES.approvalExpiry));
  rebuild.on('failed', log(QUEUES.rebuild));
  for (const [w, queue] of [
    [steps, QUEUES.deploymentSteps],
    [expiry, QUEUES.approvalExpiry],
    [rebuild, QUEUES.rebuild],
  ] as const) {
    (w as Worker).on('completed', (job: Job, result: unknown) =>
      s.logger.info(
        {
          queue,
          job: job.id,
          data: job.data,
          result,
          ms: (job.finishedOn ?? 0) - (job.processedOn ?? 0),
        },
        'job done',
      ),
    );
  }
  reconcile.on('failed', log(QUEUES.reconcile));
  const workerError = throttledErrorLog((f, m) => s.logger.error(f, m), 'worker error');
  for (const w of workers) w.on('error', workerError);

  const scheduler = new PostgresProjectionRunner(s.pool, s.store, jobScheduler(queues), {
    idleWaitMs: options.idleWaitMs ?? 1000,
    onError: (err) => s.logger.error({ err }, 'job scheduler failed; retrying from checkpoint'),
    onAlive: (name) => s.heartbeats.alive(projectionComponent(name)),
  });
  // Alive while its workers run: a worker that died (or never started) shows in readiness.
  s.heartbeats.keepAlive(WORKER_COMPONENT, () => workers.every((w) => w.isRunning()));
  const controller = new AbortController();
  const schedulerRun = scheduler.run(controller.signal);
  const webhooks = startWebhookDelivery(s, queues.webhookDeliveries, options);
  const checkpoints = startCheckpointSigning(s);

  return {
    queues: Object.values(QUEUES),
    async close(graceMs?: number) {
      controller.abort();
      // The webhook worker closes alongside (its dispatcher's loop ends once the queues are cut).
      const webhooksClosed = webhooks.close(graceMs);
      clearInterval(reschedule);
      checkpoints.stop();
      // Workers and queues close together (each may wait a second or two for an unreachable
      // Redis). Cutting the queues' connections also fails a scheduling add waiting for Redis,
      // so the scheduler's loop (already told to stop) ends.
      await Promise.all([...workers.map((w) => closeBull(w, graceMs)), queues.close()]);
      await webhooksClosed;
      await schedulerRun;
      await projector.stop();
    },
  };
}
