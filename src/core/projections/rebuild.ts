/**
 * Rebuilds projections from position zero while the service keeps serving.
 *
 * A PostgreSQL projection is replayed into shadow copies of its tables (a schema of its own),
 * while the live projection keeps the live tables current and queries keep reading them. When the
 * shadow has caught up, one transaction takes the live checkpoint's row lock (so no live batch
 * runs), brings the shadow to at least the live position, replaces the live rows with the shadow
 * rows and moves the live checkpoint to the shadow's. Readers see the old rows until that commit
 * and the rebuilt ones after it; a live runner anywhere notices the moved checkpoint and carries
 * on from it. The Redis cache is rebuilt by dropping it: the read path refills it.
 *
 * Connections: a rebuild uses a pool of its own with exactly REBUILD_CONNECTIONS, never the
 * service's pool (whatever its size, even Maximum Pool Size=1): one session holds the rebuild's
 * advisory lock throughout, one runs the replay's batches and then the switch transaction, and
 * one reads the log (with the PostgreSQL event store) while the switch holds its transaction.
 * Live projection batches wait on the switch holding connections of the service's pool, which
 * the rebuild never needs, so no pool size can deadlock it.
 */
import pg from 'pg';
import type { Projector, Services } from '../../composition.js';
import type { EventStore } from '../event-store/event-store.js';
import { PostgresEventStore } from '../event-store/postgres/postgres-event-store.js';
import { guardPool } from '../postgres/postgres.js';
import { PostgresProjectionRunner, lockKey, readCheckpoint } from './runner.js';
import type { PostgresProjection } from './projection.js';

export type RebuildProgress = (p: {
  projection: string;
  position: bigint;
  head: bigint;
  done: number;
  total: number;
}) => void | Promise<void>;

export async function rebuildProjections(
  s: Services,
  projector: Projector,
  names: string[],
  log: (msg: string) => void = () => undefined,
  onProgress?: RebuildProgress,
): Promise<string[]> {
  const all = [...projector.runners.map((r) => r.projection.name), projector.redisCache.name];
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length) {
    throw new Error(`unknown projection(s): ${unknown.join(', ')}; known: ${all.join(', ')}`);
  }
  const chosen = names.length ? names : all;
  let done = 0;
  const pool = guardPool(new pg.Pool({ ...s.settings.postgres.config, max: REBUILD_CONNECTIONS }));
  // KurrentDB reads take no PostgreSQL connection; the PostgreSQL store reads through our pool.
  const reader = s.settings.eventStoreConnectionString
    ? s.store
    : new PostgresEventStore(pool, s.settings.postgres.config);
  try {
    for (const runner of projector.runners) {
      if (!chosen.includes(runner.projection.name)) continue;
      const index = done;
      await rebuildWhileServing(pool, reader, runner.projection, log, (position, head) =>
        onProgress?.({
          projection: runner.projection.name,
          position,
          head,
          done: index,
          total: chosen.length,
        }),
      );
      done++;
    }
  } finally {
    await pool.end().catch(() => undefined);
  }
  if (chosen.includes(projector.redisCache.name)) {
    await projector.redisCache.reset();
    await projector.redisCache.catchUpOnce();
    done++;
    log(`${projector.redisCache.name}: dropped; the read path refills it`);
  }
  const head = await s.store.headPosition();
  await onProgress?.({ projection: '', position: head, head, done, total: chosen.length });
  return chosen;
}

/** Lock session + replay/switch transaction + log reads during the switch. */
export const REBUILD_CONNECTIONS = 3;

export async function rebuildWhileServing(
  pool: pg.Pool,
  store: EventStore,
  projection: PostgresProjection,
  log: (msg: string) => void,
  onProgress?: (position: bigint, head: bigint) => void | Promise<void>,
): Promise<void> {
  const schema = `rebuild_${projection.name.replace(/\W/g, '_')}_${Date.now().toString(36)}`;
  const shadowName = `${projection.name}@${schema}`;
  // One rebuild of a projection at a time: a second one waits for the first.
  const lock = await pool.connect();
  await lock.query('SELECT pg_advisory_lock($1::bigint)', [lockKey(`rebuild:${projection.name}`)]);
  try {
    // What a rebuild that died half-way (killed worker, crash) left behind: only now, under the
    // lock, is it certain that nothing is using it.
    const prefix = `rebuild_${projection.name.replace(/\W/g, '_')}_`;
    const { rows: stale } = await pool.query<{ nspname: string }>(
      `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`,
      [prefix],
    );
    for (const { nspname } of stale) await pool.query(`DROP SCHEMA "${nspname}" CASCADE`);
    await pool.query('DELETE FROM projection_checkpoints WHERE starts_with(name, $1)', [
      `${projection.name}@${prefix}`,
    ]);
    await pool.query(`CREATE SCHEMA "${schema}"`);
    for (const table of projection.tables) {
      await pool.query(
        `CREATE TABLE "${schema}".${table} (LIKE public.${table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`,
      );
    }
    // The replay keeps only the unique indexes (its upserts and lookups go by key): the others
    // serve queries of the live tables, which get every row once, in the switch's one INSERT.
    // Maintaining them row by row during the replay was a large share of its work.
    const { rows: secondary } = await pool.query<{ name: string }>(
      `SELECT i.indexrelid::regclass::text AS name
         FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = $1 AND NOT i.indisunique`,
      [schema],
    );
    for (const { name } of secondary) await pool.query(`DROP INDEX ${name}`);
    await pool.query('DELETE FROM projection_checkpoints WHERE name = $1', [shadowName]);
    const head = await store.headPosition();
    log(`${projection.name}: replaying ${head} events into ${schema} while serving`);
    let lastReport = 0;
    const shadow = new PostgresProjectionRunner(
      pool,
      store,
      { ...projection, name: shadowName },
      {
        schema,
        batchSize: 1000,
        onBatch: (_name, _events, position) => {
          if (Date.now() - lastReport < 500) return;
          lastReport = Date.now();
          log(`${projection.name}: ${position}/${head}`);
          // The replay is most of the work, not all of it: the switch is still to come.
          const shown = head > 0n ? (position * 95n) / 100n : position;
          void Promise.resolve(onProgress?.(shown, head)).catch(() => undefined);
        },
      },
    );
    await shadow.catchUpOnce();
    await swap(pool, store, projection, shadow, schema);
    await onProgress?.(await readCheckpoint(pool, projection.name), head);
    log(`${projection.name}: rebuilt; switched to the rebuilt tables`);
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.query('DELETE FROM projection_checkpoints WHERE name = $1', [shadowName]);
    await lock.query('SELECT pg_advisory_unlock($1::bigint)', [
      lockKey(`rebuild:${projection.name}`),
    ]);
    lock.release();
  }
}

async function swap(
  pool: pg.Pool,
  store: EventStore,
  projection: PostgresProjection,
  shadow: PostgresProjectionRunner,
  schema: string,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      'INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT DO NOTHING',
      [projection.name],
    );
    const { rows } = await client.query<{ position: bigint }>(
      'SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE',
      [projection.name],
    );
    const live = rows[0]!.position;
    // Live batches wait on the lock now; bring the shadow to (at least) the live position.
    let position = await readCheckpoint(client, shadow.projection.name);
    for (;;) {
      const events = await store.readAll({
        after: position,
        limit: 1000,
        streamPrefixes: projection.streamPrefixes,
      });
      if (events.length === 0 || position >= live) break;
      await client.query(`SET LOCAL search_path TO "${schema}", public`);
      await projection.apply(client, events);
      await client.query('SET LOCAL search_path TO public');
      position = events[events.length - 1]!.position;
    }
    const reached = position > live ? position : live;
    // Children first out, parents first in (the tables reference each other).
    for (const table of projection.tables) await client.query(`DELETE FROM public.${table}`);
    for (const table of [...projection.tables].reverse()) {
      await client.query(`INSERT INTO public.${table} SELECT * FROM "${schema}".${table}`);
    }
    await client.query(
      'UPDATE projection_checkpoints SET position = $2, updated_at = now() WHERE name = $1',
      [projection.name, reached.toString()],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
