/**
 * The `blame` projection: value lineage. Config, approval and deployment events become the rows
 * that say, for each version, who made it (with IP and trace id) and through which change
 * request and deployment. Idempotent per event (keys include the position), so a batch applied
 * again changes nothing.
 */
import type pg from 'pg';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { eventTime, type PostgresProjection } from '../../core/projections/projection.js';
import { StatementBuffer } from '../../core/projections/statement-buffer.js';
import { APPROVAL_PREFIX, CONFIG_PREFIX, DEPLOYMENT_PREFIX } from '../../core/streams.js';
import type { ConfigurationEvent } from '../configs/config.decider.js';
import type { ApprovalEvent } from '../change-requests/change-request.decider.js';
import type { DeploymentEvent } from '../deployments/deployment.decider.js';

export const BLAME_PROJECTION = 'blame';

const CHANGE_TYPE: Record<string, string> = {
  ConfigurationCreated: 'Created',
  ConfigurationUpdated: 'Updated',
  ConfigurationRolledBack: 'RolledBack',
  ConfigurationDeleted: 'Deleted',
  ConfigurationRestored: 'Restored',
};

const DECISION: Record<string, string> = {
  ApprovalGranted: 'Granted',
  ApprovalApproved: 'Approved',
  ApprovalRejected: 'Rejected',
  ApprovalCancelled: 'Cancelled',
  ApprovalExpired: 'Expired',
};

const who = (e: RecordedEvent) => ({
  user: e.metadata.userId ?? 'system',
  ip: e.metadata.ipAddress ?? null,
  trace: e.metadata.traceId ?? null,
});

/**
 * A batch's blame_versions writes, one per (config, version), written together at its end: the
 * version row a config event gives (an upsert replacing every column but the deployment's: the
 * last one wins) and the deployment that delivered it (the last one wins). Applied in either
 * order the two give the same row, and nothing in the batch reads blame_versions, so two
 * set-based statements per batch give the rows one upsert per event gave.
 */
interface VersionWrites {
  /** [config_id, version, tenant_id, environment, key, change_type, value, is_sensitive,
   *  rolled_back_to, changed_by, ip_address, trace_id, changed_at, position] */
  row?: unknown[];
  /** [config_id, version, tenant_id, environment, key, deployment_id] */
  deployment?: unknown[];
}

type Versions = Map<string, VersionWrites>;

function versionWrites(versions: Versions, configId: string, version: number): VersionWrites {
  const id = `${configId}\0${version}`;
  let writes = versions.get(id);
  if (!writes) versions.set(id, (writes = {}));
  return writes;
}

const columns = (rows: unknown[][]) => rows[0]!.map((_, c) => rows.map((r) => r[c]));

async function writeVersions(client: pg.PoolClient, versions: Versions) {
  const all = [...versions.values()];
  const rows = all.flatMap((w) => (w.row ? [w.row] : []));
  if (rows.length) {
    await client.query(
      `INSERT INTO blame_versions (config_id, version, tenant_id, environment, key, change_type,
                                   value, is_sensitive, rolled_back_to, changed_by, ip_address,
                                   trace_id, changed_at, position)
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[],
                            $6::text[], $7::text[], $8::boolean[], $9::int[], $10::text[],
                            $11::text[], $12::text[], $13::timestamp[], $14::bigint[])
       ON CONFLICT (config_id, version) DO UPDATE SET
         tenant_id = EXCLUDED.tenant_id, environment = EXCLUDED.environment, key = EXCLUDED.key,
         change_type = EXCLUDED.change_type, value = EXCLUDED.value,
         is_sensitive = EXCLUDED.is_sensitive, rolled_back_to = EXCLUDED.rolled_back_to,
         changed_by = EXCLUDED.changed_by, ip_address = EXCLUDED.ip_address,
         trace_id = EXCLUDED.trace_id, changed_at = EXCLUDED.changed_at,
         position = EXCLUDED.position`,
      columns(rows),
    );
  }
  const deployments = all.flatMap((w) => (w.deployment ? [w.deployment] : []));
  if (deployments.length) {
    await client.query(
      `INSERT INTO blame_versions (config_id, version, tenant_id, environment, key, deployment_id)
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[],
                            $6::text[])
       ON CONFLICT (config_id, version) DO UPDATE SET deployment_id = EXCLUDED.deployment_id`,
      columns(deployments),
    );
  }
}

function applyConfig(versions: Versions, e: RecordedEvent) {
  const event = e as unknown as ConfigurationEvent;
  const change = CHANGE_TYPE[event.type];
  if (!change || !('version' in event.data)) return;
  const d = event.data;
  const w = who(e);
  versionWrites(versions, d.configId, d.version).row = [
    d.configId,
    d.version,
    d.tenantId,
    d.environment,
    d.key,
    change,
    d.value,
    d.isSensitive,
    event.type === 'ConfigurationRolledBack' ? event.data.toVersion : null,
    w.user,
    w.ip,
    w.trace,
    eventTime(e),
    e.position.toString(),
  ];
}

async function applyApproval(client: pg.PoolClient, e: RecordedEvent) {
  const event = e as unknown as ApprovalEvent;
  const w = who(e);
  if (event.type === 'ApprovalRequested') {
    const d = event.data;
    await client.query(
      `INSERT INTO blame_approvals (approval_id, config_id, action, proposed_value, is_sensitive,
                                    base_version, description, required_approvals, status,
                                    requested_by, requested_at, ip_address, trace_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'Pending', $9, $10, $11, $12)
       ON CONFLICT (approval_id) DO NOTHING`,
      [
        d.approvalId,
        d.configId,
        d.action ?? 'Update',
        d.proposedValue,
        d.isSensitive,
        d.baseVersion,
        d.description,
        d.requiredApprovals,
        d.requestedBy,
        eventTime(e),
        w.ip,
        w.trace,
      ],
    );
    return;
  }
  const decision = DECISION[event.type];
  if (!decision) return;
  const d = event.data as {
    approvalId: string;
    approver?: string;
    approvedBy?: string;
    rejectedBy?: string;
    cancelledBy?: string;
    comments?: string | null;
    level?: number;
  };
  const by = d.approver ?? d.approvedBy ?? d.rejectedBy ?? d.cancelledBy ?? w.user;
  await client.query(
    `INSERT INTO blame_approval_decisions (approval_id, position, decision, decided_by, comments,
                                           level, decided_at, ip_address, trace_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
    [
      d.approvalId,
      e.position.toString(),
      decision,
      by,
      d.comments ?? null,
      d.level ?? null,
      eventTime(e),
      w.ip,
      w.trace,
    ],
  );
  if (decision !== 'Granted') {
    await client.query('UPDATE blame_approvals SET status = $2 WHERE approval_id = $1', [
      d.approvalId,
      decision,
    ]);
  }
}

async function applyDeployment(client: pg.PoolClient, e: RecordedEvent, versions: Versions) {
  const event = e as unknown as DeploymentEvent;
  const w = who(e);
  const at = eventTime(e);
  const step = (stepIndex: number | null, percentage: number | null, by: string, details: object) =>
    client.query(
      `INSERT INTO blame_deployment_steps (deployment_id, position, event_type, step_index,
                                           percentage, by_user, at, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
      [
        event.data.deploymentId,
        e.position.toString(),
        event.type,
        stepIndex,
        percentage,
        by,
        at,
        JSON.stringify(details),
      ],
    );
  switch (event.type) {
    case 'DeploymentStarted': {
      const d = event.data;
      await client.query(
        `INSERT INTO blame_deployments (deployment_id, config_id, approval_id, base_version,
                                        strategy, plan, started_by, started_at, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'InProgress')
         ON CONFLICT (deployment_id) DO NOTHING`,
        [
          d.deploymentId,
          d.configId,
          d.approvalId,
          d.baseVersion,
          d.strategy,
          JSON.stringify({
            steps: d.steps,
            bakeTimeSeconds: d.bakeTimeSeconds,
            errorThreshold: d.errorThreshold,
            minRequests: d.minRequests,
            ...(d.minAppliedInstances ? { minAppliedInstances: d.minAppliedInstances } : {}),
          }),
          d.deployedBy,
          at,
        ],
      );
      await step(0, d.steps[0] ?? 100, d.deployedBy, {
        bakeTimeSeconds: d.bakeTimeSeconds,
        ipAddress: w.ip,
        traceId: w.trace,
      });
      return;
    }
    case 'DeploymentStepAdvanced':
      await step(event.data.stepIndex, event.data.canaryPercentage, w.user, {
        bakeTimeSeconds: event.data.bakeTimeSeconds,
        ...(event.data.acknowledgements ? { acknowledgements: event.data.acknowledgements } : {}),
      });
      return;
    case 'DeploymentStepHeld': {
      const { stepIndex, applied, rejected, required } = event.data;
      await step(stepIndex, null, w.user, { applied, rejected, required });
      return;
    }
    case 'DeploymentMetricsReported': {
      const d = event.data;
      await client.query(
        `INSERT INTO blame_step_metrics (deployment_id, step_index, side, requests, errors)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (deployment_id, step_index, side) DO UPDATE SET
           requests = blame_step_metrics.requests + EXCLUDED.requests,
           errors = blame_step_metrics.errors + EXCLUDED.errors`,
        [d.deploymentId, d.stepIndex, d.side, d.requests, d.errors],
      );
      return;
    }
    case 'DeploymentPaused':
    case 'DeploymentResumed':
      await step(null, null, event.data.by, {});
      await client.query('UPDATE blame_deployments SET status = $2 WHERE deployment_id = $1', [
        event.data.deploymentId,
        event.type === 'DeploymentPaused' ? 'Paused' : 'InProgress',
      ]);
      return;
    case 'DeploymentCompleted':
      await step(null, 100, w.user, { promoted: event.data.promoted });
      await client.query(
        `UPDATE blame_deployments SET status = 'Completed', version = $2, ended_at = $3
          WHERE deployment_id = $1`,
        [event.data.deploymentId, event.data.version, at],
      );
      versionWrites(versions, event.data.configId, event.data.version).deployment = [
        event.data.configId,
        event.data.version,
        event.data.tenantId,
        event.data.environment,
        event.data.key,
        event.data.deploymentId,
      ];
      return;
    case 'DeploymentRolledBack':
      await step(null, null, w.user, {
        reason: event.data.reason,
        automatic: event.data.automatic,
        errorRate: event.data.errorRate,
        ...(event.data.rejectionRate !== undefined
          ? { rejectionRate: event.data.rejectionRate }
          : {}),
        restoredVersion: event.data.restoredVersion,
      });
      await client.query(
        `UPDATE blame_deployments SET status = 'RolledBack', ended_at = $2, rollback_reason = $3,
                automatic = $4
          WHERE deployment_id = $1`,
        [event.data.deploymentId, at, event.data.reason, event.data.automatic],
      );
      return;
  }
}

export const blameProjection: PostgresProjection = {
  name: BLAME_PROJECTION,
  streamPrefixes: [CONFIG_PREFIX, APPROVAL_PREFIX, DEPLOYMENT_PREFIX],
  tables: [
    'blame_step_metrics',
    'blame_deployment_steps',
    'blame_deployments',
    'blame_approval_decisions',
    'blame_approvals',
    'blame_versions',
  ],
  async apply(target, events) {
    // Row by row, sent together (statement-buffer.ts).
    const buffer = new StatementBuffer(target);
    const client = buffer.client;
    const versions: Versions = new Map();
    for (const e of events) {
      if (e.streamId.startsWith(CONFIG_PREFIX)) applyConfig(versions, e);
      else if (e.streamId.startsWith(APPROVAL_PREFIX)) await applyApproval(client, e);
      else if (e.streamId.startsWith(DEPLOYMENT_PREFIX)) await applyDeployment(client, e, versions);
    }
    await writeVersions(client, versions);
    await buffer.flush();
  },
};
