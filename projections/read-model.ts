/**
 * The `read-model` projection: tables tenants, configurations and config_versions. They reference
 * each other (the spec's foreign keys), so one projection with one checkpoint owns them all:
 * a row can never arrive before the row it points to.
 */
import type pg from 'pg';
import type { RecordedEvent } from '../src/core/event-store/event-store.js';
import type { ConfigurationEvent } from '../src/domain/configuration.js';
import type { TenantEvent } from '../src/domain/tenant.js';
import { CONFIG_PREFIX, TENANT_PREFIX } from '../src/application/streams.js';
import { utc, type PostgresProjection } from './projection.js';

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
  const at = utc(e.recordedAt);
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
    default:
      // ConfigurationRegistered/Released are the tenant's own bookkeeping (quota, uniqueness).
      return;
  }
}

const CHANGE_TYPE: Record<ConfigurationEvent['type'], string> = {
  ConfigurationCreated: 'Created',
  ConfigurationUpdated: 'Updated',
  ConfigurationRolledBack: 'RolledBack',
  ConfigurationDeleted: 'Deleted',
  ConfigurationRestored: 'Restored',
};

async function applyConfig(client: pg.PoolClient, e: RecordedEvent, event: ConfigurationEvent) {
  const at = utc(e.recordedAt);
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
                     created_by, updated_by, created_at, updated_at, deleted_at, last_position)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE, $10, $11, $12, $13, $13, $14, $14, NULL, $15)
         ON CONFLICT (config_id) DO UPDATE SET
           value = EXCLUDED.value, type = EXCLUDED.type, version = EXCLUDED.version,
           description = EXCLUDED.description, tags = EXCLUDED.tags,
           is_sensitive = EXCLUDED.is_sensitive, default_value = EXCLUDED.default_value,
           schema_id = EXCLUDED.schema_id, created_by = EXCLUDED.created_by,
           updated_by = EXCLUDED.updated_by, created_at = EXCLUDED.created_at,
           updated_at = EXCLUDED.updated_at, deleted_at = NULL,
           last_position = EXCLUDED.last_position`,
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
                description = CASE WHEN $5::boolean THEN $6 ELSE description END,
                tags = COALESCE($7, tags), updated_by = $8, updated_at = $9, last_position = $10
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

export const readModelProjection: PostgresProjection = {
  name: 'read-model',
  streamPrefixes: [TENANT_PREFIX, CONFIG_PREFIX],
  tables: ['config_versions', 'configurations', 'tenants'],
  async apply(client, events) {
    for (const e of events) {
      if (e.streamId.startsWith(TENANT_PREFIX)) {
        await applyTenant(client, e, e as unknown as TenantEvent);
      } else if (e.streamId.startsWith(CONFIG_PREFIX)) {
        await applyConfig(client, e, e as unknown as ConfigurationEvent);
      }
    }
  },
};
