/**
 * The hot read path's cache, three levels deep:
 *  1. in-process: one snapshot per (tenant, environment), with its JSON bodies pre-rendered;
 *     kept fresh by Redis pub/sub invalidations from the redis-cache projection;
 *  2. Redis: one hash per environment, shared by every API instance;
 *  3. PostgreSQL: the configurations read table, which also fills Redis on a miss.
 *
 * Freshness: an invalidation bumps the environment's generation, and a snapshot fetched while
 * the generation moved is not kept (so a slow fetch cannot re-insert what was just invalidated).
 * Losing the pub/sub connection clears everything; while it is down, snapshots live one second.
 */
import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../infrastructure/redis.js';
import { FILL_SCRIPT, type CachedEntry } from '../../projections/redis-cache.js';
import { typedValue } from '../domain/values.js';

export interface EnvSnapshot {
  tenantId: string;
  environment: string;
  /** Quoted ETag of the whole environment. */
  etag: string;
  entries: Map<string, CachedEntry>;
  /** Pre-rendered body of the whole environment. */
  body: Buffer;
  /** Pre-rendered bodies of single keys, made on first use. */
  keyBodies: Map<string, { body: Buffer; etag: string }>;
  expiresAt: number;
  source: 'redis' | 'postgres';
}

export type CacheSource = 'local' | 'redis' | 'postgres';

const DISCONNECTED_TTL_MS = 1000;

export class HotReadCache {
  private readonly local = new Map<string, EnvSnapshot>();
  private readonly generations = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<EnvSnapshot>>();
  private epoch = 0;
  private subscribed = false;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis | undefined,
    private readonly db: pg.Pool,
    private readonly keys: RedisKeys,
    private readonly ttlMs: number,
  ) {
    if (subscriber) this.listen(subscriber);
  }

  private listen(sub: Redis) {
    const channel = this.keys.invalidationChannel;
    sub.on('message', (ch: string, key: string) => {
      if (ch === channel) this.invalidate(key);
    });
    sub.on('ready', () => {
      void sub.subscribe(channel).then(
        () => {
          // Anything could have changed while we were not listening.
          this.clear();
          this.subscribed = true;
        },
        () => undefined,
      );
    });
    const lost = () => {
      this.subscribed = false;
      this.clear();
    };
    sub.on('close', lost);
    sub.on('end', lost);
  }

  get isSubscribed() {
    return this.subscribed;
  }

  invalidate(envKey: string): void {
    this.generations.set(envKey, (this.generations.get(envKey) ?? 0) + 1);
    this.local.delete(envKey);
  }

  clear(): void {
    this.epoch++;
    this.local.clear();
  }

  /** Synchronous lookup for the fast path; undefined when not cached in-process. */
  peek(tenantId: string, environment: string): EnvSnapshot | undefined {
    const key = this.keys.env(tenantId, environment);
    const snap = this.local.get(key);
    if (snap && snap.expiresAt > Date.now()) return snap;
    if (snap) this.local.delete(key);
    return undefined;
  }

  /** Full lookup: in-process, then Redis, then PostgreSQL. */
  async get(
    tenantId: string,
    environment: string,
    options: { bypassLocal?: boolean } = {},
  ): Promise<{ snapshot: EnvSnapshot; source: CacheSource }> {
    if (!options.bypassLocal) {
      const snap = this.peek(tenantId, environment);
      if (snap) return { snapshot: snap, source: 'local' };
    }
    const key = this.keys.env(tenantId, environment);
    let pending = this.inFlight.get(key);
    if (!pending || options.bypassLocal) {
      pending = this.fetch(key, tenantId, environment);
      if (!options.bypassLocal) {
        this.inFlight.set(key, pending);
        const clear = () => this.inFlight.delete(key);
        pending.then(clear, clear);
      }
    }
    const snapshot = await pending;
    return { snapshot, source: snapshot.source };
  }

  private async fetch(key: string, tenantId: string, environment: string): Promise<EnvSnapshot> {
    const generation = this.generations.get(key) ?? 0;
    const epoch = this.epoch;
    let snapshot = await this.fromRedis(key, tenantId, environment).catch(() => undefined);
    if (!snapshot) snapshot = await this.fromPostgres(key, tenantId, environment);
    if ((this.generations.get(key) ?? 0) === generation && this.epoch === epoch) {
      snapshot.expiresAt = Date.now() + (this.subscribed ? this.ttlMs : DISCONNECTED_TTL_MS);
      this.local.set(key, snapshot);
    }
    return snapshot;
  }

  private async fromRedis(key: string, tenantId: string, environment: string) {
    const hash = await this.redis.hgetall(key);
    if (!hash.__pos) return undefined;
    const entries = new Map<string, CachedEntry>();
    for (const [field, json] of Object.entries(hash)) {
      if (!field.startsWith('__')) entries.set(field, JSON.parse(json) as CachedEntry);
    }
    return snapshotOf(tenantId, environment, hash.__etag ?? hash.__pos, entries, 'redis');
  }

  private async fromPostgres(key: string, tenantId: string, environment: string) {
    // Rows and the read model's checkpoint in one statement, so one snapshot: the fill below is
    // exactly the state at `checkpoint`.
    const { rows } = await this.db.query<{
      checkpoint: bigint;
      config_id: string | null;
      key: string;
      value: string;
      type: string;
      version: number;
      updated_at: Date;
      deleted_at: Date | null;
      last_position: bigint;
    }>(
      `WITH cp AS (SELECT COALESCE((SELECT position FROM projection_checkpoints
                                     WHERE name = 'read-model'), 0) AS checkpoint)
       SELECT cp.checkpoint, c.config_id, c.key, c.value, c.type, c.version, c.updated_at,
              c.deleted_at, c.last_position
         FROM cp LEFT JOIN configurations c ON c.tenant_id = $1 AND c.environment = $2`,
      [tenantId, environment],
    );
    const checkpoint = rows[0]?.checkpoint ?? 0n;
    let etag = 0n;
    const entries = new Map<string, CachedEntry>();
    for (const r of rows) {
      if (!r.config_id) continue;
      if (r.last_position > etag) etag = r.last_position;
      if (r.deleted_at) continue;
      entries.set(r.key, {
        id: r.config_id,
        value: r.value,
        type: r.type,
        version: r.version,
        updatedAt: r.updated_at.toISOString(),
      });
    }
    const fields: string[] = [];
    for (const [k, e] of entries) fields.push(k, JSON.stringify(e));
    await this.redis
      .eval(
        FILL_SCRIPT,
        2,
        key,
        this.keys.envSkip(tenantId, environment),
        checkpoint.toString(),
        etag.toString(),
        String(Math.ceil(this.ttlMs / 1000)),
        ...fields,
      )
      .catch(() => undefined); // Redis down: serve from PostgreSQL without filling.
    return snapshotOf(tenantId, environment, etag.toString(), entries, 'postgres');
  }
}

function snapshotOf(
  tenantId: string,
  environment: string,
  etag: string,
  entries: Map<string, CachedEntry>,
  source: 'redis' | 'postgres',
): EnvSnapshot {
  const configs: Record<string, unknown> = {};
  for (const [k, e] of [...entries].sort(([a], [b]) => (a < b ? -1 : 1))) {
    configs[k] = typedValue(e.type, e.value);
  }
  return {
    tenantId,
    environment,
    etag: `"${etag}"`,
    entries,
    body: Buffer.from(JSON.stringify({ tenantId, environment, version: Number(etag), configs })),
    keyBodies: new Map(),
    expiresAt: 0,
    source,
  };
}

/** The single-key body and ETag, rendered once per snapshot. */
export function keyBody(
  snap: EnvSnapshot,
  key: string,
): { body: Buffer; etag: string } | undefined {
  let rendered = snap.keyBodies.get(key);
  if (rendered) return rendered;
  const e = snap.entries.get(key);
  if (!e) return undefined;
  rendered = {
    etag: `"${e.version}"`,
    body: Buffer.from(
      JSON.stringify({
        tenantId: snap.tenantId,
        environment: snap.environment,
        key,
        value: typedValue(e.type, e.value),
        type: e.type,
        version: e.version,
        configId: e.id,
        updatedAt: e.updatedAt,
      }),
    ),
  };
  snap.keyBodies.set(key, rendered);
  return rendered;
}
