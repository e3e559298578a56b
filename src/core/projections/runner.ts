/**
 * Runs one PostgreSQL projection as a catch-up subscription over the global log.
 *
 * Exactly once: every batch locks the projection's checkpoint row, checks that it still is where
 * this runner left it, applies the events and moves the checkpoint in the same transaction. If
 * someone else moved it (a rebuild reset it, or a second instance got there first), the batch is
 * dropped and the runner carries on from the stored checkpoint. The advisory lock keeps a second
 * instance on standby, so the check only matters during take-overs and rebuilds.
 */
import pg from 'pg';
import { catchUp, sleep, type EventStore, type RecordedEvent } from '../event-store/event-store.js';
import type { PostgresProjection } from './projection.js';
import { inSpan, linksTo } from '../observability/trace-context.js';

export interface RunnerOptions {
  batchSize?: number;
  idleWaitMs?: number;
  onError?: (error: unknown, projection: string) => void;
  onBatch?: (projection: string, events: RecordedEvent[], checkpoint: bigint) => void;
  /** Called while the projection follows the log without failing (heartbeats). */
  onAlive?: (projection: string) => void;
  /** Write the projection's tables in this schema instead (a rebuild's shadow tables). */
  schema?: string;
}

/** Stable advisory-lock key per projection name. */
export function lockKey(name: string): string {
  let h = 0n;
  for (const ch of `projection:${name}`)
    h = (h * 31n + BigInt(ch.codePointAt(0)!)) & 0x7fffffffffffffffn;
  return h.toString();
}

export async function readCheckpoint(db: pg.Pool | pg.PoolClient, name: string): Promise<bigint> {
  const { rows } = await db.query<{ position: bigint }>(
    'SELECT position FROM projection_checkpoints WHERE name = $1',
    [name],
  );
  return rows[0]?.position ?? 0n;
}

export class PostgresProjectionRunner {
  constructor(
    private readonly pool: pg.Pool,
    private readonly store: EventStore,
    readonly projection: PostgresProjection,
    private readonly options: RunnerOptions = {},
  ) {}

  /**
   * Applies one batch if the checkpoint is still at `from`; returns where the checkpoint is now.
   * An empty batch with `to` records that nothing up to `to` was for this projection.
   */
  async applyBatch(
    from: bigint,
    events: RecordedEvent[],
    to?: bigint,
    signal?: AbortSignal,
  ): Promise<bigint> {
    if (events.length === 0) return this.applyInTransaction(from, events, to);
    // One span per batch, linked to the requests whose events it projects.
    return inSpan(
      `projection ${this.projection.name}`,
      { links: linksTo(events.map((e) => e.metadata)), attributes: { events: events.length } },
      () => this.applyInTransaction(from, events, to, signal),
    );
  }

  private async applyInTransaction(
    from: bigint,
    events: RecordedEvent[],
    to?: bigint,
    signal?: AbortSignal,
  ): Promise<bigint> {
    const { name } = this.projection;
    const client = await this.pool.connect();
    try {
      // The commit stays synchronous: what a batch announced (cache invalidations, jobs,
      // webhook deliveries, read-your-writes positions) must not go back behind a crash.
      await client.query(
        'BEGIN' +
          // Unqualified table names resolve to the shadow tables; checkpoints stay in public.
          (this.options.schema
            ? `; SET LOCAL search_path TO "${this.options.schema}", public`
            : ''),
      );
      // Creates the checkpoint row if need be and locks it, in one round trip.
      const { rows } = await client.query<{ position: bigint }>(
        `INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0)
         ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING position`,
        [name],
      );
      const stored = rows[0]!.position;
      if (stored !== from) {
        await client.query('ROLLBACK');
        return stored;
      }
      if (events.length > 0) await this.projection.apply(client, events, signal);
      const reached = events.length > 0 ? events[events.length - 1]!.position : to!;
      // Checkpoint and commit in one round trip (a simple query cannot take parameters).
      await client.query(
        `UPDATE projection_checkpoints SET position = ${BigInt(reached).toString()},
                updated_at = now() WHERE name = ${client.escapeLiteral(name)}; COMMIT`,
      );
      this.options.onBatch?.(name, events, reached);
      return reached;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Processes everything up to the current head, then returns (CLI rebuilds and tests). */
  async catchUpOnce(): Promise<bigint> {
    let position = await readCheckpoint(this.pool, this.projection.name);
    for (;;) {
      const head = await this.store.headPosition();
      const events = await this.store.readAll({
        after: position,
        limit: this.options.batchSize ?? 500,
        streamPrefixes: this.projection.streamPrefixes,
      });
      if (events.length > 0) position = await this.applyBatch(position, events);
      else if (head > position) position = await this.applyBatch(position, [], head);
      else return position;
    }
  }

  /** Runs until the signal aborts: waits for the advisory lock, then follows the log. */
  async run(signal: AbortSignal): Promise<void> {
    await whileHoldingLock(
      (this.pool as unknown as { options: pg.ClientConfig }).options,
      this.projection.name,
      signal,
      async (held) =>
        catchUp(
          this.store,
          {
            after: await readCheckpoint(this.pool, this.projection.name),
            batchSize: this.options.batchSize ?? 500,
            streamPrefixes: this.projection.streamPrefixes,
            idleWaitMs: this.options.idleWaitMs ?? 1000,
            signal: held,
            onError: (e) => this.options.onError?.(e, this.projection.name),
            onIdle: (after, head) => this.applyBatch(after, [], head),
            onAlive: () => this.options.onAlive?.(this.projection.name),
          },
          // `after` is where this runner believes the checkpoint is; applyBatch checks it.
          (events, after) => this.applyBatch(after, events, undefined, held),
        ),
      (error) => this.options.onError?.(error, this.projection.name),
    );
  }
}

/**
 * Runs `work` only while this process holds the projection's PostgreSQL advisory lock (on a
 * connection of its own): other instances stand by and take over when the holder stops or its
 * connection drops. `work` gets a signal that aborts when the lock is lost.
 */
export async function whileHoldingLock(
  config: pg.ClientConfig,
  name: string,
  signal: AbortSignal,
  work: (held: AbortSignal) => Promise<void>,
  onError: (error: unknown) => void = () => undefined,
): Promise<void> {
  while (!signal.aborted) {
    const lockClient = new pg.Client(config);
    const lost = new AbortController();
    const stop = () => lost.abort();
    signal.addEventListener('abort', stop, { once: true });
    lockClient.on('error', stop);
    lockClient.on('end', stop);
    try {
      await lockClient.connect();
      const { rows } = await lockClient.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1::bigint) AS locked',
        [lockKey(name)],
      );
      if (!rows[0]!.locked) {
        // Another instance runs this projection: stand by and try again.
        await sleep(2000, lost.signal);
        continue;
      }
      await work(lost.signal);
    } catch (error) {
      onError(error);
      await sleep(1000, signal);
    } finally {
      signal.removeEventListener('abort', stop);
      await lockClient.end().catch(() => undefined);
    }
  }
}
