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
 * Watchers (apps following an environment live) are told after every invalidation of their
 * environment and after every clear; while pub/sub is down they are also told once a second, so
 * they re-read at the same pace as the snapshots expire.
 */
import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../infrastructure/redis.js';
import {
  CANARY_FIELD_PREFIX,
  FILL_SCRIPT,
  type CachedCanary,
  type CachedEntry,
} from '../../projections/redis-cache.js';
import { onCanary } from '../domain/deployment.js';
import { typedValue } from '../domain/values.js';

export interface EnvSnapshot {
  tenantId: string;
  environment: string;
  /** Quoted ETag of the whole environment. */
  etag: string;
  entries: Map<string, CachedEntry>;
  /** Canary deployments running on keys of this environment. */
  canaries: Map<string, CachedCanary>;
  /** Pre-rendered body of the whole environment. */
  body: Buffer;
  /** Pre-rendered bodies of single keys, made on first use. */
  keyBodies: Map<string, Rendered>;
  /** The whole environment as most clients get it (with its headers, once built). */
  stable?: Rendered;
  /** Hash of the running canaries and their shares: part of the ETags of bodies naming them. */
  canaryTag?: string;
  /** Whole-environment bodies per set of keys a client sees on the canary side. */
  envVariants: Map<string, Rendered>;
  expiresAt: number;
  source: 'redis' | 'postgres';
  /**
   * Read from PostgreSQL without becoming the Redis hash (the fill was refused or Redis is down):
   * later changes may never be announced against it, so it is kept one second only.
   */
  provisional: boolean;
}

export type CacheSource = 'local' | 'redis' | 'postgres';

export interface Rendered {
  body: Buffer;
  etag: string;
  /** Response headers, built on first use. */
  headers?: string[];
  /** The server-sent event carrying this body, built on first use (shared by all streams). */
  event?: string;
}

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
    // A read started before the change must not answer reads that come after it.
    this.inFlight.delete(envKey);
    this.notify(this.watchers.get(envKey));
  }

  clear(): void {
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
    const hash = await this.redis.hgetall(key);
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
    }>(
      `WITH cp AS (SELECT COALESCE((SELECT position FROM projection_checkpoints
                                     WHERE name = 'read-model'), 0) AS checkpoint),
            canaries AS (
              SELECT COALESCE(json_agg(json_build_object(
                       'key', k.key, 'id', d.deployment_id, 'value', d.value, 'type', k.type,
                       'percentage', d.canary_percentage)), '[]') AS canaries
                FROM deployments d JOIN configurations k ON k.config_id = d.config_id
               WHERE d.tenant_id = $1 AND d.environment = $2 AND d.strategy = 'Canary'
                 AND d.status IN ('InProgress', 'Paused') AND d.canary_percentage < 100)
       SELECT cp.checkpoint, canaries.canaries, c.config_id, c.key, c.value, c.type, c.version,
              c.updated_at, c.deleted_at, c.last_position
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
      });
    }
    const canaries = new Map<string, CachedCanary>();
    for (const { key: k, ...canary } of rows[0]?.canaries ?? []) canaries.set(k, canary);
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
    return snapshot;
  }
}

function snapshotOf(
  tenantId: string,
  environment: string,
  etag: string,
  entries: Map<string, CachedEntry>,
  canaries: Map<string, CachedCanary>,
  source: 'redis' | 'postgres',
): EnvSnapshot {
  const snap: EnvSnapshot = {
    tenantId,
    environment,
    etag: `"${etag}"`,
    entries,
    canaries,
    body: Buffer.alloc(0),
    keyBodies: new Map(),
    envVariants: new Map(),
    expiresAt: 0,
    source,
    provisional: false,
  };
  snap.body = renderEnv(snap, new Set());
  return snap;
}

function renderEnv(snap: EnvSnapshot, canarySide: Set<string>): Buffer {
  const configs: Record<string, unknown> = {};
  const deployments: Record<string, { deploymentId: string; side: 'canary' | 'stable' }> = {};
  for (const [k, e] of [...snap.entries].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const canary = snap.canaries.get(k);
    configs[k] = canarySide.has(k)
      ? typedValue(canary!.type, canary!.value)
      : typedValue(e.type, e.value);
    if (canary) {
      deployments[k] = { deploymentId: canary.id, side: canarySide.has(k) ? 'canary' : 'stable' };
    }
  }
  const body: Record<string, unknown> = {
    tenantId: snap.tenantId,
    environment: snap.environment,
    version: Number(snap.etag.slice(1, -1)),
    configs,
  };
  if (Object.keys(deployments).length) body.deployments = deployments;
  return Buffer.from(JSON.stringify(body));
}

/**
 * The whole environment for a client. Without a client id, or with no canary running, it is the
 * one pre-rendered body; otherwise the variant for the keys this client sees on the canary side.
 */
export function envBody(snap: EnvSnapshot, clientId: string | undefined): Rendered {
  if (snap.canaries.size === 0) return (snap.stable ??= { body: snap.body, etag: snap.etag });
  // The body names the running canaries, so they (and their shares) are part of every ETag.
  snap.canaryTag ??= shortHash(
    [...snap.canaries]
      .map(([k, c]) => `${k}=${c.id}@${c.percentage}`)
      .sort()
      .join(','),
  );
  const base = `${snap.etag.slice(1, -1)}-${snap.canaryTag}`;
  if (!clientId) return (snap.stable ??= { body: snap.body, etag: `"${base}"` });
  const side = new Set<string>();
  for (const [k, c] of snap.canaries) {
    if (snap.entries.has(k) && onCanary(clientId, c.id, c.percentage)) side.add(k);
  }
  const variant = [...side].sort().join('\u0000');
  let rendered = snap.envVariants.get(variant);
  if (!rendered) {
    rendered = {
      body: renderEnv(snap, side),
      // Clients on different sides must not share an ETag.
      etag: side.size ? `"${base}-c${shortHash(variant)}"` : `"${base}"`,
    };
    if (snap.envVariants.size < 1024) snap.envVariants.set(variant, rendered);
  }
  return rendered;
}

function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}

/** One key for a client: the canary value if a canary runs on it and the client is on its side. */
export function keyBody(snap: EnvSnapshot, key: string, clientId?: string): Rendered | undefined {
  const canary = snap.canaries.get(key);
  const side =
    canary && clientId
      ? onCanary(clientId, canary.id, canary.percentage)
        ? 'canary'
        : 'stable'
      : undefined;
  const memo =
    side === 'canary' ? `${key}\u0000canary` : side === 'stable' ? `${key}\u0000stable` : key;
  let rendered = snap.keyBodies.get(memo);
  if (rendered) return rendered;
  const e = snap.entries.get(key);
  if (!e) return undefined;
  const served = side === 'canary' ? canary! : e;
  rendered = {
    // The body names the deployment and the side, so both are part of the ETag.
    etag: side ? `"${e.version}-${canary!.id}-${side}"` : `"${e.version}"`,
    body: Buffer.from(
      JSON.stringify({
        tenantId: snap.tenantId,
        environment: snap.environment,
        key,
        value: typedValue(served.type, served.value),
        type: e.type,
        version: e.version,
        configId: e.id,
        updatedAt: e.updatedAt,
        ...(side ? { deployment: { deploymentId: canary!.id, side } } : {}),
      }),
    ),
  };
  snap.keyBodies.set(memo, rendered);
  return rendered;
}
