/** Read-model rows of the tenant stream: tenants and approval_policies. */
import type pg from 'pg';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { eventTime, type ReadModelPart } from '../../core/projections/projection.js';
import { TENANT_PREFIX } from '../../core/streams.js';
import type { TenantEvent } from './tenant.decider.js';
import {
  applyEnvironmentEvent,
  applyRegistered,
  applyTenantCreated,
} from '../environments/environments.projection.js';

const TENANT_COLUMNS: Record<string, string> = {
  name: 'name',
  tier: 'tier',
  status: 'status',
  maxConfigurations: 'max_configurations',
  maxEnvironments: 'max_environments',
  contactEmail: 'contact_email',
  metadata: 'metadata',
  encryptValues: 'encrypt_values',
};

async function applyTenant(client: pg.PoolClient, e: RecordedEvent, event: TenantEvent) {
  const at = eventTime(e);
  switch (event.type) {
    case 'TenantCreated': {
      const d = event.data;
      await client.query(
        `INSERT INTO tenants (tenant_id, name, tier, status, max_configurations, max_environments,
                              contact_email, metadata, created_at, updated_at, last_position,
                              encrypt_values)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)`,
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
          d.encryptValues === true,
        ],
      );
      await applyTenantCreated(client, e, d.tenantId);
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
    case 'EnvironmentDeclared':
    case 'EnvironmentRenamed':
    case 'EnvironmentRemoved':
      await applyEnvironmentEvent(client, e, event);
      return;
    case 'ConfigurationRegistered':
      // Otherwise the tenant's own bookkeeping (quota, uniqueness); for a tenant from before
      // declarations, an environment it uses.
      await applyRegistered(client, e, event.data.tenantId, event.data.environment);
      return;
    default:
      return;
  }
}

export const tenantsReadModel: ReadModelPart = {
  streamPrefix: TENANT_PREFIX,
  tables: ['approval_policies', 'tenant_environments', 'tenants'],
  apply: (client, e) => applyTenant(client, e, e as unknown as TenantEvent),
};
