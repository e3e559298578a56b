/** Read-model rows of change request streams: approval_requests (everything its view shows). */
import type pg from 'pg';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { eventTime, utc, type ReadModelPart } from '../../core/projections/projection.js';
import { APPROVAL_PREFIX } from '../../core/streams.js';
import type { ApprovalEvent } from './change-request.decider.js';

async function applyApproval(client: pg.PoolClient, e: RecordedEvent, event: ApprovalEvent) {
  const at = eventTime(e);
  const id = event.data.approvalId;
  const resolve = (status: string, by: string | null, comments: string | null) =>
    client.query(
      `UPDATE approval_requests SET status = $2, resolved_at = $3, resolved_by = $4,
              resolved_comments = COALESCE($5, resolved_comments)
        WHERE approval_id = $1`,
      [id, status, at, by, comments],
    );
  switch (event.type) {
    case 'ApprovalRequested': {
      const d = event.data;
      await client.query(
        `INSERT INTO approval_requests (approval_id, config_id, tenant_id, target_environment,
                     proposed_value, current_value, change_description, requested_by, status,
                     required_approval_level, current_approval_level, approvers, created_at,
                     expires_at, deployment_id, config_key, is_sensitive, action, config_type,
                     base_version, rollout, new_config, apply_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'Pending', $9, 0, '[]', $10, $11, NULL, $12, $13,
                 $14, $15, $16, $17, $18, $19)`,
        [
          id,
          d.configId,
          d.tenantId,
          d.environment,
          d.proposedValue,
          d.currentValue,
          d.description,
          d.requestedBy,
          d.requiredApprovals,
          at,
          utc(d.expiresAt),
          d.key,
          d.isSensitive,
          d.action ?? 'Update',
          d.type,
          d.baseVersion,
          JSON.stringify(d.rollout),
          d.newConfig === null ? null : JSON.stringify(d.newConfig),
          d.applyAt ? utc(d.applyAt) : null,
        ],
      );
      return;
    }
    case 'ApprovalGranted':
      await client.query(
        `UPDATE approval_requests SET current_approval_level = $2,
                approvers = approvers || jsonb_build_array(jsonb_build_object(
                  'userId', $3::text, 'comments', $4::text, 'at', $5::text))
          WHERE approval_id = $1`,
        [id, event.data.level, event.data.approver, event.data.comments, event.data.at],
      );
      return;
    case 'ApprovalApproved':
      await resolve('Approved', event.data.approvedBy, null);
      await client.query(
        'UPDATE approval_requests SET deployment_id = $2, schedule_id = $3 WHERE approval_id = $1',
        [id, event.data.deploymentId, event.data.scheduleId ?? null],
      );
      return;
    case 'ApprovalRejected':
      return void (await resolve('Rejected', event.data.rejectedBy, event.data.comments));
    case 'ApprovalCancelled':
      return void (await resolve('Cancelled', event.data.cancelledBy, event.data.comments));
    case 'ApprovalExpired':
      return void (await resolve('Expired', null, null));
  }
}

export const changeRequestsReadModel: ReadModelPart = {
  streamPrefix: APPROVAL_PREFIX,
  tables: ['approval_requests'],
  apply: (client, e) => applyApproval(client, e, e as unknown as ApprovalEvent),
};
