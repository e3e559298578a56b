/**
 * BullMQ queues: names, connections and deterministic job ids, in one place. A job id names the
 * event that asked for the job, so scheduling the same thing twice adds one job.
 */
import { Queue, type ConnectionOptions, type JobsOptions, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { withTimeout } from '../timeout.js';
import { closeRedis } from '../redis/redis.js';
import type { Settings } from '../settings/settings.js';

export const QUEUES = {
  deploymentSteps: 'deployment-steps',
  approvalExpiry: 'approval-expiry',
  rebuild: 'projection-rebuild',
  webhookDeliveries: 'webhook-deliveries',
  scheduledChanges: 'scheduled-changes',
  reconcile: 'job-reconciler',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export function bullConnection(settings: Settings): ConnectionOptions {
  // BullMQ's blocking commands need maxRetriesPerRequest: null. Reconnect within 2 s (BullMQ's
  // own back-off grows to 20 s: work waited that long after Redis came back, and so did shutdown).
  return {
    ...settings.redisQueue,
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(times * 50, 2000),
  } as ConnectionOptions;
}

export const bullPrefix = (settings: Settings) => `${settings.redisKeyPrefix}bull`;

/**
 * Kept a day after they finish, so that a re-added id within a day is still a duplicate. Retried
 * for about an hour (exponential from 1 s): the scheduler does not add a job twice, so a step or
 * an expiry must outlast a database or Redis outage rather than give up after seconds.
 */
export const JOB_DEFAULTS: JobsOptions = {
  attempts: 13,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 86_400, count: 10_000 },
  removeOnFail: { age: 7 * 86_400 },
};

/** The trace of the event that asked for a job: the job's span links to it. */
export interface Cause {
  traceId?: string;
  spanId?: string;
}

export interface StepJob {
  deploymentId: string;
  stepIndex: number;
  /** The bake the job ends (absent on jobs scheduled from older events). */
  bake?: number;
  cause?: Cause;
}
/** A change request's expiry, or a change set's (a set awaiting approval expires alike). */
export type ExpiryJob =
  { approvalId: string; cause?: Cause } | { changeSetId: string; tenantId: string; cause?: Cause };
export interface DeliveryJob {
  deliveryId: string;
}
export interface ScheduledChangeJob {
  tenantId: string;
  scheduleId: string;
  cause?: Cause;
}
export interface RebuildJob {
  projections: string[];
}

// BullMQ job ids may not contain ':'.
export const stepJobId = (deploymentId: string, stepIndex: number, revision: bigint) =>
  `step-${deploymentId}-${stepIndex}-r${revision}`;
/** `apr_…` or `cs_…`: the two kinds of id never collide. */
export const expiryJobId = (approvalOrChangeSetId: string) => `expire-${approvalOrChangeSetId}`;
export const scheduledChangeJobId = (scheduleId: string) => `apply-${scheduleId}`;

const STATES = ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'] as const;

/** Jobs per queue and state, for the bullmq_queue_jobs gauge. */
export async function queueCounts(queues: Queues) {
  const out: { queue: string; state: string; count: number }[] = [];
  for (const q of queues.all) {
    const counts = await q.getJobCounts(...STATES);
    for (const state of STATES) out.push({ queue: q.name, state, count: counts[state] ?? 0 });
  }
  return out;
}

export class Queues {
  readonly steps: Queue<StepJob>;
  readonly expiry: Queue<ExpiryJob>;
  readonly rebuild: Queue<RebuildJob>;
  readonly webhookDeliveries: Queue<DeliveryJob>;
  readonly scheduledChanges: Queue<ScheduledChangeJob>;
  readonly reconcile: Queue;

  constructor(settings: Settings) {
    const options = {
      connection: bullConnection(settings),
      prefix: bullPrefix(settings),
      defaultJobOptions: JOB_DEFAULTS,
    };
    this.steps = new Queue<StepJob>(QUEUES.deploymentSteps, options);
    this.expiry = new Queue<ExpiryJob>(QUEUES.approvalExpiry, options);
    this.rebuild = new Queue<RebuildJob>(QUEUES.rebuild, options);
    this.scheduledChanges = new Queue<ScheduledChangeJob>(QUEUES.scheduledChanges, options);
    // Retried on the webhook schedule (the worker's backoff strategy), kept a week for the log.
    this.webhookDeliveries = new Queue<DeliveryJob>(QUEUES.webhookDeliveries, {
      ...options,
      defaultJobOptions: {
        attempts: settings.webhooks.retryScheduleMs.length + 1,
        backoff: { type: 'webhook' },
        removeOnComplete: { age: 7 * 86_400 },
        removeOnFail: { age: 7 * 86_400 },
      },
    });
    // Repeats every few seconds: keep only the last runs.
    this.reconcile = new Queue(QUEUES.reconcile, {
      ...options,
      defaultJobOptions: { removeOnComplete: 100, removeOnFail: 100 },
    });
    for (const q of this.all) q.on('error', () => undefined);
  }

  get all(): Queue[] {
    return [
      this.steps,
      this.expiry,
      this.rebuild,
      this.webhookDeliveries,
      this.scheduledChanges,
      this.reconcile,
    ] as Queue[];
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((q) => closeBull(q)));
  }
}

/**
 * Closes a BullMQ queue or worker so that it always ends. While its Redis answers: politely (a
 * worker lets its running jobs finish, for `graceMs` at most; one cut short is picked up again
 * by another worker as stalled). While Redis is unreachable, BullMQ's QUIT would wait for it
 * forever: the connection is cut instead, which also fails the commands waiting on it.
 */
export async function closeBull(q: Queue | Worker, graceMs = 10_000): Promise<void> {
  const client = await withTimeout(q.getBackend().client, 1000).catch(() => undefined);
  if (!client) {
    // Never ready (Redis not reached yet): BullMQ hands no client out to cut, and without a
    // close its connections go on reconnecting, so a "closed" worker would connect and take
    // jobs whenever Redis came up. BullMQ's own close stops a connection that never became ready
    // at once (commands queued on it stay pending: the scheduler's adds are abandoned by
    // unlessAborted).
    await withTimeout(q.close(), 1000).catch(() => undefined);
    return;
  }
  if (client.status === 'ready') {
    const closed = await withTimeout(q.close(), graceMs).then(
      () => true,
      () => false,
    );
    if (closed) return;
  }
  // BullMQ's disconnect() leaves a client that waits to reconnect as it is, its queued commands
  // (a job add, say) waiting forever: end every connection of its own (closeRedis), the
  // worker's blocking one too.
  const blocking = await withTimeout(
    q.getBackend().blockingClient ?? Promise.resolve(undefined),
    1000,
  ).catch(() => undefined);
  await Promise.all(
    [client, blocking].map(
      (c) => c && closeRedis(c as unknown as Redis, 3000).catch(() => undefined),
    ),
  );
  await withTimeout(q.disconnect(), 1000).catch(() => undefined);
}

/**
 * A job add that fails once `signal` aborts. BullMQ holds a command for a connection that never
 * became ready until Redis answers, and closing the queue does not fail it, so a shutdown waited
 * forever for the job scheduler's batch (and its PostgreSQL connection) stuck in such an add.
 * Failing it rolls the batch back; its events are read again from the checkpoint next time and
 * the job added then (same id: added once).
 */
export function unlessAborted<T>(add: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return add;
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error('job add abandoned: shutting down'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([add, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

/**
 * While Redis is away a worker reports every reconnection attempt: log the first, then one line
 * per 30 s saying how many more there were. One logger for several workers counts them together.
 */
export function throttledErrorLog(log: (fields: object, msg: string) => void, msg: string) {
  let lastLogged = 0;
  let repeats = 0;
  return (err: Error) => {
    if (Date.now() - lastLogged < 30_000) return void repeats++;
    log({ err, repeats }, msg);
    lastLogged = Date.now();
    repeats = 0;
  };
}
