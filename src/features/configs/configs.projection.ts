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

/**
 * A batch's updates of one configuration, merged into the one row write they amount to: the
 * last one's value, version and who/when; sensitivity ever; the last description, tags and
 * schema given. Most events of a log are updates, and one set-based UPDATE per batch costs
 * PostgreSQL a fraction of one parsed and planned statement per event.
 */
interface MergedUpdate {
  value: string;
  version: number;
  isSensitive: boolean;
  anySensitive: boolean;
  setDescription: boolean;
  description: string | null;
  /** JSON of the last tags given; null: none given (the row keeps its own). */
  tags: string | null;
  updatedBy: string;
  updatedAt: string;
  position: string;
  setSchema: boolean;
  schemaId: string | null;
}

/** Updates of the batch being applied, per batch client, not yet written. */
const pendingUpdates = new WeakMap<pg.PoolClient, Map<string, MergedUpdate>>();

function mergeUpdate(
  client: pg.PoolClient,
  u: Extract<ConfigurationEvent, { type: 'ConfigurationUpdated' }>['data'],
  user: string,
  at: string,
  pos: string,
) {
  let pending = pendingUpdates.get(client);
  if (!pending) pendingUpdates.set(client, (pending = new Map()));
  const before = pending.get(u.configId);
  pending.set(u.configId, {
    value: u.value,
    version: u.version,
    isSensitive: u.isSensitive,
    anySensitive: u.isSensitive || (before?.anySensitive ?? false),
    setDescription: u.description !== undefined || (before?.setDescription ?? false),
    description:
      u.description !== undefined ? (u.description ?? null) : (before?.description ?? null),
    tags: u.tags != null ? JSON.stringify(u.tags) : (before?.tags ?? null),
    updatedBy: user,
    updatedAt: at,
    position: pos,
    setSchema: u.schemaId !== undefined || (before?.setSchema ?? false),
    schemaId: u.schemaId !== undefined ? (u.schemaId ?? null) : (before?.schemaId ?? null),
  });
}

/** Writes the merged updates collected so far (before any other write of a configuration row). */
async function writeUpdates(client: pg.PoolClient) {
  const pending = pendingUpdates.get(client);
  if (!pending?.size) return;
  pendingUpdates.delete(client);
  const rows = [...pending];
  const col = <T>(f: (u: MergedUpdate) => T) => rows.map(([, u]) => f(u));
  await client.query(
    `UPDATE configurations c SET value = u.value, version = u.version,
            is_sensitive = u.is_sensitive, ever_sensitive = c.ever_sensitive OR u.any_sensitive,
            description = CASE WHEN u.set_description THEN u.description ELSE c.description END,
            tags = CASE WHEN u.tags IS NULL THEN c.tags
                        ELSE ARRAY(SELECT jsonb_array_elements_text(u.tags::jsonb)) END,
            updated_by = u.updated_by, updated_at = u.updated_at, last_position = u.last_position,
            schema_id = CASE WHEN u.set_schema THEN u.schema_id ELSE c.schema_id END
       FROM unnest($1::text[], $2::text[], $3::int[], $4::boolean[], $5::boolean[],
                   $6::boolean[], $7::text[], $8::text[], $9::text[], $10::timestamp[],
                   $11::bigint[], $12::boolean[], $13::text[])
            AS u(config_id, value, version, is_sensitive, any_sensitive, set_description,
                 description, tags, updated_by, updated_at, last_position, set_schema, schema_id)
      WHERE c.config_id = u.config_id`,
    [
      rows.map(([configId]) => configId),
      col((u) => u.value),
      col((u) => u.version),
      col((u) => u.isSensitive),
      col((u) => u.anySensitive),
      col((u) => u.setDescription),
      col((u) => u.description),
      col((u) => u.tags),
      col((u) => u.updatedBy),
      col((u) => u.updatedAt),
      col((u) => u.position),
      col((u) => u.setSchema),
      col((u) => u.schemaId),
    ],
  );
}

async function applyConfig(client: pg.PoolClient, e: RecordedEvent, event: ConfigurationEvent) {
  // A deployment holding or releasing the config is not a version; the deployments table shows it.
  if (!isVersioned(event)) return;
  const at = eventTime(e);
  const d = event.data;
  const user = e.metadata.userId ?? 'system';
  const pos = e.position.toString();
  // Any other write of this configuration's row comes after the updates before it.
  if (event.type !== 'ConfigurationUpdated' && pendingUpdates.get(client)?.has(d.configId)) {
    await writeUpdates(client);
  }
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
    case 'ConfigurationUpdated':
      mergeUpdate(client, event.data, user, at, pos);
      break;
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
  finish: async (client) => {
    await writeUpdates(client);
    await writeVersions(client);
  },
};
