/**
 * The job scheduler: a reactor over the approval, change set, deployment and schedule streams
 * that turns events into delayed BullMQ jobs (step advances after each bake time, change-request
 * and change-set expiry, scheduled changes at their time). It runs like a
 * projection, with a checkpoint, so a scheduling event is never lost: after a crash it is read
 * again and re-adds a job with the same id, which BullMQ ignores. Jobs themselves are harmless
 * when they run twice or late (every append carries the expected revision).
 */
import type { RecordedEvent } from '../event-store/event-store.js';
import type { ApprovalEvent } from '../../features/change-requests/change-request.decider.js';
import type { DeploymentEvent } from '../../features/deployments/deployment.decider.js';
import type { ScheduledChangeEvent } from '../../features/scheduled-changes/scheduled-change.decider.js';
import type { ChangeSetEvent } from '../../features/change-sets/change-set.decider.js';
import {
  APPROVAL_PREFIX,
  CHANGE_SET_PREFIX,
  DEPLOYMENT_PREFIX,
  SCHEDULE_PREFIX,
} from '../streams.js';
import type { PostgresProjection } from '../projections/projection.js';
import type { Queue } from 'bullmq';
import {
  unlessAborted,
  expiryJobId,
  scheduledChangeJobId,
  stepJobId,
  type ScheduledChangeJob,
  type Cause,
  type ExpiryJob,
  type Queues,
  type StepJob,
} from './queues.js';

export const SCHEDULER_NAME = 'job-scheduler';

const causeOf = (e: RecordedEvent) => ({
  traceId: typeof e.metadata.traceId === 'string' ? e.metadata.traceId : undefined,
  spanId: typeof e.metadata.spanId === 'string' ? e.metadata.spanId : undefined,
});

/** A job to add: the queue's add() arguments. */
export interface PlannedJob<T> {
  name: string;
  data: T;
  opts: { jobId: string; delay: number };
}

/**
 * The step job an event asks for, if any: after the bake time of the step the deployment just
 * entered. The bake counts from when the step was decided (the event's own timestamp, which a
 * restore keeps), not from when the scheduler or the reconciler saw it. Shared by both, so they
 * agree on the job id and a job is never added twice.
 */
export function stepJobFor(
  e: RecordedEvent,
  now: () => number = Date.now,
): PlannedJob<StepJob> | undefined {
  const event = e as unknown as DeploymentEvent;
  let step: { stepIndex: number; bakeTimeSeconds: number; bake?: number } | undefined;
  if (event.type === 'DeploymentStarted' && event.data.strategy === 'Canary') {
    step = { stepIndex: 0, bakeTimeSeconds: event.data.bakeTimeSeconds, bake: 1 };
  } else if (event.type === 'DeploymentStepAdvanced' && event.data.canaryPercentage < 100) {
    step = event.data;
  } else if (event.type === 'DeploymentResumed') {
    step = event.data;
  }
  if (!step) return undefined;
  const decided = Date.parse(String(e.metadata.timestamp));
  const from = Number.isFinite(decided) ? decided : e.recordedAt.getTime();
  return {
    name: 'advance',
    data: {
      deploymentId: event.data.deploymentId,
      stepIndex: step.stepIndex,
      bake: step.bake,
      cause: causeOf(e),
    },
    opts: {
      jobId: stepJobId(event.data.deploymentId, step.stepIndex, e.revision),
      delay: Math.max(0, from + step.bakeTimeSeconds * 1000 - now()),
    },
  };
}

/** The expiry job of a change request, at its expiry time. */
export function expiryJobFor(
  approvalId: string,
  expiresAt: Date,
  cause?: Cause,
  now: () => number = Date.now,
): PlannedJob<ExpiryJob> {
  return {
    name: 'expire',
    data: { approvalId, ...(cause ? { cause } : {}) },
    opts: { jobId: expiryJobId(approvalId), delay: Math.max(0, expiresAt.getTime() - now()) },
  };
}

/** The expiry job of a change set awaiting approval, at its expiry time (same queue). */
export function changeSetExpiryJobFor(
  tenantId: string,
  changeSetId: string,
  expiresAt: Date,
  cause?: Cause,
  now: () => number = Date.now,
): PlannedJob<ExpiryJob> {
  return {
    name: 'expire-change-set',
    data: { changeSetId, tenantId, ...(cause ? { cause } : {}) },
    opts: { jobId: expiryJobId(changeSetId), delay: Math.max(0, expiresAt.getTime() - now()) },
  };
}

/** The job that applies a scheduled change, at its time. */
export function scheduledChangeJobFor(
  tenantId: string,
  scheduleId: string,
  applyAt: Date,
  cause?: Cause,
  now: () => number = Date.now,
): PlannedJob<ScheduledChangeJob> {
  return {
    name: 'apply',
    data: { tenantId, scheduleId, ...(cause ? { cause } : {}) },
    opts: {
      jobId: scheduledChangeJobId(scheduleId),
      delay: Math.max(0, applyAt.getTime() - now()),
    },
  };
}

export function jobScheduler(queues: Queues, now: () => number = Date.now): PostgresProjection {
  return {
    name: SCHEDULER_NAME,
    streamPrefixes: [APPROVAL_PREFIX, CHANGE_SET_PREFIX, DEPLOYMENT_PREFIX, SCHEDULE_PREFIX],
    tables: [],
    async apply(_client, events, signal) {
      // The runner's signal: a shutdown gives up an add waiting for Redis (see unlessAborted).
      const add = <T>(queue: Queue<T>, job: PlannedJob<T>) =>
        unlessAborted(queue.add(job.name as never, job.data as never, job.opts), signal);
      for (const e of events) {
        if (e.streamId.startsWith(DEPLOYMENT_PREFIX)) {
          const job = stepJobFor(e, now);
          if (job) await add(queues.steps, job);
        } else if (e.streamId.startsWith(SCHEDULE_PREFIX)) {
          const event = e as unknown as ScheduledChangeEvent;
          if (event.type === 'ChangeScheduled') {
            const job = scheduledChangeJobFor(
              event.data.tenantId,
              event.data.scheduleId,
              new Date(event.data.applyAt),
              causeOf(e),
              now,
            );
            await add(queues.scheduledChanges, job);
          }
        } else if (e.streamId.startsWith(CHANGE_SET_PREFIX)) {
          const event = e as unknown as ChangeSetEvent;
          // A set that needs no approval is applied in the same append: nothing to expire.
          if (event.type === 'ChangeSetRequested' && event.data.requiredApprovals > 0) {
            const job = changeSetExpiryJobFor(
              event.data.tenantId,
              event.data.changeSetId,
              new Date(event.data.expiresAt),
              causeOf(e),
              now,
            );
            await add(queues.expiry, job);
          }
        } else if (e.streamId.startsWith(APPROVAL_PREFIX)) {
          const event = e as unknown as ApprovalEvent;
          if (event.type === 'ApprovalRequested') {
            const job = expiryJobFor(
              event.data.approvalId,
              new Date(event.data.expiresAt),
              causeOf(e),
              now,
            );
            await add(queues.expiry, job);
          }
        }
      }
    },
  };
}
