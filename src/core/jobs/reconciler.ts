/**
 * The job reconciler: a repeatable BullMQ job (every ConfigService__JobReconcileInterval) that
 * makes sure every running canary has its next step job, every pending change request (and change
 * set) its expiry job, every pending scheduled change its job and every open webhook delivery its job (and prunes the delivery log). The scheduler adds each job once, when it sees the event; a job lost afterwards (a
 * Redis restarted without AOF, "Clean" in the dashboard, a job that failed for good) would leave
 * a deployment stuck in its step or a request pending forever. The reconciler lists them from
 * the read model and, for a canary, reads its stream for the event that started the current bake:
 * the job it adds has the scheduler's own id and time, so a job that exists is never doubled, and
 * a job that runs twice changes nothing (every decision checks the state).
 */
import type { Job, Queue } from 'bullmq';
import type { Services } from '../../composition.js';
import { deploymentStream } from '../streams.js';
import {
  changeSetExpiryJobFor,
  expiryJobFor,
  scheduledChangeJobFor,
  stepJobFor,
  type PlannedJob,
} from './scheduler.js';
import type { Queues } from './queues.js';
import {
  pruneDeliveries,
  reconcileDeliveries,
} from '../../features/webhooks/webhooks.reconcile.js';

export const RECONCILER_SCHEDULER_ID = 'reconcile-jobs';

export interface ReconcileResult {
  /** Running canaries and pending change requests looked at. */
  checked: number;
  /** Jobs added again (lost) or retried (failed for good). */
  recreated: string[];
  /** Finished webhook deliveries deleted from the log (older than the retention). */
  pruned: number;
}

/** Adds the job unless it is there; retries it if it failed for good. */
async function ensure<T>(
  queue: Queue<T>,
  job: PlannedJob<T>,
): Promise<'added' | 'retried' | undefined> {
  const existing = (await queue.getJob(job.opts.jobId)) as Job<T> | undefined;
  if (!existing) {
    await (queue as Queue).add(job.name, job.data, job.opts);
    return 'added';
  }
  if ((await existing.getState()) === 'failed') {
    await existing.retry('failed');
    return 'retried';
  }
  return undefined;
}

export async function reconcileJobs(
  s: Pick<Services, 'pool' | 'store' | 'settings'>,
  queues: Queues,
): Promise<ReconcileResult> {
  const recreated: string[] = [];
  let checked = 0;
  const { rows: canaries } = await s.pool.query<{ deployment_id: string }>(
    `SELECT deployment_id FROM deployments WHERE status = 'InProgress' AND strategy = 'Canary'`,
  );
  for (const { deployment_id: id } of canaries) {
    const { events } = await s.store.readStream(deploymentStream(id));
    // The newest event that started a bake; none after it ended the deployment or paused it
    // (the read model may lag the stream: the stream has the last word).
    let job: ReturnType<typeof stepJobFor>;
    for (const e of events) {
      if (['DeploymentPaused', 'DeploymentCompleted', 'DeploymentRolledBack'].includes(e.type)) {
        job = undefined;
      } else {
        job = stepJobFor(e) ?? job;
      }
    }
    checked++;
    if (job && (await ensure(queues.steps, job))) recreated.push(job.opts.jobId);
  }
  const { rows: pending } = await s.pool.query<{ approval_id: string; expires_at: Date }>(
    `SELECT approval_id, expires_at FROM approval_requests WHERE status = 'Pending'`,
  );
  for (const { approval_id: id, expires_at: expiresAt } of pending) {
    checked++;
    const job = expiryJobFor(id, expiresAt);
    if (await ensure(queues.expiry, job)) recreated.push(job.opts.jobId);
  }
  const { rows: sets } = await s.pool.query<{
    tenant_id: string;
    change_set_id: string;
    expires_at: Date;
  }>(`SELECT tenant_id, change_set_id, expires_at FROM change_sets WHERE status = 'Pending'`);
  for (const r of sets) {
    checked++;
    const job = changeSetExpiryJobFor(r.tenant_id, r.change_set_id, r.expires_at);
    if (await ensure(queues.expiry, job)) recreated.push(job.opts.jobId);
  }
  const { rows: scheduled } = await s.pool.query<{
    tenant_id: string;
    schedule_id: string;
    apply_at: Date;
  }>(`SELECT tenant_id, schedule_id, apply_at FROM scheduled_changes WHERE status = 'Pending'`);
  for (const r of scheduled) {
    checked++;
    const job = scheduledChangeJobFor(r.tenant_id, r.schedule_id, r.apply_at);
    if (await ensure(queues.scheduledChanges, job)) recreated.push(job.opts.jobId);
  }
  const { retryScheduleMs, deliveryRetentionMs } = s.settings.webhooks;
  recreated.push(...(await reconcileDeliveries(s.pool, queues.webhookDeliveries, retryScheduleMs)));
  const pruned = await pruneDeliveries(s.pool, deliveryRetentionMs);
  return { checked, recreated, pruned };
}

/**
 * Registers the repeatable job unless it is there with this interval (the worker asks at start
 * and now and then: a Redis that lost its data lost it too). Its first run is one interval
 * after, not at once: right after a start the scheduler is adding the jobs itself.
 */
export async function scheduleReconciler(queues: Queues, everyMs: number): Promise<void> {
  const existing = await queues.reconcile.getJobScheduler(RECONCILER_SCHEDULER_ID);
  if (existing?.every === everyMs) return;
  await queues.reconcile.upsertJobScheduler(
    RECONCILER_SCHEDULER_ID,
    { every: everyMs, startDate: Date.now() + everyMs },
    { name: 'reconcile', data: {} },
  );
}
