import {
  BACKWARDS,
  END,
  FORWARDS,
  KurrentDBClient,
  excludeSystemEvents,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type Filter,
  type Position,
  type ReadPosition,
} from '@kurrent/kurrentdb-client';
import {
  EventStoreUnavailableError,
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
import {
  appendedPosition,
  commitPositionOf,
  comparePositions,
  isStreamNotFound,
  isSystemEvent,
  withDefaultDeadline,
  matchesPrefixes,
  normaliseConnectionString,
  readAllFrom,
  toAppendError,
  toEventData,
  toMultiAppendEventData,
  toRecordedEvent,
  toStreamState,
  toUnavailable,
} from './mapping.js';

export interface KurrentDbEventStoreOptions {
  /** Limit for every call to the server; past it the call fails with EventStoreUnavailableError. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;
/** Lower bound between attempts to (re)open the live subscription behind waitForEvents. */
const RESUBSCRIBE_INTERVAL_MS = 1000;
/** Page size when scanning a stream backwards for the events of an idempotent append. */
const SCAN_PAGE = 100;

export function createKurrentDbEventStore(
  connectionString: string,
  options: KurrentDbEventStoreOptions = {},
): KurrentDbEventStore {
  const client = KurrentDBClient.connectionString(
    withDefaultDeadline(
      normaliseConnectionString(connectionString),
      options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    ),
  );
  return new KurrentDbEventStore(client, options);
}

/**
 * Event store on KurrentDB / EventStoreDB. Positions are commit positions in `$all`; every
 * event written by a current server commits itself, so each has its own commit position.
 * Appends to several streams use `multiStreamAppend` (server 25.1+).
 */
export class KurrentDbEventStore implements EventStore {
  private readonly timeoutMs: number;
  private subscription: AllStreamSubscription | undefined;
  private lastSubscribeAttempt = 0;
  private readonly wakeups = new Wakeups();
  private closed = false;

  constructor(
    private readonly client: KurrentDBClient,
    options: KurrentDbEventStoreOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async append(requests: AppendRequest[]): Promise<AppendResult> {
    if (requests.length === 0) throw new RangeError('append needs at least one request');
    this.assertOpen();
    try {
      return requests.length === 1
        ? await this.appendToOneStream(requests[0]!)
        : await this.appendToManyStreams(requests);
    } catch (error) {
      throw toAppendError(error, requests);
    }
  }

  private async appendToOneStream(request: AppendRequest): Promise<AppendResult> {
    const result = await this.call('append', () =>
      this.client.appendToStream(request.streamId, request.events.map(toEventData), {
        streamState: toStreamState(request.expected),
        deadline: this.timeoutMs,
      }),
    );
    // Only when the connection string sets throwOnAppendFailure=false.
    if (!result.success) {
      throw new WrongExpectedVersionError(request.streamId, request.expected, undefined);
    }
    return {
      streams: [{ streamId: request.streamId, nextExpectedRevision: result.nextExpectedRevision }],
      position: appendedPosition(result.position) ?? (await this.positionOfEvents([request])),
    };
  }

  private async appendToManyStreams(requests: AppendRequest[]): Promise<AppendResult> {
    const result = await this.call('multiStreamAppend', () =>
      this.client.multiStreamAppend(
        requests.map((r) => ({
          streamName: r.streamId,
          expectedState: toStreamState(r.expected),
          events: r.events.map(toMultiAppendEventData),
        })),
      ),
    );
    return {
      streams: requests.map((r, i) => {
        const response =
          result.responses.find((x) => x.streamName === r.streamId) ?? result.responses[i];
        return { streamId: r.streamId, nextExpectedRevision: response?.revision ?? -1n };
      }),
      position: appendedPosition(result.position) ?? (await this.positionOfEvents(requests)),
    };
  }

  /**
   * Commit position of the newest of the given events, for an idempotent append that the
   * server answered without a position: scans each stream backwards until all ids are found.
   */
  private async positionOfEvents(requests: AppendRequest[]): Promise<bigint> {
    let newest: bigint | undefined;
    for (const request of requests) {
      const wanted = new Set(request.events.map((e) => e.id));
      let from: bigint | typeof END = END;
      while (wanted.size > 0) {
        const page = await this.collect('readStream', () =>
          this.client.readStream(request.streamId, {
            direction: BACKWARDS,
            fromRevision: from,
            maxCount: SCAN_PAGE,
          }),
        );
        for (const resolved of page) {
          const event = resolved.event;
          if (!event || !wanted.delete(event.id)) continue;
          const position = commitPositionOf(resolved);
          if (position !== undefined && (newest === undefined || position > newest)) {
            newest = position;
          }
        }
        const last = page[page.length - 1]?.event?.revision;
        if (page.length < SCAN_PAGE || last === undefined || last === 0n) break;
        from = last - 1n;
      }
    }
    // Not found (scavenged, or reported without positions by an old server): the head is a
    // safe upper bound for callers that wait for a projection to reach the append.
    return newest ?? (await this.headPosition());
  }

  async readStream(streamId: string, options?: ReadStreamOptions): Promise<ReadStreamResult> {
    this.assertOpen();
    let resolved;
    try {
      resolved = await this.collect('readStream', () =>
        options?.fromRevision === undefined
          ? this.client.readStream(streamId)
          : this.client.readStream(streamId, { fromRevision: options.fromRevision }),
      );
    } catch (error) {
      if (isStreamNotFound(error)) return { revision: -1n, events: [] };
      throw error;
    }
    const events = resolved.map(toRecordedEvent).filter((e) => e !== undefined);
    return { revision: events.length ? events[events.length - 1]!.revision : -1n, events };
  }

  async readAll({ after, limit, streamPrefixes }: ReadAllOptions): Promise<RecordedEvent[]> {
    this.assertOpen();
    const events: RecordedEvent[] = [];
    if (limit <= 0) return events;
    const prefixes = streamPrefixes?.length ? [...streamPrefixes] : undefined;
    // One server-side filter per read: stream prefixes when given (system events are dropped
    // below), otherwise the system-event filter.
    const filter: Filter = prefixes ? streamNameFilter({ prefixes }) : excludeSystemEvents();
    let from: ReadPosition = readAllFrom(after);
    let lastSeen: Position | undefined;
    while (events.length < limit) {
      // +1: the read is inclusive of `from`, which we have already seen.
      const maxCount = limit - events.length + 1;
      const page = await this.collect('readAll', () =>
        this.client.readAll({ direction: FORWARDS, fromPosition: from, maxCount, filter }),
      );
      for (const resolved of page) {
        const position = resolved.event?.position;
        if (lastSeen && position && comparePositions(position, lastSeen) <= 0) continue;
        if (position) lastSeen = position;
        if (!this.wanted(resolved, after, prefixes)) continue;
        events.push(toRecordedEvent(resolved)!);
        if (events.length === limit) break;
      }
      if (page.length < maxCount || !lastSeen) break;
      from = lastSeen;
    }
    return events;
  }

  private wanted(
    resolved: AllStreamResolvedEvent,
    after: bigint,
    prefixes: readonly string[] | undefined,
  ): boolean {
    const event = resolved.event;
    if (!event || isSystemEvent(event)) return false;
    const position = commitPositionOf(resolved);
    if (position === undefined || position <= after) return false;
    return matchesPrefixes(event.streamId, prefixes);
  }

  async headPosition(): Promise<bigint> {
    this.assertOpen();
    const page = await this.collect('readAll', () =>
      this.client.readAll({
        direction: BACKWARDS,
        fromPosition: END,
        maxCount: 1,
        filter: excludeSystemEvents(),
      }),
    );
    const resolved = page[0];
    if (!resolved?.event) return 0n;
    if (!isSystemEvent(resolved.event)) return commitPositionOf(resolved) ?? 0n;
    return this.headPositionByScan();
  }

  /** Fallback for a server that ignored the filter: page backwards past system events. */
  private async headPositionByScan(): Promise<bigint> {
    let from: ReadPosition = END;
    for (;;) {
      const page = await this.collect('readAll', () =>
        this.client.readAll({ direction: BACKWARDS, fromPosition: from, maxCount: SCAN_PAGE }),
      );
      for (const resolved of page) {
        if (resolved.event && !isSystemEvent(resolved.event)) {
          return commitPositionOf(resolved) ?? 0n;
        }
      }
      const last = page[page.length - 1]?.event?.position;
      if (page.length < SCAN_PAGE || !last) return 0n;
      from = last;
    }
  }

  wakeMark(): number {
    return this.wakeups.mark;
  }

  async waitForEvents(timeoutMs: number, signal?: AbortSignal, since?: number): Promise<void> {
    if (this.closed || signal?.aborted) return;
    this.ensureSubscribed();
    await this.wakeups.wait(timeoutMs, signal, since);
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.collect('ping', () =>
      this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 }),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeups.wakeAll();
    const subscription = this.subscription;
    this.subscription = undefined;
    if (subscription) {
      await this.call('unsubscribe', () => subscription.unsubscribe()).catch(() => undefined);
    }
    await this.call('dispose', () => this.client.dispose()).catch(() => undefined);
  }

  /**
   * One shared live subscription from the end of `$all`; any event wakes every waiter. It is
   * re-opened lazily by the next wait after it drops. A hint only: a missed wake-up costs the
   * caller one idle timeout, never an event.
   */
  private ensureSubscribed(): void {
    if (this.subscription || this.closed) return;
    const now = Date.now();
    if (now - this.lastSubscribeAttempt < RESUBSCRIBE_INTERVAL_MS) return;
    this.lastSubscribeAttempt = now;
    let subscription: AllStreamSubscription;
    try {
      subscription = this.client.subscribeToAll({
        fromPosition: END,
        filter: excludeSystemEvents(),
      });
    } catch {
      return;
    }
    this.subscription = subscription;
    let dropped = false;
    const drop = () => {
      if (dropped) return;
      dropped = true;
      if (this.subscription === subscription) this.subscription = undefined;
      void subscription.unsubscribe().catch(() => undefined);
    };
    subscription.on('data', () => {
      this.wakeups.wakeAll();
    });
    // It starts at the end of $all: events written before the server confirmed it woke nobody,
    // so wake every waiter once to read again.
    subscription.on('confirmation', () => {
      this.wakeups.wakeAll();
    });
    // Without an 'error' listener a dropped subscription would crash the process.
    subscription.on('error', drop);
    subscription.on('end', drop);
    subscription.on('close', drop);
  }

  private assertOpen(): void {
    if (this.closed) throw new EventStoreUnavailableError('KurrentDB event store is closed');
  }

  /** Runs a client call under the store's timeout; connection failures become unavailable. */
  private async call<T>(operation: string, run: () => Promise<T>, onTimeout?: () => void) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout?.();
        reject(
          new EventStoreUnavailableError(
            `KurrentDB did not answer ${operation} within ${this.timeoutMs} ms`,
          ),
        );
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([run(), timeout]);
    } catch (error) {
      throw toUnavailable(error, operation);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Drains a client read under the store's timeout. */
  private collect<T>(operation: string, open: () => AsyncIterableIterator<T>): Promise<T[]> {
    let iterator: AsyncIterableIterator<T> | undefined;
    return this.call(
      operation,
      async () => {
        iterator = open();
        const items: T[] = [];
        for await (const item of iterator) items.push(item);
        return items;
      },
      // A read to a silent server never settles; let it go instead of holding it.
      () => void iterator?.return?.().catch(() => undefined),
    );
  }
}
