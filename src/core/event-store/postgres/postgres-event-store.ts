import pg from 'pg';
import {
  IdempotencyConflictError,
  WrongExpectedVersionError,
  type AppendRequest,
  type AppendResult,
  type EventStore,
  type ReadAllOptions,
  type ReadStreamResult,
  type RecordedEvent,
} from '../event-store.js';

interface EventRow {
  position: bigint;
  stream_id: string;
  stream_revision: bigint;
  event_id: string;
  event_type: string;
  data: unknown;
  metadata: RecordedEvent['metadata'];
  recorded_at: Date;
}

const COLUMNS =
  'position, stream_id, stream_revision, event_id, event_type, data, metadata, recorded_at';

function toRecorded(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.event_type,
    data: row.data,
    metadata: row.metadata,
    streamId: row.stream_id,
    revision: row.stream_revision,
    position: row.position,
    recordedAt: row.recorded_at,
  };
}

/**
 * Event store on PostgreSQL (tables and the `es_append` function come from migrations/). Appends
 * are one statement; the global order is gapless and commit-ordered (see the migration).
 */
export class PostgresEventStore implements EventStore {
  private listener: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private readonly waiters = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    /** Connection settings for the LISTEN client (a dedicated connection). */
    private readonly listenConfig: pg.ClientConfig,
  ) {}

  async append(requests: AppendRequest[]): Promise<AppendResult> {
    const payload = requests.map((r) => ({
      streamId: r.streamId,
      expected: typeof r.expected === 'bigint' ? r.expected.toString() : r.expected,
      events: r.events.map((e) => ({ id: e.id, type: e.type, data: e.data, metadata: e.metadata })),
    }));
    try {
      const { rows } = await this.pool.query<{ result: AppendOutcome }>(
        'SELECT es_append($1::jsonb) AS result',
        [JSON.stringify(payload)],
      );
      const result = rows[0]!.result;
      return {
        position: BigInt(result.position),
        streams: requests.map((r) => {
          const s = result.streams?.find((x) => x.streamId === r.streamId);
          return { streamId: r.streamId, nextExpectedRevision: BigInt(s?.revision ?? -1) };
        }),
      };
    } catch (error) {
      throw translateError(error, requests);
    }
  }

  async readStream(streamId: string): Promise<ReadStreamResult> {
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${COLUMNS} FROM es_events WHERE stream_id = $1 ORDER BY stream_revision`,
      [streamId],
    );
    const events = rows.map(toRecorded);
    return { revision: events.length ? events[events.length - 1]!.revision : -1n, events };
  }

  async readAll({ after, limit, streamPrefixes }: ReadAllOptions): Promise<RecordedEvent[]> {
    const prefixes = streamPrefixes?.length ? [...streamPrefixes] : null;
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${COLUMNS} FROM es_events
        WHERE position > $1
          AND ($3::text[] IS NULL OR EXISTS (SELECT 1 FROM unnest($3::text[]) p
                                              WHERE starts_with(stream_id, p)))
        ORDER BY position
        LIMIT $2`,
      [after.toString(), limit, prefixes],
    );
    return rows.map(toRecorded);
  }

  async headPosition(): Promise<bigint> {
    const { rows } = await this.pool.query<{ position: bigint }>(
      'SELECT position FROM es_global WHERE id',
    );
    return rows[0]?.position ?? 0n;
  }

  async waitForEvents(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return;
    void this.ensureListening().catch(() => undefined);
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1 FROM es_global');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.waiters]) wake();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  private ensureListening(): Promise<void> {
    if (this.listening) return this.listening;
    this.listening = (async () => {
      const client = new pg.Client(this.listenConfig);
      client.on('notification', () => {
        for (const wake of [...this.waiters]) wake();
      });
      // A dropped LISTEN connection is re-opened on the next wait; until then polling covers.
      const reset = () => {
        if (this.listener === client) this.listener = undefined;
        this.listening = undefined;
      };
      client.on('error', reset);
      client.on('end', reset);
      await client.connect();
      await client.query('LISTEN es_events');
      if (this.closed) {
        await client.end();
        return;
      }
      this.listener = client;
    })().catch((error) => {
      this.listening = undefined;
      throw error;
    });
    return this.listening;
  }
}

interface AppendOutcome {
  position: number | string;
  streams: { streamId: string; revision: number | string }[] | null;
}

function translateError(error: unknown, requests: AppendRequest[]): unknown {
  const e = error as { code?: string; detail?: string; message?: string };
  if (e.code === 'ES001') {
    const detail = JSON.parse(e.detail ?? '{}') as { streamId?: string; actual?: number };
    const request = requests.find((r) => r.streamId === detail.streamId) ?? requests[0]!;
    return new WrongExpectedVersionError(
      request.streamId,
      request.expected,
      detail.actual === undefined ? undefined : BigInt(detail.actual),
    );
  }
  if (e.code === 'ES002') return new IdempotencyConflictError(e.message ?? 'idempotency conflict');
  // Unique violations can only come from a racing writer slipping past the lock (they cannot,
  // but the constraint is the last line of defence); report them as concurrency errors.
  if (e.code === '23505') {
    return new WrongExpectedVersionError(requests[0]!.streamId, requests[0]!.expected, undefined);
  }
  return error;
}
