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
 *
 * Redis that comes back after an outage may hold hashes from before it (AOF), and its cache
 * projection needs a moment to catch up; meanwhile this instance has served newer values from
 * PostgreSQL. So a Redis hash is trusted only once the redis-cache projection's checkpoint has
 * reached the `floor`: the read model's checkpoint when pub/sub (re)connected, raised by every
 * snapshot served from PostgreSQL without filling Redis. Until then reads go to PostgreSQL, and
 * a value, once served, never gives way to an older one.
 *
 * Watchers (apps following an environment live) are told after every invalidation of their
 * environment and after every clear; while pub/sub is down they are also told once a second, so
 * they re-read at the same pace as the snapshots expire.
 */
import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../../core/redis/redis.js';
import {
  CANARY_FIELD_PREFIX,
  FILL_SCRIPT,
  REDIS_CACHE_PROJECTION,
  type CachedCanary,
  type CachedEntry,
} from './redis-cache.projection.js';
import { snapshotOf, type CacheSource, type EnvSnapshot } from './env-snapshot.js';
import { MASK } from '../configs/config-values.js';
import type { ValueCipher } from '../../core/crypto/value-cipher.js';
import { EnvironmentDirectory } from '../environments/environment-directory.js';
import { EnvironmentQueries } from '../environments/environments.queries.js';

/** How long a snapshot lives when no invalidation can be relied on (pub/sub down, provisional). */
export const DISCONNECTED_TTL_MS = 1000;

export class HotReadCache {
  private readonly local = new Map<string, EnvSnapshot>();
  private readonly generations = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<EnvSnapshot>>();
  private readonly watchers = new Map<string, Set<() => void>>();
  private watcherTotal = 0;
  private ticker: NodeJS.Timeout | undefined;
  private epoch = 0;
  private subscribed = false;
  /** See above: the redis-cache checkpoint a Redis hash needs before it is trusted. */
  private floor = 0n;
  private floorLoading: Promise<void> | undefined;
  /** Each tenant's declared environments, kept fresh by the same channel. */
  readonly environments: EnvironmentDirectory;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis | undefined,
    private readonly db: pg.Pool,
    private readonly keys: RedisKeys,
    private readonly ttlMs: number,
    /** Decrypts encrypted values for callers allowed to reveal them (none: always masked). */
    private readonly cipher?: ValueCipher,
    /** Waits until the read model has the whole log (before an environment is refused). */
    settle?: () => Promise<void>,
  ) {
    const queries = new EnvironmentQueries(db);
    this.environments = new EnvironmentDirectory(
      (tenantId) => queries.names(tenantId),
      () => (this.subscribed ? this.ttlMs : DISCONNECTED_TTL_MS),
      settle,
    );
    if (subscriber) this.listen(subscriber);
  }

  /**
   * The snapshot as a caller allowed to reveal sees it: itself when nothing in it is encrypted,
   * else its decrypted twin, made once per snapshot (so once per process and change).
   */
  revealed(snap: EnvSnapshot): Promise<EnvSnapshot> {
    if (!snap.sealed) return Promise.resolve(snap);
    if (snap.revealed) return Promise.resolve(snap.revealed);
    return (snap.revealing ??= this.decrypted(snap).then((r) => (snap.revealed = r)));
  }

  private async decrypted(snap: EnvSnapshot): Promise<EnvSnapshot> {
    const { cipher } = this;
    // A shredded value (or no cipher configured) stays masked even for those who may reveal.
    const open = async (value: string): Promise<string | undefined> =>
      cipher ? cipher.tryDecrypt(snap.tenantId, value) : undefined;
    const entries = new Map<string, CachedEntry>();
    for (const [k, e] of snap.stored!.entries) {
      if (!e.encrypted) entries.set(k, e);
      else {
        const { encrypted: _e, ...rest } = e;
        const plain = await open(e.value);
        entries.set(k, plain === undefined ? { ...e, value: MASK } : { ...rest, value: plain });
      }
    }
    const canaries = new Map<string, CachedCanary>();
    for (const [k, c] of snap.stored!.canaries) {
      if (!c.encrypted) canaries.set(k, c);
      else {
        const { encrypted: _e, ...rest } = c;
        const plain = await open(c.value);
        canaries.set(k, plain === undefined ? { ...c, value: MASK } : { ...rest, value: plain });
      }
    }
    const r = snapshotOf(
      snap.tenantId,
      snap.environment,
      snap.etag.slice(1, -1),
      entries,
      canaries,
      snap.source,
    );
    r.expiresAt = snap.expiresAt;
    r.provisional = snap.provisional;
    return r;
  }

  private listen(sub: Redis) {
    const channel = this.keys.invalidationChannel;
    sub.on('message', (ch: string, key: string) => {
      if (ch === channel) this.invalidate(key);
    });
    sub.on('ready', () => {
      this.floorLoading = this.raiseFloorToReadModel();
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

  /** The read model's checkpoint: what PostgreSQL may have served before this moment. */
  private async raiseFloorToReadModel(): Promise<void> {
    try {
      const { rows } = await this.db.query<{ position: bigint }>(
        `SELECT position FROM projection_checkpoints WHERE name = 'read-model'`,
      );
      this.raiseFloor(rows[0]?.position ?? 0n);
    } catch {
      // PostgreSQL away too: Redis is all there is; the floor stays where it was.
    }
  }

  private raiseFloor(position: bigint) {
    if (position > this.floor) this.floor = position;
  }

  get isSubscribed() {
    return this.subscribed;
  }

  invalidate(envKey: string): void {
    const tenants = this.keys.environments('');
    if (envKey.startsWith(tenants)) {
      this.environments.invalidate(envKey.slice(tenants.length));
      return;
    }
    this.generations.set(envKey, (this.generations.get(envKey) ?? 0) + 1);
    this.local.delete(envKey);
    // A read started before the change must not answer reads that come after it.
    this.inFlight.delete(envKey);
    this.notify(this.watchers.get(envKey));
  }

  clear(): void {
    this.environments.clear();
    this.epoch++;
    this.local.clear();
    this.inFlight.clear();
    for (const listeners of this.watchers.values()) this.notify(listeners);
  }

  /**
   * Calls `listener` (asynchronously) whenever the environment may have changed. It then reads
   * with get(), which fetches once for all the watchers of an environment. Returns the unwatch.
   */
  watch(tenantId: string, environment: string, listener: () => void): () => void {
    const key = this.keys.env(tenantId, environment);
    let listeners = this.watchers.get(key);
    if (!listeners) this.watchers.set(key, (listeners = new Set()));
    listeners.add(listener);
    this.watcherTotal++;
    this.ticker ??= setInterval(() => {
      if (!this.subscribed) for (const l of this.watchers.values()) this.notify(l);
    }, DISCONNECTED_TTL_MS).unref();
    let watching = true;
    return () => {
      if (!watching) return;
      watching = false;
      listeners.delete(listener);
      if (listeners.size === 0 && this.watchers.get(key) === listeners) this.watchers.delete(key);
      if (--this.watcherTotal === 0) {
        clearInterval(this.ticker);
        this.ticker = undefined;
      }
    };
  }

  /** Watchers registered now, over all environments. */
  get watcherCount(): number {
    return this.watcherTotal;
  }

  private notify(listeners: Set<() => void> | undefined) {
    if (listeners) for (const listener of listeners) queueMicrotask(listener);
  }

  /** Synchronous lookup for the fast path; undefined when not cached in-process. */
  /**
   * `key` is `envKey(tenantId, environment)`, when the caller kept it (the hot path does, per
   * route, so that a hit builds no string).
   */
  peek(
    tenantId: string,
    environment: string,
    key = this.keys.env(tenantId, environment),
  ): EnvSnapshot | undefined {
    const snap = this.local.get(key);
    if (snap && snap.expiresAt > Date.now()) return snap;
    if (snap) this.local.delete(key);
    return undefined;
  }

  envKey(tenantId: string, environment: string): string {
    return this.keys.env(tenantId, environment);
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
      const fetching = this.fetch(key, tenantId, environment);
      pending = fetching;
      if (!options.bypassLocal) {
        this.inFlight.set(key, fetching);
        // Only its own entry: an invalidation may have put a newer fetch in its place.
        const clear = () => {
          if (this.inFlight.get(key) === fetching) this.inFlight.delete(key);
        };
        fetching.then(clear, clear);
      }
    }
    const snapshot = await pending;
    return { snapshot, source: snapshot.source };
  }

  private async fetch(key: string, tenantId: string, environment: string): Promise<EnvSnapshot> {
    const generation = this.generations.get(key) ?? 0;
    const epoch = this.epoch;
    if (this.floorLoading) await this.floorLoading;
    let snapshot = await this.fromRedis(key, tenantId, environment).catch(() => undefined);
    if (!snapshot) snapshot = await this.fromPostgres(key, tenantId, environment);
    if ((this.generations.get(key) ?? 0) === generation && this.epoch === epoch) {
      const trusted = this.subscribed && !snapshot.provisional;
      snapshot.expiresAt = Date.now() + (trusted ? this.ttlMs : DISCONNECTED_TTL_MS);
      this.local.set(key, snapshot);
    }
    return snapshot;
  }

  private async fromRedis(key: string, tenantId: string, environment: string) {
    // The checkpoint first, then the hash (a pipeline keeps the order): the hash read is at
    // least as current as the checkpoint read.
    const results = await this.redis
      .pipeline()
      .get(this.keys.checkpoint(REDIS_CACHE_PROJECTION))
      .hgetall(key)
      .exec();
    const [[cpError, checkpoint], [hashError, raw]] = results as [
      [Error | null, string | null],
      [Error | null, Record<string, string>],
    ];
    if (cpError || hashError) throw cpError ?? hashError;
    if (BigInt(checkpoint ?? '0') < this.floor) return undefined;
    const hash = raw;
    if (!hash.__pos) return undefined;
    const entries = new Map<string, CachedEntry>();
    const canaries = new Map<string, CachedCanary>();
    for (const [field, json] of Object.entries(hash)) {
      if (field.startsWith(CANARY_FIELD_PREFIX)) {
        canaries.set(field.slice(CANARY_FIELD_PREFIX.length), JSON.parse(json) as CachedCanary);
      } else if (!field.startsWith('__')) {
        entries.set(field, JSON.parse(json) as CachedEntry);
      }
    }
    return snapshotOf(tenantId, environment, hash.__etag ?? hash.__pos, entries, canaries, 'redis');
  }

  private async fromPostgres(key: string, tenantId: string, environment: string) {
    // Rows and the read model's checkpoint in one statement, so one snapshot: the fill below is
    // exactly the state at `checkpoint`.
    const { rows } = await this.db.query<{
      checkpoint: bigint;
      canaries: (CachedCanary & { key: string })[];
      config_id: string | null;
      key: string;
      value: string;
      type: string;
      version: number;
      updated_at: Date;
      deleted_at: Date | null;
      last_position: bigint;
      is_encrypted: boolean;
    }>(
      `WITH cp AS (SELECT COALESCE((SELECT position FROM projection_checkpoints
                                     WHERE name = 'read-model'), 0) AS checkpoint),
            canaries AS (
              SELECT COALESCE(json_agg(json_build_object(
                       'key', k.key, 'id', d.deployment_id, 'value', d.value, 'type', k.type,
                       'percentage', d.canary_percentage, 'encrypted', k.is_encrypted)), '[]')
                AS canaries
                FROM deployments d JOIN configurations k ON k.config_id = d.config_id
               WHERE d.tenant_id = $1 AND d.environment = $2 AND d.strategy = 'Canary'
                 AND d.status IN ('InProgress', 'Paused') AND d.canary_percentage < 100)
       SELECT cp.checkpoint, canaries.canaries, c.config_id, c.key, c.value, c.type, c.version,
              c.updated_at, c.deleted_at, c.last_position, c.is_encrypted
         FROM cp CROSS JOIN canaries
         LEFT JOIN configurations c ON c.tenant_id = $1 AND c.environment = $2`,
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
        ...(r.is_encrypted ? { encrypted: true as const } : {}),
      });
    }
    const canaries = new Map<string, CachedCanary>();
    for (const { key: k, encrypted, ...canary } of (rows[0]?.canaries ?? []) as (CachedCanary & {
      key: string;
      encrypted: boolean;
    })[]) {
      // The same JSON as the projection writes: the flag only when set.
      canaries.set(k, encrypted ? { ...canary, encrypted: true } : canary);
    }
    const fields: string[] = [];
    for (const [k, e] of entries) fields.push(k, JSON.stringify(e));
    for (const [k, c] of canaries) fields.push(`${CANARY_FIELD_PREFIX}${k}`, JSON.stringify(c));
    // Refused when the hash exists already (another reader filled it) or when the redis-cache
    // projection has passed a change this snapshot lacks (the read model is behind it).
    const filled = await this.redis
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
      .then(
        (accepted) => accepted === 1,
        () => false, // Redis down: serve from PostgreSQL without filling.
      );
    const snapshot = snapshotOf(
      tenantId,
      environment,
      etag.toString(),
      entries,
      canaries,
      'postgres',
    );
    snapshot.provisional = !filled;
    // Served without becoming the Redis hash: Redis may not go back behind it.
    if (!filled) this.raiseFloor(checkpoint);
    return snapshot;
  }
}
