/**
 * Healing and housekeeping of webhook deliveries, run by the job reconciler. The dispatcher adds
 * a delivery's job once, before its batch commits; a job lost later (Redis restarted without
 * AOF, a "Clean" in the dashboard) would leave its delivery Pending or Retrying forever. Each
 * open delivery gets its job back, with the same id (an existing job is never doubled) and only
 * the attempts it has left, after the wait its retry schedule still owes. Finished deliveries
 * older than the retention are deleted from the log.
 */
import type { Job, Queue } from 'bullmq';
import type pg from 'pg';
import type { DeliveryJob } from '../../core/jobs/queues.js';

interface OpenDelivery {
  delivery_id: string;
  attempts: number;
  last_attempt_at: Date | null;
}

/** Re-adds the job of each open delivery whose job is gone; retries one failed for good. */
export async function reconcileDeliveries(
  pool: pg.Pool,
  queue: Queue<DeliveryJob>,
  retryScheduleMs: readonly number[],
  now = Date.now(),
): Promise<string[]> {
  const { rows } = await pool.query<OpenDelivery>(
    `SELECT delivery_id, attempts, last_attempt_at FROM webhook_deliveries
      WHERE status IN ('Pending', 'Retrying')`,
  );
  const healed: string[] = [];
  for (const d of rows) {
    const existing = (await queue.getJob(d.delivery_id)) as Job<DeliveryJob> | undefined;
    if (existing) {
      if ((await existing.getState()) === 'failed') {
        await existing.retry('failed');
        healed.push(d.delivery_id);
      }
      continue;
    }
    const total = retryScheduleMs.length + 1;
    const owed = d.attempts > 0 ? (retryScheduleMs[d.attempts - 1] ?? 0) : 0;
    const since = d.last_attempt_at ? now - d.last_attempt_at.getTime() : owed;
    await queue.add(
      'deliver',
      { deliveryId: d.delivery_id },
      {
        jobId: d.delivery_id,
        attempts: Math.max(1, total - d.attempts),
        delay: Math.max(0, owed - since),
      },
    );
    healed.push(d.delivery_id);
  }
  return healed;
}

/** Deletes finished deliveries older than the retention, in bounded batches; returns how many. */
export async function pruneDeliveries(pool: pg.Pool, retentionMs: number): Promise<number> {
  let deleted = 0;
  for (;;) {
    const { rowCount } = await pool.query(
      `DELETE FROM webhook_deliveries WHERE delivery_id IN (
         SELECT delivery_id FROM webhook_deliveries
          WHERE status IN ('Delivered', 'Failed', 'Cancelled')
            AND COALESCE(last_attempt_at, created_at)
                < (now() AT TIME ZONE 'UTC') - $1 * interval '1 millisecond'
          LIMIT 5000)`,
      [retentionMs],
    );
    deleted += rowCount ?? 0;
    if ((rowCount ?? 0) < 5000) return deleted;
  }
}
