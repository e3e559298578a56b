/** Read-model rows of change request streams: approval_requests (everything its view shows). */
import type pg from 'pg';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { eventTime, utc, type ReadModelPart } from '../../core/projections/projection.js';
import { APPROVAL_PREFIX } from '../../core/streams.js';
import type { ApprovalEvent } from './change-request.decider.js';

/** An approval_requests row made in this batch, kept until the batch's end (`finish`). */
interface NewRow {
  approval_id: string;
  config_id: string;
  tenant_id: string;
  target_environment: string;
  proposed_value: string | null;
  current_value: string | null;
  change_description: string | null;
  requested_by: string;
  status: string;
  required_approval_level: number;
  current_approval_level: number;
  approvers: { userId: string; comments: string | null; at: string }[];
  created_at: string;
  expires_at: string | null;
  resolved_at: string | null;
  resolved_by: string | null;
  resolved_comments: string | null;
  deployment_id: string | null;
  config_key: string;
  is_sensitive: boolean;
  action: string;
  config_type: string | null;
  base_version: number | null;
  rollout: string;
  new_config: string | null;
  apply_at: string | null;
  schedule_id: string | null;
}

/**
 * A change request's life (requested, approvals, resolution) mostly falls in one batch of a
 * rebuild: such rows are built here and inserted together at the batch's end, one statement for
 * the batch instead of one per event. Nothing else in a read-model batch reads or references
 * approval_requests; requests made in earlier batches are updated in SQL as they come.
 */
const newRows = new WeakMap<pg.PoolClient, Map<string, NewRow>>();

const COLUMNS: [keyof NewRow, string][] = [
  ['approval_id', 'text'],
  ['config_id', 'text'],
  ['tenant_id', 'text'],
  ['target_environment', 'text'],
  ['proposed_value', 'text'],
  ['current_value', 'text'],
  ['change_description', 'text'],
  ['requested_by', 'text'],
  ['status', 'text'],
  ['required_approval_level', 'int'],
  ['current_approval_level', 'int'],
  ['approvers', 'jsonb'],
  ['created_at', 'timestamp'],
  ['expires_at', 'timestamp'],
  ['resolved_at', 'timestamp'],
  ['resolved_by', 'text'],
  ['resolved_comments', 'text'],
  ['deployment_id', 'text'],
  ['config_key', 'text'],
  ['is_sensitive', 'boolean'],
  ['action', 'text'],
  ['config_type', 'text'],
  ['base_version', 'int'],
  ['rollout', 'jsonb'],
  ['new_config', 'jsonb'],
  ['apply_at', 'timestamp'],
  ['schedule_id', 'text'],
];

async function insertNewRows(client: pg.PoolClient) {
  const rows = [...(newRows.get(client)?.values() ?? [])];
  newRows.delete(client);
  if (!rows.length) return;
  await client.query(
    `INSERT INTO approval_requests (${COLUMNS.map(([c]) => c).join(', ')})
     SELECT * FROM unnest(${COLUMNS.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')})`,
    COLUMNS.map(([c]) => rows.map((r) => (c === 'approvers' ? JSON.stringify(r.approvers) : r[c]))),
  );
}

async function applyApproval(client: pg.PoolClient, e: RecordedEvent, event: ApprovalEvent) {
  const at = eventTime(e);
  const id = event.data.approvalId;
  const made = newRows.get(client)?.get(id);
  if (made) return changeNewRow(made, event, at);
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
      let rows = newRows.get(client);
      if (!rows) newRows.set(client, (rows = new Map()));
      rows.set(id, {
        approval_id: id,
        config_id: d.configId,
        tenant_id: d.tenantId,
        target_environment: d.environment,
        proposed_value: d.proposedValue,
        current_value: d.currentValue,
        change_description: d.description,
        requested_by: d.requestedBy,
        status: 'Pending',
        required_approval_level: d.requiredApprovals,
        current_approval_level: 0,
        approvers: [],
        created_at: at,
        expires_at: utc(d.expiresAt),
        resolved_at: null,
        resolved_by: null,
        resolved_comments: null,
        deployment_id: null,
        config_key: d.key,
        is_sensitive: d.isSensitive,
        action: d.action ?? 'Update',
        config_type: d.type,
        base_version: d.baseVersion,
        rollout: JSON.stringify(d.rollout),
        new_config: d.newConfig === null ? null : JSON.stringify(d.newConfig),
        apply_at: d.applyAt ? utc(d.applyAt) : null,
        schedule_id: null,
      });
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

/** The same changes as the SQL above, to a row not written yet. */
function changeNewRow(row: NewRow, event: ApprovalEvent, at: string): void {
  const resolve = (status: string, by: string | null, comments: string | null) => {
    row.status = status;
    row.resolved_at = at;
    row.resolved_by = by;
    row.resolved_comments = comments ?? row.resolved_comments;
  };
  switch (event.type) {
    case 'ApprovalRequested':
      return; // ids are unique: a second request is a new stream
    case 'ApprovalGranted':
      row.current_approval_level = event.data.level;
      row.approvers.push({
        userId: event.data.approver,
        // As jsonb_build_object writes them: a missing comment is null, not left out.
        comments: event.data.comments ?? null,
        at: event.data.at,
      });
      return;
    case 'ApprovalApproved':
      resolve('Approved', event.data.approvedBy, null);
      row.deployment_id = event.data.deploymentId;
      row.schedule_id = event.data.scheduleId ?? null;
      return;
    case 'ApprovalRejected':
      return resolve('Rejected', event.data.rejectedBy, event.data.comments);
    case 'ApprovalCancelled':
      return resolve('Cancelled', event.data.cancelledBy, event.data.comments);
    case 'ApprovalExpired':
      return resolve('Expired', null, null);
  }
}

export const changeRequestsReadModel: ReadModelPart = {
  streamPrefix: APPROVAL_PREFIX,
  tables: ['approval_requests'],
  apply: (client, e) => applyApproval(client, e, e as unknown as ApprovalEvent),
  finish: insertNewRows,
};
