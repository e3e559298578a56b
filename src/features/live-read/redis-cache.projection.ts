/**
 * The `redis-cache` projection: keeps the hot-read cache in Redis up to date.
 *
 * The cache holds one hash per (tenant, environment): a field per live key plus `__pos` (the
 * position the hash is current to) and `__etag`. Hashes are created only by the read path, from a
 * consistent Postgres snapshot at a known position (see `FILL_SCRIPT`); this projection applies
 * later events to hashes that exist and skips those that do not, and remembers per environment
 * the position of the last change it saw: a fill from a snapshot older than that is refused. So
 * an evicted, expired or never cached environment is never half-filled nor filled from before a
 * change already applied, and a Redis restart needs no special handling.
 *
 * Each batch runs as one Lua script that checks the checkpoint, applies the changes and moves the
 * checkpoint atomically, and publishes every environment the batch changed, cached in Redis or
 * not: an API instance may hold a copy of an environment whose hash has since expired, and it
 * must hear of the change all the same.
 */
import type { Redis } from 'ioredis';
import {
  catchUp,
  type EventStore,
  type RecordedEvent,
} from '../../core/event-store/event-store.js';
import { isVersioned, type ConfigurationEvent } from '../configs/config.decider.js';
import type { DeploymentEvent } from '../deployments/deployment.decider.js';
import { CONFIG_PREFIX, DEPLOYMENT_PREFIX } from '../../core/streams.js';
import type { RedisKeys } from '../../core/redis/redis.js';
import { eventTime } from '../../core/projections/projection.js';
import { inSpan, linksTo } from '../../core/observability/trace-context.js';

export const REDIS_CACHE_PROJECTION = 'redis-cache';

/** What the cache stores per key (JSON). `value` is the stored text; the reader types it. */
export interface CachedEntry {
  id: string;
  value: string;
  type: string;
  version: number;
  updatedAt: string;
  /** `value` is ciphertext (an encrypted configuration): served masked unless revealed. */
  encrypted?: true;
}

// KEYS[1] = checkpoint, then per environment: its hash and its skip marker, then the checkpoint's
// moved-at key. ARGV[1] = expected
// checkpoint, ARGV[2] = new checkpoint, ARGV[3] = channel, ARGV[4] = op count, then per op: the
// environment's index (1-based), position, field, entry JSON ('' = delete).
const APPLY_SCRIPT = `
local cp = redis.call('GET', KEYS[1]) or '0'
if cp ~= ARGV[1] then return cp end
local n = tonumber(ARGV[4])
local touched = {}
for i = 0, n - 1 do
  local base = 5 + i * 4
  local env = tonumber(ARGV[base])
  local key = KEYS[2 * env]
  local pos = tonumber(ARGV[base + 1])
  if redis.call('EXISTS', key) == 1 then
    local cur = tonumber(redis.call('HGET', key, '__pos') or '0')
    -- >=: one event may change several fields; re-applying the fill's own position is harmless.
    if pos >= cur then
      if ARGV[base + 3] == '' then
        redis.call('HDEL', key, ARGV[base + 2])
      else
        redis.call('HSET', key, ARGV[base + 2], ARGV[base + 3])
      end
      redis.call('HSET', key, '__pos', ARGV[base + 1], '__etag', ARGV[base + 1])
    end
  end
  -- Announced even when the hash already had it (filled from a read model that was ahead):
  -- an instance may still hold a copy from before the change.
  touched[key] = true
  -- Remember every change, cached or not: once the hash expires, no fill from a snapshot older
  -- than a change already announced may be accepted (the read model can lag this projection).
  if pos > tonumber(redis.call('GET', KEYS[2 * env + 1]) or '0') then
    redis.call('SET', KEYS[2 * env + 1], ARGV[base + 1])
  end
end
if ARGV[2] ~= cp then
  redis.call('SET', KEYS[1], ARGV[2])
  -- The last key: when the checkpoint last moved (server time), for the lag metrics.
  redis.call('SET', KEYS[#KEYS], redis.call('TIME')[1])
end
for key, _ in pairs(touched) do redis.call('PUBLISH', ARGV[3], key) end
return 'OK'
`;

/**
 * Creates an environment's hash from a Postgres snapshot taken at position ARGV[1], unless it
 * exists already or this projection skipped a change to it after that snapshot (the fill would
 * miss it). KEYS[1] = hash, KEYS[2] = skip marker; ARGV[2] = etag, ARGV[3] = TTL seconds, then
 * field/value pairs.
 */
export const FILL_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local skipped = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) < skipped then return 0 end
redis.call('HSET', KEYS[1], '__pos', ARGV[1], '__etag', ARGV[2])
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return 1
`;

/** A canary in progress on a key, cached beside it as field `~canary:{key}`. */
export interface CachedCanary {
  id: string;
  value: string;
  type: string;
  percentage: number;
  /** `value` is ciphertext. */
  encrypted?: true;
}

export const CANARY_FIELD_PREFIX = '~canary:';

/** The cache operations (field, JSON or '' to delete) that one event implies. */
export function cacheOps(e: RecordedEvent): { field: string; entry: string }[] {
  if (e.streamId.startsWith(CONFIG_PREFIX)) {
    const event = e as unknown as ConfigurationEvent;
    if (!isVersioned(event)) return [];
    const d = event.data;
    if (event.type === 'ConfigurationDeleted') return [{ field: d.key, entry: '' }];
    const entry: CachedEntry = {
      id: d.configId,
      value: d.value,
      type: d.type,
      version: d.version,
      updatedAt: eventTime(e),
      ...(d.isEncrypted ? { encrypted: true as const } : {}),
    };
    return [{ field: d.key, entry: JSON.stringify(entry) }];
  }
  if (e.streamId.startsWith(DEPLOYMENT_PREFIX)) {
    const event = e as unknown as DeploymentEvent;
    const field = `${CANARY_FIELD_PREFIX}${event.data.key}`;
    const canary = (percentage: number, value: string, type: string, encrypted?: boolean) => [
      {
        field,
        entry: JSON.stringify({
          id: event.data.deploymentId,
          value,
          type,
          percentage,
          ...(encrypted ? { encrypted: true as const } : {}),
        } satisfies CachedCanary),
      },
    ];
    switch (event.type) {
      case 'DeploymentStarted':
        return event.data.strategy === 'Canary'
          ? canary(event.data.steps[0]!, event.data.value, event.data.type, event.data.isEncrypted)
          : [];
      case 'DeploymentStepAdvanced':
        // At 100 % the new version itself is about to be served; the canary field goes with it.
        return event.data.canaryPercentage < 100
          ? canary(
              event.data.canaryPercentage,
              event.data.value,
              event.data.type,
              event.data.isEncrypted,
            )
          : [];
      case 'DeploymentCompleted':
      case 'DeploymentRolledBack':
        return [{ field, entry: '' }];
      default:
        return [];
    }
  }
  return [];
}

export class RedisCacheProjection {
  readonly name = REDIS_CACHE_PROJECTION;
  readonly streamPrefixes = [CONFIG_PREFIX, DEPLOYMENT_PREFIX];

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly store: EventStore,
  ) {}

  async checkpoint(): Promise<bigint> {
    return BigInt((await this.redis.get(this.keys.checkpoint(this.name))) ?? '0');
  }

  /** Applies a batch if the checkpoint is still `from`; returns where the checkpoint is now. */
  async applyBatch(from: bigint, events: RecordedEvent[], to?: bigint): Promise<bigint> {
    if (events.length === 0) return this.applyScript(from, events, to);
    return inSpan(
      `projection ${this.name}`,
      { links: linksTo(events.map((e) => e.metadata)), attributes: { events: events.length } },
      () => this.applyScript(from, events, to),
    );
  }

  private async applyScript(from: bigint, events: RecordedEvent[], to?: bigint): Promise<bigint> {
    const envKeys: string[] = [];
    const index = new Map<string, number>();
    const ops: string[] = [];
    let count = 0;
    for (const e of events) {
      const changes = cacheOps(e);
      if (!changes.length) continue;
      const { tenantId, environment } = e.data as { tenantId: string; environment: string };
      const key = this.keys.env(tenantId, environment);
      if (!index.has(key)) {
        envKeys.push(key, this.keys.envSkip(tenantId, environment));
        index.set(key, envKeys.length / 2);
      }
      for (const { field, entry } of changes) {
        ops.push(String(index.get(key)), e.position.toString(), field, entry);
        count++;
      }
    }
    const reached = events.length ? events[events.length - 1]!.position : to!;
    const result = await this.redis.eval(
      APPLY_SCRIPT,
      2 + envKeys.length,
      this.keys.checkpoint(this.name),
      ...envKeys,
      this.keys.checkpointAt(this.name),
      from.toString(),
      reached.toString(),
      this.keys.invalidationChannel,
      String(count),
      ...ops,
    );
    return result === 'OK' ? reached : BigInt(result as string);
  }

  async catchUpOnce(batchSize = 500): Promise<bigint> {
    let position = await this.checkpoint();
    for (;;) {
      const head = await this.store.headPosition();
      const events = await this.store.readAll({
        after: position,
        limit: batchSize,
        streamPrefixes: this.streamPrefixes,
      });
      if (events.length > 0) position = await this.applyBatch(position, events);
      else if (head > position) position = await this.applyBatch(position, [], head);
      else return position;
    }
  }

  async run(
    signal: AbortSignal,
    options: {
      batchSize?: number;
      idleWaitMs?: number;
      onError?: (e: unknown) => void;
      onAlive?: () => void;
    } = {},
  ): Promise<void> {
    await catchUp(
      this.store,
      {
        after: await this.checkpoint(),
        batchSize: options.batchSize ?? 500,
        streamPrefixes: this.streamPrefixes,
        idleWaitMs: options.idleWaitMs ?? 1000,
        signal,
        onError: options.onError,
        onAlive: options.onAlive,
        onIdle: (after, head) => this.applyBatch(after, [], head),
      },
      (events, after) => this.applyBatch(after, events),
    );
  }

  /** Rebuild from zero: drop every cached environment and the checkpoint. */
  async reset(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(
        cursor,
        'MATCH',
        `${this.keys.env('*', '*')}`,
        'COUNT',
        500,
      );
      cursor = next;
      if (keys.length) await this.redis.del(...keys);
    } while (cursor !== '0');
    await this.redis.del(this.keys.checkpoint(this.name), this.keys.checkpointAt(this.name));
  }
}
