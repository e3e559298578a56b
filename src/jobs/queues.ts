/**
 * BullMQ queues: names, connections and deterministic job ids, in one place. A job id names the
 * event that asked for the job, so scheduling the same thing twice adds one job.
 */
import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { Settings } from '../config/settings.js';

export const QUEUES = {
  deploymentSteps: 'deployment-steps',
  approvalExpiry: 'approval-expiry',
  rebuild: 'projection-rebuild',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export function bullConnection(settings: Settings): ConnectionOptions {
  // BullMQ's blocking commands need maxRetriesPerRequest: null.
  return { ...settings.redisQueue, maxRetriesPerRequest: null } as ConnectionOptions;
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
export interface ExpiryJob {
  approvalId: string;
  cause?: Cause;
}
export interface RebuildJob {
  projections: string[];
}

// BullMQ job ids may not contain ':'.
export const stepJobId = (deploymentId: string, stepIndex: number, revision: bigint) =>
  `step-${deploymentId}-${stepIndex}-r${revision}`;
export const expiryJobId = (approvalId: string) => `expire-${approvalId}`;

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

  constructor(settings: Settings) {
    const options = {
      connection: bullConnection(settings),
      prefix: bullPrefix(settings),
      defaultJobOptions: JOB_DEFAULTS,
    };
    this.steps = new Queue<StepJob>(QUEUES.deploymentSteps, options);
    this.expiry = new Queue<ExpiryJob>(QUEUES.approvalExpiry, options);
    this.rebuild = new Queue<RebuildJob>(QUEUES.rebuild, options);
    for (const q of this.all) q.on('error', () => undefined);
  }

  get all(): Queue[] {
    return [this.steps, this.expiry, this.rebuild] as Queue[];
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((q) => q.close()));
  }
}
