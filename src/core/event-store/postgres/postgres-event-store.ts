import pg from 'pg';
import {
  IdempotencyConflictError,
  WrongExpectedVersionError,
  type AppendRequest,
  type AppendResult,
  type EventStore,
  type ReadAllOptions,
  type ReadStreamOptions,
  type ReadStreamResult,
  type RecordedEvent,
  Wakeups,
} from '../event-store.js';
import { contentDigest } from '../chain.js';

interface EventRow {
  position: bigint;
  stream_id: string;
  stream_revision: bigint;
  event_id: string;
  event_type: string;
  data: unknown;
  metadata: RecordedEvent['metadata'];
  recorded_at: Date;
  hash: Buffer | null;
}

const COLUMNS =
  'position, stream_id, stream_revision, event_id, event_type, data, metadata, recorded_at, hash';

const READ_STREAM = `SELECT ${COLUMNS} FROM es_events WHERE stream_id = $1 ORDER BY stream_revision`;
const READ_STREAM_FROM = `SELECT ${COLUMNS} FROM es_events
  WHERE stream_id = $1 AND stream_revision >= $2 ORDER BY stream_revision`;

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
    ...(row.hash ? { hash: row.hash.toString('hex') } : {}),
  };
}

/**
 * Event store on PostgreSQL (tables and the `es_append` function come from migrations/). Appends
 * are one statement; the global order is gapless and commit-ordered (see the migration).
 */
export class PostgresEventStore implements EventStore {
  private listener: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private readonly wakeups = new Wakeups();
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    /** Connection settings for the LISTEN client (a dedicated connection). */
    private readonly listenConfig: pg.ClientConfig,
    /** Off only to measure what hashing costs (`npm run bench:append`): events go unchained. */
    private readonly options: { hashChain?: boolean } = {},
  ) {}

  /**
   * Appends go out in batches: while one batch commits, the appends that arrive wait and then
   * commit together, each in its own subtransaction (`es_append_many`). Appends are serialised on
   * the global position lock anyway; batching shares one commit (one WAL flush) among them.
   */
  append(requests: AppendRequest[]): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ requests, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private readonly pending: PendingAppend[] = [];
  private flushing = false;

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        // Appends retried alone (always at the front) go out one at a time.
        const batch = this.pending.splice(0, this.pending[0]?.alone ? 1 : MAX_BATCH);
        const payload = batch.map(({ requests }) =>
          requests.map((r) => ({
            streamId: r.streamId,
            expected: typeof r.expected === 'bigint' ? r.expected.toString() : r.expected,
            events: r.events.map((e) => ({
              id: e.id,
              type: e.type,
              data: e.data,
              metadata: e.metadata,
              // The store links it into the stream's chain (see chain.ts).
              ...(this.options.hashChain === false
                ? {}
                : { digest: contentDigest(e).toString('hex') }),
            })),
          })),
        );
        let outcomes: BatchOutcome[];
        try {
          const { rows } = await this.pool.query<{ results: BatchOutcome[] }>({
            name: 'es-append-many',
            text: 'SELECT es_append_many($1::jsonb) AS results',
            values: [JSON.stringify(payload)],
          });
          outcomes = rows[0]!.results;
        } catch (error) {
          if (batch.length === 1) {
            batch[0]!.reject(error);
            continue;
          }
          // The statement as a whole failed (e.g. one payload jsonb cannot hold): try each append
          // on its own, so only the culprit fails. Appends are idempotent by event id, so one that
          // did commit before a dropped connection is answered with its original result.
          this.pending.unshift(...batch.map((p) => ({ ...p, alone: true })));
          continue;
        }
        batch.forEach((p, i) => {
          const outcome = outcomes[i]!;
          if ('ok' in outcome) p.resolve(toAppendResult(p.requests, outcome.ok));
          else p.reject(translateError(outcome, p.requests));
        });
      }
    } finally {
      this.flushing = false;
    }
  }

  async readStream(streamId: string, options?: ReadStreamOptions): Promise<ReadStreamResult> {
    // Named: parsed and planned once per connection (every command reads streams).
    const { rows } = await this.pool.query<EventRow>(
      options?.fromRevision === undefined
        ? { name: 'es-read-stream', text: READ_STREAM, values: [streamId] }
        : {
            name: 'es-read-stream-from',
            text: READ_STREAM_FROM,
            values: [streamId, options.fromRevision.toString()],
          },
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

  wakeMark(): number {
    return this.wakeups.mark;
  }

  async waitForEvents(timeoutMs: number, signal?: AbortSignal, since?: number): Promise<void> {
    if (this.closed || signal?.aborted) return;
    void this.ensureListening().catch(() => undefined);
    await this.wakeups.wait(timeoutMs, signal, since);
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1 FROM es_global');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeups.wakeAll();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  private ensureListening(): Promise<void> {
    if (this.listening) return this.listening;
    this.listening = (async () => {
      const client = new pg.Client(this.listenConfig);
      client.on('notification', () => {
        this.wakeups.wakeAll();
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
      // Anything committed before LISTEN took effect sent its NOTIFY to nobody: wake every
      // waiter once, so that each reads again instead of sleeping through it.
      this.wakeups.wakeAll();
    })().catch((error) => {
      this.listening = undefined;
      throw error;
    });
    return this.listening;
  }
}

/** Appends per transaction at most (they share one commit). */
const MAX_BATCH = 100;

interface PendingAppend {
  requests: AppendRequest[];
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
  /** Set when its batch failed as a whole: it is retried in a batch of its own. */
  alone?: boolean;
}

type BatchOutcome =
  { ok: AppendOutcome } | { error: string; message: string; detail: string | null };

function toAppendResult(requests: AppendRequest[], result: AppendOutcome): AppendResult {
  return {
    position: BigInt(result.position),
    streams: requests.map((r) => {
      const s = result.streams?.find((x) => x.streamId === r.streamId);
      return { streamId: r.streamId, nextExpectedRevision: BigInt(s?.revision ?? -1) };
    }),
  };
}

interface AppendOutcome {
  position: number | string;
  streams: { streamId: string; revision: number | string }[] | null;
}

function translateError(
  failure: { error: string; message: string; detail: string | null },
  requests: AppendRequest[],
): unknown {
  const e = { code: failure.error, detail: failure.detail ?? undefined, message: failure.message };
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
  return Object.assign(new Error(`append failed: ${e.message}`), { code: e.code });
}
