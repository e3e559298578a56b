/**
 * The `tenant-history` projection: each versioned change of a tenant's configurations as a
 * `tenant_changes` row, the tenant's current state (`tenant_state`) and, every SNAPSHOT_EVERY
 * changes, a snapshot of that state (`tenant_snapshots`), so that a tenant as of any position is
 * one snapshot plus at most SNAPSHOT_EVERY changes (time-travel.queries.ts).
 */
import type pg from 'pg';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { eventTime, type PostgresProjection } from '../../core/projections/projection.js';
import { CONFIG_PREFIX } from '../../core/streams.js';
import { isVersioned, type ConfigurationEvent } from '../configs/config.decider.js';

export const TENANT_HISTORY_PROJECTION = 'tenant-history';

/** Changes between two snapshots of a tenant. */
export const SNAPSHOT_EVERY = 500;

interface Change {
  tenant_id: string;
  position: string;
  config_id: string;
  environment: string;
  key: string;
  type: string;
  value: string | null;
  version: number;
  is_sensitive: boolean;
  deleted: boolean;
  changed_by: string;
  changed_at: string;
}

function changeOf(e: RecordedEvent): Change | undefined {
  const event = e as unknown as ConfigurationEvent;
  if (!isVersioned(event)) return undefined;
  const d = event.data;
  const deleted = event.type === 'ConfigurationDeleted';
  return {
    tenant_id: d.tenantId,
    position: e.position.toString(),
    config_id: d.configId,
    environment: d.environment,
    key: d.key,
    type: d.type,
    value: deleted ? null : d.value,
    version: d.version,
    is_sensitive: d.isSensitive,
    deleted,
    changed_by: e.metadata.userId ?? 'system',
    changed_at: eventTime(e),
  };
}

/** Writes a run of changes: the change rows, and each config's last state (set-based). */
async function flush(client: pg.PoolClient, changes: Change[]) {
  if (!changes.length) return;
  await client.query(
    `INSERT INTO tenant_changes (tenant_id, position, config_id, environment, key, type, value,
                                 version, is_sensitive, deleted, changed_by, changed_at)
     SELECT tenant_id, position, config_id, environment, key, type, value, version,
            is_sensitive, deleted, changed_by, changed_at
       FROM jsonb_to_recordset($1::jsonb) AS x(tenant_id text, position bigint, config_id text,
            environment text, key text, type text, value text, version int,
            is_sensitive boolean, deleted boolean, changed_by text, changed_at timestamptz)
     ON CONFLICT DO NOTHING`,
    [JSON.stringify(changes)],
  );
  // One row per config (an upsert may not touch a row twice): its last change, and whether any
  // change of the run made it sensitive. is_sensitive means ever sensitive: an old value of a
  // secret never shows unmasked.
  const last = new Map<string, Change>();
  for (const c of changes) {
    const key = `${c.tenant_id}\u0000${c.config_id}`;
    const before = last.get(key);
    last.set(key, { ...c, is_sensitive: c.is_sensitive || (before?.is_sensitive ?? false) });
  }
  await client.query(
    `INSERT INTO tenant_state (tenant_id, config_id, environment, key, type, value, version,
                               is_sensitive, deleted)
     SELECT tenant_id, config_id, environment, key, type, value, version, is_sensitive, deleted
       FROM jsonb_to_recordset($1::jsonb) AS x(tenant_id text, config_id text, environment text,
            key text, type text, value text, version int, is_sensitive boolean, deleted boolean)
     ON CONFLICT (tenant_id, config_id) DO UPDATE SET
       type = EXCLUDED.type, value = EXCLUDED.value, version = EXCLUDED.version,
       is_sensitive = tenant_state.is_sensitive OR EXCLUDED.is_sensitive,
       deleted = EXCLUDED.deleted`,
    [JSON.stringify([...last.values()])],
  );
}

async function apply(client: pg.PoolClient, events: RecordedEvent[]) {
  const changes = events.map(changeOf).filter((c): c is Change => c !== undefined);
  if (!changes.length) return;
  const tenants = [...new Set(changes.map((c) => c.tenant_id))];
  const { rows } = await client.query<{ tenant_id: string; since: number }>(
    'SELECT tenant_id, since FROM tenant_snapshot_progress WHERE tenant_id = ANY($1)',
    [tenants],
  );
  const since = new Map(tenants.map((t) => [t, 0]));
  for (const r of rows) since.set(r.tenant_id, r.since);
  // Runs of changes are written together; a snapshot cuts the run at its own change, so it holds
  // exactly the state after that change.
  let run: Change[] = [];
  for (const c of changes) {
    run.push(c);
    const n = since.get(c.tenant_id)! + 1;
    since.set(c.tenant_id, n);
    if (n < SNAPSHOT_EVERY) continue;
    await flush(client, run);
    run = [];
    await client.query(
      `INSERT INTO tenant_snapshots (tenant_id, position, changes, state)
       SELECT $1::varchar, $2::bigint, $3::int, COALESCE(jsonb_object_agg(config_id, jsonb_build_object(
                'e', environment, 'k', key, 't', type, 'v', value, 'n', version,
                's', is_sensitive, 'd', deleted)), '{}'::jsonb)
         FROM tenant_state WHERE tenant_id = $1::varchar
       ON CONFLICT DO NOTHING`,
      [c.tenant_id, c.position, SNAPSHOT_EVERY],
    );
    since.set(c.tenant_id, 0);
  }
  await flush(client, run);
  await client.query(
    `INSERT INTO tenant_snapshot_progress (tenant_id, since)
     SELECT * FROM unnest($1::text[], $2::int[])
     ON CONFLICT (tenant_id) DO UPDATE SET since = EXCLUDED.since`,
    [[...since.keys()], [...since.values()]],
  );
}

export const tenantHistoryProjection: PostgresProjection = {
  name: TENANT_HISTORY_PROJECTION,
  streamPrefixes: [CONFIG_PREFIX],
  tables: ['tenant_snapshot_progress', 'tenant_snapshots', 'tenant_state', 'tenant_changes'],
  apply,
};
