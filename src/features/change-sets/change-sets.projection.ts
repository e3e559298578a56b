/** Read-model rows of change set streams: change_sets (everything its view shows). */
import type pg from 'pg';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { eventTime, utc, type ReadModelPart } from '../../core/projections/projection.js';
import { CHANGE_SET_PREFIX } from '../../core/streams.js';
import type { ChangeSetEvent } from './change-set.decider.js';

async function applyChangeSet(client: pg.PoolClient, e: RecordedEvent, event: ChangeSetEvent) {
  const at = eventTime(e);
  const id = event.data.changeSetId;
  const resolve = (status: string, by: string | null, comments: string | null) =>
    client.query(
      `UPDATE change_sets SET status = $2, resolved_at = $3, resolved_by = $4,
              resolved_comments = COALESCE($5, resolved_comments)
        WHERE change_set_id = $1`,
      [id, status, at, by, comments],
    );
  switch (event.type) {
    case 'ChangeSetRequested': {
      const d = event.data;
      await client.query(
        `INSERT INTO change_sets (change_set_id, tenant_id, environment, source, from_environment,
                                  description, items, status, requested_by, required_approvals,
                                  created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'Pending', $8, $9, $10, $11)
         ON CONFLICT (change_set_id) DO NOTHING`,
        [
          id,
          d.tenantId,
          d.environment,
          d.source,
          d.fromEnvironment,
          d.description,
          JSON.stringify(d.items),
          d.requestedBy,
          d.requiredApprovals,
          at,
          utc(d.expiresAt),
        ],
      );
      return;
    }
    case 'ChangeSetApprovalGranted':
      await client.query(
        `UPDATE change_sets SET approvers = approvers || $2::jsonb WHERE change_set_id = $1`,
        [
          id,
          JSON.stringify([{ userId: event.data.approver, comments: event.data.comments, at: at }]),
        ],
      );
      return;
    case 'ChangeSetApplied':
      return void (await resolve('Applied', event.data.appliedBy, null));
    case 'ChangeSetRejected':
      return void (await resolve('Rejected', event.data.rejectedBy, event.data.comments));
    case 'ChangeSetCancelled':
      return void (await resolve('Cancelled', event.data.cancelledBy, event.data.comments));
    case 'ChangeSetExpired':
      return void (await resolve('Expired', null, null));
  }
}

export const changeSetsReadModel: ReadModelPart = {
  streamPrefix: CHANGE_SET_PREFIX,
  tables: ['change_sets'],
  apply: (client, e) => applyChangeSet(client, e, e as unknown as ChangeSetEvent),
};
