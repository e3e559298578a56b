/**
 * The job scheduler: a reactor over the approval and deployment streams that turns events into
 * delayed BullMQ jobs (step advances after each bake time, change-request expiry). It runs like a
 * projection, with a checkpoint, so a scheduling event is never lost: after a crash it is read
 * again and re-adds a job with the same id, which BullMQ ignores. Jobs themselves are harmless
 * when they run twice or late (every append carries the expected revision).
 */
import type { RecordedEvent } from '../core/event-store/event-store.js';
import type { ApprovalEvent } from '../domain/approval.js';
import type { DeploymentEvent } from '../domain/deployment.js';
import { APPROVAL_PREFIX, DEPLOYMENT_PREFIX } from '../application/streams.js';
import type { PostgresProjection } from '../../projections/projection.js';
import { expiryJobId, stepJobId, type Queues } from './queues.js';

export const SCHEDULER_NAME = 'job-scheduler';

const causeOf = (e: RecordedEvent) => ({
  traceId: typeof e.metadata.traceId === 'string' ? e.metadata.traceId : undefined,
  spanId: typeof e.metadata.spanId === 'string' ? e.metadata.spanId : undefined,
});

export function jobScheduler(queues: Queues, now: () => number = Date.now): PostgresProjection {
  // The bake time counts from when the step was decided (the event's own timestamp, which a
  // restore keeps), not from when this reactor saw it or the store recorded it.
  const delayUntil = (e: RecordedEvent, ms: number) => {
    const decided = Date.parse(String(e.metadata.timestamp));
    const from = Number.isFinite(decided) ? decided : e.recordedAt.getTime();
    return Math.max(0, from + ms - now());
  };

  /** The next step job: after the bake time of the step the deployment just entered. */
  async function onDeployment(e: RecordedEvent, event: DeploymentEvent) {
    let step: { stepIndex: number; bakeTimeSeconds: number; bake?: number } | undefined;
    if (event.type === 'DeploymentStarted' && event.data.strategy === 'Canary') {
      step = { stepIndex: 0, bakeTimeSeconds: event.data.bakeTimeSeconds, bake: 1 };
    } else if (event.type === 'DeploymentStepAdvanced' && event.data.canaryPercentage < 100) {
      step = event.data;
    } else if (event.type === 'DeploymentResumed') {
      step = event.data;
    }
    if (!step) return;
    await queues.steps.add(
      'advance',
      {
        deploymentId: event.data.deploymentId,
        stepIndex: step.stepIndex,
        bake: step.bake,
        cause: causeOf(e),
      },
      {
        jobId: stepJobId(event.data.deploymentId, step.stepIndex, e.revision),
        delay: delayUntil(e, step.bakeTimeSeconds * 1000),
      },
    );
  }

  return {
    name: SCHEDULER_NAME,
    streamPrefixes: [APPROVAL_PREFIX, DEPLOYMENT_PREFIX],
    tables: [],
    async apply(_client, events) {
      for (const e of events) {
        if (e.streamId.startsWith(DEPLOYMENT_PREFIX)) {
          await onDeployment(e, e as unknown as DeploymentEvent);
        } else if (e.streamId.startsWith(APPROVAL_PREFIX)) {
          const event = e as unknown as ApprovalEvent;
          if (event.type === 'ApprovalRequested') {
            await queues.expiry.add(
              'expire',
              { approvalId: event.data.approvalId, cause: causeOf(e) },
              {
                jobId: expiryJobId(event.data.approvalId),
                delay: Math.max(0, Date.parse(event.data.expiresAt) - now()),
              },
            );
          }
        }
      }
    },
  };
}
