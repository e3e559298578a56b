/** Read-model rows of scheduled change streams: scheduled_changes. */
import type pg from 'pg';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { eventTime, utc, type ReadModelPart } from '../../core/projections/projection.js';
import { SCHEDULE_PREFIX } from '../../core/streams.js';
import type { ScheduledChangeEvent } from './scheduled-change.decider.js';

async function applySchedule(client: pg.PoolClient, e: RecordedEvent, event: ScheduledChangeEvent) {
  const at = eventTime(e);
  const by = e.metadata.userId ?? null;
  switch (event.type) {
    case 'ChangeScheduled': {
      const d = event.data;
      await client.query(
        `INSERT INTO scheduled_changes (schedule_id, tenant_id, config_id, config_key, environment,
                     config_type, value, is_sensitive, base_version, apply_at, change_description,
                     status, requested_by, created_at, approval_id, action)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'Pending', $12, $13, $14, $15)
         ON CONFLICT (schedule_id) DO NOTHING`,
        [
          d.scheduleId,
          d.tenantId,
          d.configId,
          d.key,
          d.environment,
          d.type,
          d.value,
          d.isSensitive,
          d.baseVersion,
          utc(d.applyAt),
          d.changeDescription,
          d.requestedBy,
          at,
          d.approvalId ?? null,
          d.action ?? 'Update',
        ],
      );
      return;
    }
    case 'ScheduledChangeApplied':
      await client.query(
        `UPDATE scheduled_changes SET status = 'Applied', applied_version = $2, resolved_at = $3,
                resolved_by = $4, deployment_id = $5 WHERE schedule_id = $1`,
        [event.data.scheduleId, event.data.version, at, by, event.data.deploymentId ?? null],
      );
      return;
    case 'ScheduledChangeCancelled':
      await client.query(
        `UPDATE scheduled_changes SET status = 'Cancelled', resolved_at = $2, resolved_by = $3
          WHERE schedule_id = $1`,
        [event.data.scheduleId, at, event.data.cancelledBy],
      );
      return;
    case 'ScheduledChangeFailed':
      await client.query(
        `UPDATE scheduled_changes SET status = 'Failed', failure = $2, resolved_at = $3,
                resolved_by = $4 WHERE schedule_id = $1`,
        [event.data.scheduleId, event.data.reason, at, by],
      );
      return;
  }
}

export const scheduledChangesReadModel: ReadModelPart = {
  streamPrefix: SCHEDULE_PREFIX,
  tables: ['scheduled_changes'],
  apply: (client, e) => applySchedule(client, e, e as unknown as ScheduledChangeEvent),
};
