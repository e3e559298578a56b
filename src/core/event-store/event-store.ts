/**
 * The event store port. Two adapters implement it (PostgreSQL, KurrentDB/EventStoreDB) and both
 * must pass the one conformance suite in `conformance.ts`.
 *
 * Positions in the global log are bigints: the PostgreSQL adapter's gapless commit-ordered
 * sequence, or KurrentDB's commit position. A position is only ever compared with positions
 * from the same store.
 */

/** Expected state of a stream before an append (optimistic concurrency). */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

export const ANY: ExpectedRevision = 'any';
export const NO_STREAM: ExpectedRevision = 'no_stream';
export const STREAM_EXISTS: ExpectedRevision = 'stream_exists';

export interface EventMetadata {
  userId?: string;
  ipAddress?: string;
  traceId?: string;
  correlationId?: string;
  causationId?: string;
  /** ISO-8601 time at which the command was decided. */
  timestamp: string;
  schemaVersion: number;
  [extra: string]: unknown;
}

/** An event about to be appended. `id` makes retried appends idempotent. */
export interface NewEvent<T extends string = string, D = unknown> {
  id: string;
  type: T;
  data: D;
  metadata: EventMetadata;
}

/** An event read back from the store. */
export interface RecordedEvent<T extends string = string, D = unknown> extends NewEvent<T, D> {
  streamId: string;
  /** 0-based position of the event inside its stream. */
  revision: bigint;
  /** Position in the global log. */
  position: bigint;
  /** When the store recorded it. */
  recordedAt: Date;
  /** Hex SHA-256 link of the stream's hash chain (chain.ts); absent when the store has none. */
  hash?: string;
}

export interface AppendRequest {
  streamId: string;
  expected: ExpectedRevision;
  events: NewEvent[];
}

export interface AppendResult {
  /** Revision of the last event now in each stream, in request order. */
  streams: { streamId: string; nextExpectedRevision: bigint }[];
  /** Global position of the last appended event (or of the original append, if idempotent). */
  position: bigint;
}

export interface ReadStreamResult {
  /** -1n when the stream does not exist. */
  revision: bigint;
  events: RecordedEvent[];
  /** Some events carry values the store decrypted: keep them no longer than needed. */
  decrypted?: true;
}

export interface ReadStreamOptions {
  /** Inclusive. */
  fromRevision?: bigint;
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. 0n = from the start. */
  after: bigint;
  limit: number;
  /** Only streams whose id starts with one of these prefixes. Empty/undefined = all. */
  streamPrefixes?: readonly string[];
}

export interface EventStore {
  /**
   * Appends to one or more streams atomically: every stream's expected revision is checked, and
   * either all events are written or none. Throws WrongExpectedVersionError on a mismatch.
   * Appending events whose ids were all already appended to that stream is a no-op that returns
   * the original result (idempotent retry).
   */
  append(requests: AppendRequest[]): Promise<AppendResult>;
  /**
   * A stream's events in revision order; with `fromRevision`, only those at and after it (the
   * command handler's cached states read just what is new; the event at `fromRevision` itself
   * comes back so the caller can check it is still the one it folded).
   */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<ReadStreamResult>;
  /** One page of the global log, in global order. */
  readAll(options: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Position of the newest event in the global log (0n when empty). */
  headPosition(): Promise<bigint>;
  /**
   * Resolves when new events may be available (or after `timeoutMs`). A hint only: callers
   * always re-read from their own checkpoint, so a missed wake-up costs latency, never events.
   * Given `since` (a `wakeMark()` taken before the caller's last read), it resolves at once if a
   * wake-up came after that mark: one that arrives between a read and the wait is not lost.
   */
  waitForEvents(timeoutMs: number, signal?: AbortSignal, since?: number): Promise<void>;
  /** Counts the wake-ups this store has seen (see `waitForEvents`). */
  wakeMark(): number;
  /** Cheap liveness probe for /health/ready. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class WrongExpectedVersionError extends Error {
  override readonly name = 'WrongExpectedVersionError';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    /** -1n when the stream does not exist; undefined when the store did not say. */
    readonly actual: bigint | undefined,
  ) {
    super(
      `Wrong expected version on stream '${streamId}': expected ${String(expected)}, actual ${
        actual === undefined ? 'unknown' : String(actual)
      }`,
    );
  }
}

/** Raised when a retried append reuses some, but not all, event ids of an earlier append. */
export class IdempotencyConflictError extends Error {
  override readonly name = 'IdempotencyConflictError';
}

export class EventStoreUnavailableError extends Error {
  override readonly name = 'EventStoreUnavailableError';
}

/**
 * Subscribes a handler to the global log from `after`, in batches, until the signal aborts.
 * `onIdle` lets a filtered subscriber record that it has seen everything up to `head` even when
 * the newest events were not for it (so "has it reached position P?" has an answer).
 */
export async function catchUp(
  store: EventStore,
  options: {
    after: bigint;
    batchSize: number;
    streamPrefixes?: readonly string[];
    idleWaitMs?: number;
    signal: AbortSignal;
    onError?: (error: unknown) => void;
    onIdle?: (after: bigint, head: bigint) => Promise<bigint>;
    /** Called after every read of the log that went well (events or none): a heartbeat. */
    onAlive?: () => void;
  },
  handle: (events: RecordedEvent[], after: bigint) => Promise<bigint | void>,
): Promise<void> {
  let after = options.after;
  let failures = 0;
  while (!options.signal.aborted) {
    try {
      // Before reading: a wake-up from here on ends the idle wait below at once.
      const mark = store.wakeMark();
      // Read the head first: when the page comes back empty, nothing up to it was ours.
      const head = options.onIdle ? await store.headPosition() : 0n;
      const events = await store.readAll({
        after,
        limit: options.batchSize,
        streamPrefixes: options.streamPrefixes,
      });
      if (events.length === 0) {
        if (options.onIdle && head > after) {
          after = await options.onIdle(after, head);
          options.onAlive?.();
          continue;
        }
        options.onAlive?.();
        await store.waitForEvents(options.idleWaitMs ?? 1000, options.signal, mark);
        failures = 0;
        continue;
      }
      // The handler may report where it really got to (e.g. a checkpoint moved by a rebuild).
      const reached = await handle(events, after);
      after = reached ?? events[events.length - 1]!.position;
      options.onAlive?.();
      failures = 0;
    } catch (error) {
      if (options.signal.aborted) return;
      options.onError?.(error);
      failures += 1;
      // Resubscribe from the last good position after a bounded back-off.
      await sleep(Math.min(5000, 100 * 2 ** Math.min(failures, 6)), options.signal);
    }
  }
}

/**
 * Subscribers waiting for new events: `wait` resolves on `wakeAll`, after `timeoutMs`, or when
 * the signal aborts. Adapters call `wakeAll` when their server says something was appended.
 */
export class Wakeups {
  private readonly waiters = new Set<() => void>();
  private generation = 0;

  /** Grows with every wakeAll. */
  get mark(): number {
    return this.generation;
  }

  /** Waits for the next wakeAll, or returns at once if one came after `since`. */
  wait(timeoutMs: number, signal?: AbortSignal, since?: number): Promise<void> {
    if (since !== undefined && since !== this.generation) return Promise.resolve();
    return new Promise<void>((resolve) => {
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

  wakeAll(): void {
    this.generation++;
    for (const wake of [...this.waiters]) wake();
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
