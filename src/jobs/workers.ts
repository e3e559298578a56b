/**
 * The worker process's BullMQ workers (npm run start:worker): deployment steps, change-request
 * expiry, projection rebuilds, and the scheduler that turns events into those jobs.
 */
import { Worker, type Job } from 'bullmq';
import type { Services } from '../composition.js';
import { createProjector } from '../composition.js';
import { rebuildProjections, type RebuildProgress } from '../../projections/rebuild.js';
import { PostgresProjectionRunner } from '../../projections/runner.js';
import type { CommandContext } from '../application/command-handling.js';
import {
  QUEUES,
  Queues,
  queueCounts,
  bullConnection,
  bullPrefix,
  type Cause,
  type ExpiryJob,
  type RebuildJob,
  type StepJob,
} from './queues.js';
import { jobScheduler } from './scheduler.js';
import { activeSpanContext, inSpan, linksTo } from '../infrastructure/trace-context.js';

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
        const result = await s.workflow.advance(
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
        const result = await s.workflow.expire(job.data.approvalId, systemContext(job));
        return { expired: result.position !== undefined };
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
  const workers = [steps, expiry, rebuild];
  steps.on('failed', log(QUEUES.deploymentSteps));
  expiry.on('failed', log(QUEUES.approvalExpiry));
  rebuild.on('failed', log(QUEUES.rebuild));
  for (const w of workers) w.on('error', (err) => s.logger.error({ err }, 'worker error'));

  const scheduler = new PostgresProjectionRunner(s.pool, s.store, jobScheduler(queues), {
    idleWaitMs: options.idleWaitMs ?? 1000,
    onError: (err) => s.logger.error({ err }, 'job scheduler failed; retrying from checkpoint'),
  });
  const controller = new AbortController();
  const schedulerRun = scheduler.run(controller.signal);

  return {
    queues: Object.values(QUEUES),
    async close() {
      controller.abort();
      await schedulerRun;
      await Promise.all(workers.map((w) => w.close()));
      await queues.close();
      await projector.stop();
    },
  };
}
