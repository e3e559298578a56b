/**
 * Read-your-writes: a command answers with the position of its last event; a query given that
 * position waits, bounded, until the projections it reads from have reached it. (The HTTP side,
 * reading the position from a request, is core/http/read-your-writes.ts.)
 */
import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/redis.js';
import { REDIS_CACHE_PROJECTION } from '../../features/live-read/redis-cache.projection.js';

/** The read side did not reach a position in time (HTTP: 503 with Retry-After). */
export class ReadSideBehindError extends Error {
  override readonly name = 'ReadSideBehindError';
  constructor(readonly position: bigint) {
    super(`The read side has not reached position ${position} yet; retry shortly`);
  }
}

export class ProjectionProgress {
  constructor(
    private readonly db: pg.Pool,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Per projection: its checkpoint, how many positions it is behind `head`, and seconds since its
   * checkpoint last moved (health, metrics and the admin status all report this).
   */
  async lag(head: bigint) {
    // Rows named `<projection>@<schema>` are a rebuild's shadow checkpoints, not projections.
    const { rows } = await this.db.query<{ name: string; position: bigint; age: number }>(
      `SELECT name, position, EXTRACT(EPOCH FROM now() - updated_at)::float AS age
         FROM projection_checkpoints WHERE position('@' IN name) = 0 ORDER BY name`,
    );
    const lag = rows.map((r) => ({ projection: r.name, position: r.position, ageSeconds: r.age }));
    const cache = await this.redisCheckpoint(REDIS_CACHE_PROJECTION).catch(() => undefined);
    if (cache !== undefined) {
      const movedAt = Number(await this.redisCheckpointMovedAt(REDIS_CACHE_PROJECTION));
      lag.push({
        projection: REDIS_CACHE_PROJECTION,
        position: cache,
        ageSeconds: movedAt ? Math.max(0, Date.now() / 1000 - movedAt) : 0,
      });
    }
    return lag.map((l) => ({ ...l, behind: head > l.position ? head - l.position : 0n }));
  }

  async positions(): Promise<Record<string, bigint>> {
    const { rows } = await this.db.query<{ name: string; position: bigint }>(
      'SELECT name, position FROM projection_checkpoints',
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.position]));
  }

  /** Epoch seconds when a Redis-kept checkpoint last moved ('' when never). */
  async redisCheckpointMovedAt(name: string): Promise<string> {
    return (await this.redis.get(this.keys.checkpointAt(name)).catch(() => null)) ?? '';
  }

  async redisCheckpoint(name: string): Promise<bigint> {
    return BigInt((await this.redis.get(this.keys.checkpoint(name))) ?? '0');
  }

  /** Resolves once every named projection is at `position` or beyond; throws after the timeout. */
  async waitFor(position: bigint, pg: string[], redis: string[] = []): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    let delay = 5;
    for (;;) {
      const reached = await this.reached(position, pg, redis).catch(() => false);
      if (reached) return;
      if (Date.now() >= deadline) {
        throw new ReadSideBehindError(position);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(50, delay * 2);
    }
  }

  private async reached(position: bigint, pgNames: string[], redisNames: string[]) {
    if (pgNames.length) {
      const { rows } = await this.db.query<{ position: bigint }>(
        'SELECT position FROM projection_checkpoints WHERE name = ANY($1)',
        [pgNames],
      );
      if (rows.length < pgNames.length || rows.some((r) => r.position < position)) return false;
    }
    for (const name of redisNames) {
      if ((await this.redisCheckpoint(name)) < position) return false;
    }
    return true;
  }
}
