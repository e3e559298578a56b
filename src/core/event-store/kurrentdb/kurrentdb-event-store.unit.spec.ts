/**
 * The adapter's own logic (paging, filtering, idempotent-append positions, wake-ups) run through
 * the shared conformance suite against an in-memory stand-in for the client. The stand-in hands
 * out the client's own result shapes and errors and follows the server rules the adapter relies
 * on: every event commits itself (its own commit position), reads of $all are inclusive of the
 * start position going forwards and exclusive going backwards, an idempotent append may come
 * back without a position, and system projections add `$`-typed events between ours.
 */
import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import {
  END,
  START,
  WrongExpectedVersionError as ClientWrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type AppendStreamRequest,
  type AppendStreamState,
  type EventData,
  type Filter,
  type KurrentDBClient,
  type Position,
  type ReadPosition,
  type ReadRevision,
} from '@kurrent/kurrentdb-client';
import convertRustEventModule from '@kurrent/kurrentdb-client/dist/utils/convertRustEvent.js';
import convertBridgeErrorModule from '@kurrent/kurrentdb-client/dist/utils/convertBridgeError.js';
import { describeEventStoreConformance, newEvent } from '../conformance.js';
import { KurrentDbEventStore } from './kurrentdb-event-store.js';

const { convertRustEvent } = convertRustEventModule;
const { convertBridgeError } = convertBridgeErrorModule;

interface Stored {
  streamId: string;
  id: string;
  type: string;
  isJson: boolean;
  revision: bigint;
  created: number;
  data: Uint8Array;
  metadata: Uint8Array;
  position: Position;
}

class FakeClient {
  readonly log: Stored[] = [];
  private nextPosition = 1000n;
  private readonly subscribers = new Set<EventEmitter>();
  appendCalls = 0;

  constructor() {
    this.write('$$settings', [{ type: '$metadata', data: {}, id: crypto.randomUUID() }]);
  }

  private stream(streamId: string): Stored[] {
    return this.log.filter((e) => e.streamId === streamId);
  }

  private current(streamId: string): bigint {
    const events = this.stream(streamId);
    return events.length ? events[events.length - 1]!.revision : -1n;
  }

  private write(
    streamId: string,
    events: { id: string; type: string; data: unknown; metadata?: unknown }[],
  ) {
    let revision = this.current(streamId);
    for (const e of events) {
      this.nextPosition += 137n;
      this.log.push({
        streamId,
        id: e.id,
        type: e.type,
        isJson: true,
        revision: ++revision,
        created: Date.now(),
        data: Buffer.from(JSON.stringify(e.data)),
        metadata:
          e.metadata === undefined ? new Uint8Array() : Buffer.from(JSON.stringify(e.metadata)),
        position: { commit: this.nextPosition, prepare: this.nextPosition },
      });
    }
    return this.log[this.log.length - 1]!.position;
  }

  /** What a system projection does after each write: a `$>` link in a category stream. */
  private project(streamId: string) {
    this.write(`$ce-${streamId.split('-')[0]}`, [
      { id: crypto.randomUUID(), type: '$>', data: `0@${streamId}` },
    ]);
    for (const subscriber of this.subscribers) setImmediate(() => subscriber.emit('data', {}));
  }

  private conflict(
    streamId: string,
    expected: AppendStreamState,
  ): ClientWrongExpectedVersionError | undefined {
    const current = this.current(streamId);
    const ok =
      expected === 'any' ||
      (expected === 'no_stream' && current === -1n) ||
      (expected === 'stream_exists' && current >= 0n) ||
      expected === current;
    if (ok) return undefined;
    return new ClientWrongExpectedVersionError(undefined, {
      streamName: streamId,
      expected,
      current: current === -1n ? 'no_stream' : current,
    });
  }

  /** 'all' when every id is already in the stream, 'some' when only part of them. */
  private alreadyWritten(streamId: string, events: EventData[]): 'all' | 'some' | 'none' {
    const ids = new Set(this.stream(streamId).map((e) => e.id));
    const found = events.filter((e) => ids.has(e.id)).length;
    return found === 0 ? 'none' : found === events.length ? 'all' : 'some';
  }

  async appendToStream(
    streamId: string,
    events: EventData[],
    options: { streamState: AppendStreamState },
  ) {
    this.appendCalls += 1;
    const written = this.alreadyWritten(streamId, events);
    if (written === 'all') {
      // Idempotent: older servers answer without a position.
      return { success: true, nextExpectedRevision: this.current(streamId), position: undefined };
    }
    if (written === 'some') {
      throw new ClientWrongExpectedVersionError(undefined, {
        streamName: streamId,
        expected: options.streamState,
        current: this.current(streamId),
      });
    }
    const conflict = this.conflict(streamId, options.streamState);
    if (conflict) throw conflict;
    const position = this.write(streamId, events);
    this.project(streamId);
    return { success: true, nextExpectedRevision: this.current(streamId), position };
  }

  async multiStreamAppend(requests: AppendStreamRequest[]) {
    for (const r of requests) {
      for (const e of r.events) {
        const values = Object.values(e.metadata as Record<string, unknown>);
        if (values.some((v) => typeof v !== 'string')) throw new Error('string values only');
      }
      const conflict = this.conflict(r.streamName, r.expectedState);
      if (conflict) {
        throw ClientWrongExpectedVersionError.fromRevisionConflict({
          stream: r.streamName,
          expectedRevision: typeof r.expectedState === 'bigint' ? r.expectedState.toString() : '-1',
          actualRevision: this.current(r.streamName).toString(),
        });
      }
    }
    let position: Position | undefined;
    for (const r of requests) {
      position = this.write(
        r.streamName,
        r.events.map((e) => ({
          ...e,
          metadata: { ...(e.metadata as object), '$schema.format': 'Json', '$schema.name': e.type },
        })),
      );
    }
    for (const r of requests) this.project(r.streamName);
    return {
      position: position!.commit,
      responses: requests.map((r) => ({
        streamName: r.streamName,
        revision: this.current(r.streamName),
      })),
    };
  }

  readStream(
    streamId: string,
    options: { direction?: string; fromRevision?: ReadRevision; maxCount?: number } = {},
  ) {
    const events = this.stream(streamId);
    const backwards = options.direction === 'backwards';
    const from = options.fromRevision ?? (backwards ? END : START);
    const selected = backwards
      ? events.filter((e) => from === END || e.revision <= (from as bigint)).reverse()
      : events.filter((e) => from === START || e.revision >= (from as bigint));
    const page = selected.slice(0, options.maxCount ?? Number.MAX_SAFE_INTEGER);
    return (async function* () {
      if (events.length === 0) {
        throw convertBridgeError(
          Object.assign(new Error('not found'), { name: 'StreamNotFoundError' }),
          streamId,
        );
      }
      for (const e of page) yield convertRustEvent({ event: { ...e } });
    })();
  }

  readAll(options: {
    direction?: string;
    fromPosition?: ReadPosition;
    maxCount?: number | bigint;
    filter?: Filter;
  }) {
    const backwards = options.direction === 'backwards';
    const from = options.fromPosition ?? (backwards ? END : START);
    const cmp = (a: Position, b: Position) =>
      a.commit === b.commit
        ? a.prepare === b.prepare
          ? 0
          : a.prepare < b.prepare
            ? -1
            : 1
        : a.commit < b.commit
          ? -1
          : 1;
    let selected = backwards
      ? this.log.filter((e) => from === END || cmp(e.position, from as Position) < 0).reverse()
      : this.log.filter((e) => from === START || cmp(e.position, from as Position) >= 0);
    const filter = options.filter;
    if (filter && 'prefixes' in filter) {
      selected = selected.filter((e) => filter.prefixes.some((p) => e.streamId.startsWith(p)));
    } else if (filter && 'regex' in filter) {
      const regex = new RegExp(filter.regex);
      selected = selected.filter((e) =>
        regex.test(filter.filterOn === 'eventType' ? e.type : e.streamId),
      );
    }
    const page = selected.slice(0, Number(options.maxCount ?? Number.MAX_SAFE_INTEGER));
    return (async function* () {
      for (const e of page) {
        yield convertRustEvent<AllStreamResolvedEvent>({
          event: { ...e },
          commitPosition: e.position.commit,
        });
      }
    })();
  }

  subscribeToAll() {
    const subscription = Object.assign(new EventEmitter(), {
      unsubscribe: async () => {
        this.subscribers.delete(subscription);
      },
    });
    this.subscribers.add(subscription);
    // The server confirms a live subscription once it is established, as the real client emits.
    setImmediate(() => subscription.emit('confirmation'));
    return subscription;
  }

  async dispose() {
    this.subscribers.clear();
  }
}

describeEventStoreConformance('KurrentDB adapter over an in-memory client stand-in', {
  open: async () => new KurrentDbEventStore(new FakeClient() as unknown as KurrentDBClient),
});

describe('KurrentDB event store over the stand-in', () => {
  it('reads back the original position for an idempotent append answered without one', async () => {
    const client = new FakeClient();
    const store = new KurrentDbEventStore(client as unknown as KurrentDBClient);
    const events = [newEvent(), newEvent(), newEvent()];
    const first = await store.append([{ streamId: 'idem-1', expected: 'no_stream', events }]);
    // Push the original events back in the stream so the read-back has to page.
    for (let i = 0; i < 150; i++) {
      await store.append([{ streamId: 'idem-1', expected: 'any', events: [newEvent()] }]);
    }
    const again = await store.append([{ streamId: 'idem-1', expected: 'no_stream', events }]);
    expect(again.position).to.equal(first.position);
    expect(again.streams[0]!.nextExpectedRevision).to.equal(152n);
    await store.close();
  });

  it('skips system events when reading and when finding the head', async () => {
    const client = new FakeClient();
    const store = new KurrentDbEventStore(client as unknown as KurrentDBClient);
    expect(await store.headPosition()).to.equal(0n);
    const { position } = await store.append([
      { streamId: 'tenant-1', expected: 'any', events: [newEvent()] },
    ]);
    // The projection's `$>` link came after our event.
    expect(client.log[client.log.length - 1]!.type).to.equal('$>');
    expect(await store.headPosition()).to.equal(position);
    const all = await store.readAll({ after: 0n, limit: 10 });
    expect(all.map((e) => e.streamId)).to.deep.equal(['tenant-1']);
    await store.close();
  });

  it('rejects calls after close', async () => {
    const store = new KurrentDbEventStore(new FakeClient() as unknown as KurrentDBClient);
    await store.close();
    let caught: unknown;
    try {
      await store.ping();
    } catch (error) {
      caught = error;
    }
    expect((caught as Error | undefined)?.name).to.equal('EventStoreUnavailableError');
  });
});
