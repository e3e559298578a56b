/**
 * The `read-model` projection: tables tenants, configurations, config_versions, approval_requests
 * and deployments. They reference each other (the spec's foreign keys), so one projection with one
 * checkpoint owns them all: a row can never arrive before the row it points to.
 */
import type pg from 'pg';
import type { RecordedEvent } from '../src/core/event-store/event-store.js';
import { isVersioned, type ConfigurationEvent } from '../src/domain/configuration.js';
import type { ApprovalEvent } from '../src/domain/approval.js';
import type { DeploymentEvent } from '../src/domain/deployment.js';
import type { TenantEvent } from '../src/domain/tenant.js';
import type { SchemaEvent } from '../src/domain/schema.js';
import {
  APPROVAL_PREFIX,
  CONFIG_PREFIX,
  DEPLOYMENT_PREFIX,
  TENANT_PREFIX,
  SCHEMA_PREFIX,
} from '../src/application/streams.js';
import { eventTime, utc, type PostgresProjection } from './projection.js';

const TENANT_COLUMNS: Record<string, string> = {
  name: 'name',
  tier: 'tier',
  status: 'status',
  maxConfigurations: 'max_configurations',
  maxEnvironments: 'max_environments',
  contactEmail: 'contact_email',
  metadata: 'metadata',
};

async function applyTenant(client: pg.PoolClient, e: RecordedEvent, event: TenantEvent) {
  const at = eventTime(e);
  switch (event.type) {
    case 'TenantCreated': {
      const d = event.data;
      await client.query(
        `INSERT INTO tenants (tenant_id, name, tier, status, max_configurations, max_environments,
                              contact_email, metadata, created_at, updated_at, last_position)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)`,
        [
          d.tenantId,
          d.name,
          d.tier,
          d.status,
          d.maxConfigurations,
          d.maxEnvironments,
          d.contactEmail,
          d.metadata === null ? null : JSON.stringify(d.metadata),
          at,
          e.position.toString(),
        ],
      );
      return;
    }
    case 'TenantUpdated': {
      const sets: string[] = [];
      const values: unknown[] = [event.data.tenantId, at, e.position.toString()];
      for (const [field, value] of Object.entries(event.data.changes)) {
        const column = TENANT_COLUMNS[field];
        if (!column) continue;
        values.push(field === 'metadata' && value !== null ? JSON.stringify(value) : value);
        sets.push(`${column} = $${values.length}`);
      }
      await client.query(
        `UPDATE tenants SET ${[...sets, 'updated_at = $2', 'last_position = $3'].join(', ')}
          WHERE tenant_id = $1`,
        values,
      );
      return;
    }
    case 'TenantDeleted':
      await client.query(
        `UPDATE tenants SET status = 'Deleted', deleted_at = $2, updated_at = $2, last_position = $3
          WHERE tenant_id = $1`,
        [event.data.tenantId, at, e.position.toString()],
      );
      return;
    case 'ApprovalPolicySet':
      await client.query(
        `INSERT INTO approval_policies (tenant_id, environment, required_approvals, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, environment) DO UPDATE SET
           required_approvals = EXCLUDED.required_approvals, updated_by = EXCLUDED.updated_by,
           updated_at = EXCLUDED.updated_at`,
        [
          event.data.tenantId,
          event.data.environment,
          event.data.requiredApprovals,
          e.metadata.userId ?? null,
          at,
        ],
      );
      return;
    default:
      // ConfigurationRegistered/Released are the tenant's own bookkeeping (quota, uniqueness).
      return;
  }
}

const CHANGE_TYPE: Record<string, string> = {
  ConfigurationCreated: 'Created',
  ConfigurationUpdated: 'Updated',
  ConfigurationRolledBack: 'RolledBack',
  ConfigurationDeleted: 'Deleted',
  ConfigurationRestored: 'Restored',
};

async function applyConfig(client: pg.PoolClient, e: RecordedEvent, event: ConfigurationEvent) {
  // A deployment holding or releasing the config is not a version; the deployments table shows it.
  if (!isVersioned(event)) return;
  const at = eventTime(e);
  const d = event.data;
  const user = e.metadata.userId ?? 'system';
  const pos = e.position.toString();
  switch (event.type) {
    case 'ConfigurationCreated': {
      const c = event.data;
      // A deleted key created again continues the same row (same config id).
      await client.query(
        `INSERT INTO configurations (config_id, tenant_id, key, value, type, environment, version,
                     description, tags, is_encrypted, is_sensitive, default_value, schema_id,
                     created_by, updated_by, created_at, updated_at, deleted_at, last_position,
                     ever_sensitive)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE, $10, $11, $12, $13, $13, $14, $14, NULL, $15,
                 $10)
         ON CONFLICT (config_id) DO UPDATE SET
           value = EXCLUDED.value, type = EXCLUDED.type, version = EXCLUDED.version,
           description = EXCLUDED.description, tags = EXCLUDED.tags,
           is_sensitive = EXCLUDED.is_sensitive, default_value = EXCLUDED.default_value,
           schema_id = EXCLUDED.schema_id, created_by = EXCLUDED.created_by,
           updated_by = EXCLUDED.updated_by, created_at = EXCLUDED.created_at,
           updated_at = EXCLUDED.updated_at, deleted_at = NULL,
           last_position = EXCLUDED.last_position,
           ever_sensitive = configurations.ever_sensitive OR EXCLUDED.is_sensitive`,
        [
          c.configId,
          c.tenantId,
          c.key,
          c.value,
          c.type,
          c.environment,
          c.version,
          c.description,
          c.tags,
          c.isSensitive,
          c.defaultValue,
          c.schemaId,
          user,
          at,
          pos,
        ],
      );
      break;
    }
    case 'ConfigurationUpdated': {
      const u = event.data;
      await client.query(
        `UPDATE configurations SET value = $2, version = $3, is_sensitive = $4,
                ever_sensitive = ever_sensitive OR $4,
                description = CASE WHEN $5::boolean THEN $6 ELSE description END,
                tags = COALESCE($7, tags), updated_by = $8, updated_at = $9, last_position = $10,
                schema_id = CASE WHEN $11::boolean THEN $12 ELSE schema_id END
          WHERE config_id = $1`,
        [
          u.configId,
          u.value,
          u.version,
          u.isSensitive,
          u.description !== undefined,
          u.description ?? null,
          u.tags ?? null,
          user,
          at,
          pos,
          u.schemaId !== undefined,
          u.schemaId ?? null,
        ],
      );
      break;
    }
    case 'ConfigurationRolledBack':
    case 'ConfigurationRestored':
      await client.query(
        `UPDATE configurations SET value = $2, version = $3, deleted_at = NULL, updated_by = $4,
                updated_at = $5, last_position = $6
          WHERE config_id = $1`,
        [d.configId, d.value, d.version, user, at, pos],
      );
      break;
    case 'ConfigurationDeleted':
      await client.query(
        `UPDATE configurations SET version = $2, deleted_at = $4, updated_by = $3, updated_at = $4,
                last_position = $5
          WHERE config_id = $1`,
        [d.configId, d.version, user, at, pos],
      );
      break;
  }
  await client.query(
    `INSERT INTO config_versions (version_id, config_id, version, value, previous_value, change_type,
                 change_description, changed_by, environment, ip_address, trace_id, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [
      e.id,
      d.configId,
      d.version,
      d.value,
      d.previousValue,
      CHANGE_TYPE[event.type],
      d.changeDescription,
      user,
      d.environment,
      e.metadata.ipAddress ?? null,
      e.metadata.traceId ?? null,
      at,
    ],
  );
}

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
                     expires_at, deployment_id, config_key, is_sensitive, action)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'Pending', $9, 0, '[]', $10, $11, NULL, $12, $13,
                 $14)`,
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
      await client.query('UPDATE approval_requests SET deployment_id = $2 WHERE approval_id = $1', [
        id,
        event.data.deploymentId,
      ]);
      return;
    case 'ApprovalRejected':
      return void (await resolve('Rejected', event.data.rejectedBy, event.data.comments));
    case 'ApprovalCancelled':
      return void (await resolve('Cancelled', event.data.cancelledBy, event.data.comments));
    case 'ApprovalExpired':
      return void (await resolve('Expired', null, null));
  }
}

type Counts = Record<'canary' | 'stable', { requests: number; errors: number }>;

interface DeploymentMetrics {
  stepIndex: number;
  current: Counts;
  totals: Counts;
  history: ({ stepIndex: number } & Counts)[];
}

const zeroCounts = (): Counts => ({
  canary: { requests: 0, errors: 0 },
  stable: { requests: 0, errors: 0 },
});

/** The metrics column: counts of the current step, totals, and each finished step. */
async function updateMetrics(
  client: pg.PoolClient,
  id: string,
  change: (m: DeploymentMetrics) => void,
) {
  const { rows } = await client.query<{ metrics: DeploymentMetrics }>(
    'SELECT metrics FROM deployments WHERE deployment_id = $1',
    [id],
  );
  if (!rows[0]) return;
  const metrics = rows[0].metrics;
  change(metrics);
  await client.query('UPDATE deployments SET metrics = $2 WHERE deployment_id = $1', [
    id,
    JSON.stringify(metrics),
  ]);
}

async function applyDeployment(client: pg.PoolClient, e: RecordedEvent, event: DeploymentEvent) {
  const at = eventTime(e);
  const id = event.data.deploymentId;
  switch (event.type) {
    case 'DeploymentStarted': {
      const d = event.data;
      const metrics = {
        steps: d.steps,
        bakeTimeSeconds: d.bakeTimeSeconds,
        errorThreshold: d.errorThreshold,
        minRequests: d.minRequests,
        approvalId: d.approvalId,
        stepIndex: 0,
        current: zeroCounts(),
        totals: zeroCounts(),
        history: [],
      };
      await client.query(
        `INSERT INTO deployments (deployment_id, config_id, tenant_id, environment, strategy, status,
                     value, previous_value, progress, canary_percentage, deployed_by, started_at,
                     metrics)
         VALUES ($1, $2, $3, $4, $5, 'InProgress', $6, $7, 0, $8, $9, $10, $11)`,
        [
          id,
          d.configId,
          d.tenantId,
          d.environment,
          d.strategy,
          d.value,
          d.previousValue,
          d.strategy === 'Canary' ? d.steps[0] : null,
          d.deployedBy,
          at,
          JSON.stringify(metrics),
        ],
      );
      return;
    }
    case 'DeploymentStepAdvanced': {
      const d = event.data;
      await client.query(
        'UPDATE deployments SET progress = $2, canary_percentage = $3 WHERE deployment_id = $1',
        [id, d.progress, d.canaryPercentage],
      );
      // Keep the finished step's counts in the history; the new step starts from zero.
      await updateMetrics(client, id, (m) => {
        m.history.push({ stepIndex: m.stepIndex, ...m.current });
        m.stepIndex = d.stepIndex;
        m.current = zeroCounts();
      });
      return;
    }
    case 'DeploymentMetricsReported': {
      const d = event.data;
      await updateMetrics(client, id, (m) => {
        for (const counts of d.stepIndex === m.stepIndex ? [m.current, m.totals] : [m.totals]) {
          counts[d.side].requests += d.requests;
          counts[d.side].errors += d.errors;
        }
      });
      return;
    }
    case 'DeploymentPaused':
      return void (await client.query(
        `UPDATE deployments SET status = 'Paused' WHERE deployment_id = $1`,
        [id],
      ));
    case 'DeploymentResumed':
      return void (await client.query(
        `UPDATE deployments SET status = 'InProgress' WHERE deployment_id = $1`,
        [id],
      ));
    case 'DeploymentCompleted':
      await client.query(
        `UPDATE deployments SET status = 'Completed', progress = 100,
                canary_percentage = CASE WHEN strategy = 'Canary' THEN 100 END, completed_at = $2,
                metrics = metrics || jsonb_build_object('version', $3::int, 'promoted', $4::boolean)
          WHERE deployment_id = $1`,
        [id, at, event.data.version, event.data.promoted],
      );
      return;
    case 'DeploymentRolledBack': {
      const d = event.data;
      await client.query(
        `UPDATE deployments SET status = 'RolledBack', was_rolled_back = TRUE, rollback_reason = $2,
                rolled_back_at = $3, error_message = CASE WHEN $4 THEN $2 ELSE error_message END,
                metrics = metrics || jsonb_build_object('automatic', $4::boolean,
                                                        'restoredVersion', $5::int)
          WHERE deployment_id = $1`,
        [id, d.reason, at, d.automatic, d.restoredVersion],
      );
      return;
    }
  }
}

async function applySchema(client: pg.PoolClient, e: RecordedEvent, event: SchemaEvent) {
  const d = event.data;
  await client.query(
    `INSERT INTO config_schemas (tenant_id, schema_id, version, schema, description, updated_by,
                                 updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (tenant_id, schema_id) DO UPDATE SET version = EXCLUDED.version,
       schema = EXCLUDED.schema, description = EXCLUDED.description,
       updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at`,
    [
      d.tenantId,
      d.schemaId,
      d.version,
      JSON.stringify(d.schema),
      d.description,
      e.metadata.userId ?? 'system',
      eventTime(e),
    ],
  );
}

export const readModelProjection: PostgresProjection = {
  name: 'read-model',
  streamPrefixes: [TENANT_PREFIX, CONFIG_PREFIX, APPROVAL_PREFIX, DEPLOYMENT_PREFIX, SCHEMA_PREFIX],
  tables: [
    'config_schemas',
    'deployments',
    'approval_requests',
    'config_versions',
    'configurations',
    'approval_policies',
    'tenants',
  ],
  async apply(client, events) {
    for (const e of events) {
      if (e.streamId.startsWith(TENANT_PREFIX)) {
        await applyTenant(client, e, e as unknown as TenantEvent);
      } else if (e.streamId.startsWith(CONFIG_PREFIX)) {
        await applyConfig(client, e, e as unknown as ConfigurationEvent);
      } else if (e.streamId.startsWith(APPROVAL_PREFIX)) {
        await applyApproval(client, e, e as unknown as ApprovalEvent);
      } else if (e.streamId.startsWith(DEPLOYMENT_PREFIX)) {
        await applyDeployment(client, e, e as unknown as DeploymentEvent);
      } else if (e.streamId.startsWith(SCHEMA_PREFIX)) {
        await applySchema(client, e, e as unknown as SchemaEvent);
      }
    }
  },
};
