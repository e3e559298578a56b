/**
 * The event store in memory, for the domain's command and process tests (no PostgreSQL): the
 * same port, the same rules (atomic multi-stream appends, expected revisions, idempotent retries,
 * gapless global positions, wake-ups), checked by the same conformance suite as the real
 * adapters. Stores opened on one `InMemoryEventLog` share it, as processes share a database.
 * Events go in and come out as JSON, as they do through the real adapters.
 */
import {
  IdempotencyConflictError,
  Wakeups,
  WrongExpectedVersionError,
  type AppendRequest,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type ReadAllOptions,
  type ReadStreamOptions,
  type ReadStreamResult,
  type RecordedEvent,
} from '../event-store.js';

const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** The log itself: every event in global order, and the stores listening to it. */
export class InMemoryEventLog {
  readonly events: RecordedEvent[] = [];
  readonly streams = new Map<string, RecordedEvent[]>();
  readonly byId = new Map<string, RecordedEvent>();
  readonly listeners = new Set<Wakeups>();

  open(): InMemoryEventStore {
    return new InMemoryEventStore(this);
  }
}

export class InMemoryEventStore implements EventStore {
  private readonly wakeups = new Wakeups();
  private closed = false;

  constructor(private readonly log: InMemoryEventLog = new InMemoryEventLog()) {
    log.listeners.add(this.wakeups);
  }

  async append(requests: AppendRequest[]): Promise<AppendResult> {
    this.requireOpen();
    const retried = this.retried(requests);
    if (retried) return retried;
    // Check every stream first: all or nothing.
    for (const r of requests) {
      const current = this.revisionOf(r.streamId);
      if (!matches(r.expected, current)) {
        throw new WrongExpectedVersionError(r.streamId, r.expected, current);
      }
    }
    const recordedAt = new Date();
    const streams: AppendResult['streams'] = [];
    for (const r of requests) {
      let revision = this.revisionOf(r.streamId);
      const stream = this.log.streams.get(r.streamId) ?? [];
      for (const e of r.events) {
        const recorded: RecordedEvent = {
          ...copy(e),
          streamId: r.streamId,
          revision: ++revision,
          position: BigInt(this.log.events.length + 1),
          recordedAt,
        };
        stream.push(recorded);
        this.log.events.push(recorded);
        this.log.byId.set(e.id, recorded);
      }
      this.log.streams.set(r.streamId, stream);
      streams.push({ streamId: r.streamId, nextExpectedRevision: revision });
    }
    for (const listener of this.log.listeners) listener.wakeAll();
    return { streams, position: BigInt(this.log.events.length) };
  }

  async readStream(streamId: string, options?: ReadStreamOptions): Promise<ReadStreamResult> {
    this.requireOpen();
    const all = this.log.streams.get(streamId) ?? [];
    const from = options?.fromRevision;
    const events = from === undefined ? all : all.slice(Number(from));
    return { revision: this.revisionOf(streamId), events: events.map(out) };
  }

  async readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    this.requireOpen();
    const prefixes = options.streamPrefixes ?? [];
    const page: RecordedEvent[] = [];
    for (const e of this.log.events.slice(Number(options.after))) {
      if (page.length >= options.limit) break;
      if (prefixes.length && !prefixes.some((p) => e.streamId.startsWith(p))) continue;
      page.push(out(e));
    }
    return page;
  }

  async headPosition(): Promise<bigint> {
    this.requireOpen();
    return BigInt(this.log.events.length);
  }

  waitForEvents(timeoutMs: number, signal?: AbortSignal, since?: number): Promise<void> {
    return this.wakeups.wait(timeoutMs, signal, since);
  }

  wakeMark(): number {
    return this.wakeups.mark;
  }

  async ping(): Promise<void> {
    this.requireOpen();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.log.listeners.delete(this.wakeups);
  }

  private revisionOf(streamId: string): bigint {
    return BigInt((this.log.streams.get(streamId)?.length ?? 0) - 1);
  }

  /**
   * A retry of an append that went through (every event id already in its stream) returns the
   * original result; reusing only some ids is refused.
   */
  private retried(requests: AppendRequest[]): AppendResult | undefined {
    const all = requests.flatMap((r) => r.events.map((e) => ({ streamId: r.streamId, id: e.id })));
    const known = all.filter((e) => this.log.byId.get(e.id)?.streamId === e.streamId);
    if (known.length === 0) return undefined;
    if (known.length < all.length) {
      throw new IdempotencyConflictError('An append reused some, but not all, earlier event ids');
    }
    const recorded = known.map((e) => this.log.byId.get(e.id)!);
    return {
      streams: requests.map((r) => ({
        streamId: r.streamId,
        nextExpectedRevision: recorded
          .filter((e) => e.streamId === r.streamId)
          .reduce((max, e) => (e.revision > max ? e.revision : max), -1n),
      })),
      position: recorded.reduce((max, e) => (e.position > max ? e.position : max), 0n),
    };
  }

  private requireOpen(): void {
    if (this.closed) throw new Error('The in-memory event store is closed');
  }
}

function matches(expected: ExpectedRevision, current: bigint): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return current === -1n;
  if (expected === 'stream_exists') return current >= 0n;
  return expected === current;
}

/** A copy, so that a reader changing what it read cannot change the log. */
const out = (e: RecordedEvent): RecordedEvent => ({
  ...e,
  ...copy({ data: e.data, metadata: e.metadata }),
});
