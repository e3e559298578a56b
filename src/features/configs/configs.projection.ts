/** Read-model rows of config streams: configurations and config_versions. */
import type pg from 'pg';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { eventTime, type ReadModelPart } from '../../core/projections/projection.js';
import { CONFIG_PREFIX } from '../../core/streams.js';
import { isVersioned, type ConfigurationEvent } from './config.decider.js';

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
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $16, $10, $11, $12, $13, $13, $14, $14, NULL, $15,
                 $10)
         ON CONFLICT (config_id) DO UPDATE SET
           value = EXCLUDED.value, type = EXCLUDED.type, version = EXCLUDED.version,
           description = EXCLUDED.description, tags = EXCLUDED.tags,
           is_sensitive = EXCLUDED.is_sensitive, default_value = EXCLUDED.default_value,
           is_encrypted = configurations.is_encrypted OR EXCLUDED.is_encrypted,
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
          c.isEncrypted === true,
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
  // The version row is written with the batch's others, at its end (`finish`): nothing in the
  // read model reads config_versions, and its configuration row exists by then.
  let versions = pendingVersions.get(client);
  if (!versions) pendingVersions.set(client, (versions = []));
  versions.push([
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
  ]);
}

/** Version rows of the batch being applied, per batch client. */
const pendingVersions = new WeakMap<pg.PoolClient, unknown[][]>();

async function writeVersions(client: pg.PoolClient) {
  const rows = pendingVersions.get(client);
  pendingVersions.delete(client);
  if (!rows?.length) return;
  await client.query(
    `INSERT INTO config_versions (version_id, config_id, version, value, previous_value, change_type,
                 change_description, changed_by, environment, ip_address, trace_id, created_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[],
                          $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                          $12::timestamp[])`,
    rows[0]!.map((_, c) => rows.map((r) => r[c])),
  );
}

export const configsReadModel: ReadModelPart = {
  streamPrefix: CONFIG_PREFIX,
  tables: ['config_versions', 'configurations'],
  apply: (client, e) => applyConfig(client, e, e as unknown as ConfigurationEvent),
  finish: writeVersions,
};
