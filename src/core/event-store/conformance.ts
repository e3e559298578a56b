/**
 * The conformance suite every EventStore adapter must pass. Each adapter's `*.int.spec.ts` calls
 * `describeEventStoreConformance` with a factory for a fresh store.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import {
  IdempotencyConflictError,
  WrongExpectedVersionError,
  catchUp,
  type EventStore,
  type NewEvent,
  type RecordedEvent,
} from './event-store.js';

export interface ConformanceTarget {
  /** Returns a store; streams are namespaced per test via `prefix`, so stores may be shared. */
  open(): Promise<EventStore>;
  /**
   * Appends to `streamId` from two connections whose commits land in the opposite order to the
   * order in which they started. Adapters whose positions are assigned at commit by the server
   * (KurrentDB) may simply append twice.
   */
  appendOutOfOrder?(store: EventStore, first: string, second: string): Promise<void>;
}

export function newEvent(type = 'Something', data: unknown = { n: 1 }): NewEvent {
  return {
    id: randomUUID(),
    type,
    data,
    metadata: { timestamp: new Date().toISOString(), schemaVersion: 1, userId: 'tester' },
  };
}

export function describeEventStoreConformance(name: string, target: ConformanceTarget): void {
  describe(`EventStore conformance: ${name}`, function () {
    let store: EventStore;
    let prefix: string;

    before(async function () {
      store = await target.open();
    });
    after(async function () {
      await store?.close();
    });
    beforeEach(function () {
      prefix = `conf${randomUUID().replace(/-/g, '').slice(0, 12)}-`;
    });

    it('reads a stream from a revision on (inclusive), and nothing past its end', async function () {
      const stream = `${prefix}from`;
      const events = [newEvent('A'), newEvent('B'), newEvent('C')];
      await store.append([{ streamId: stream, expected: 'no_stream', events }]);
      const tail = await store.readStream(stream, { fromRevision: 1n });
      expect(tail.events.map((e) => [e.type, e.revision])).to.deep.equal([
        ['B', 1n],
        ['C', 2n],
      ]);
      expect(tail.revision).to.equal(2n);
      const last = await store.readStream(stream, { fromRevision: 2n });
      expect(last.events.map((e) => e.id)).to.deep.equal([events[2]!.id]);
      expect((await store.readStream(stream, { fromRevision: 3n })).events).to.deep.equal([]);
      expect((await store.readStream(`${prefix}none`, { fromRevision: 0n })).events).to.deep.equal(
        [],
      );
    });

    it('appends to a new stream and reads it back in order with metadata', async function () {
      const stream = `${prefix}a`;
      const events = [newEvent('A', { i: 1 }), newEvent('B', { i: 2 })];
      events[0]!.metadata = {
        ...events[0]!.metadata,
        traceId: 't1',
        correlationId: 'c1',
        causationId: 'k1',
        ipAddress: '10.0.0.1',
      };
      const result = await store.append([{ streamId: stream, expected: 'no_stream', events }]);
      expect(result.streams[0]!.nextExpectedRevision).to.equal(1n);
      const read = await store.readStream(stream);
      expect(read.revision).to.equal(1n);
      expect(read.events.map((e) => e.type)).to.deep.equal(['A', 'B']);
      expect(read.events.map((e) => e.revision)).to.deep.equal([0n, 1n]);
      expect(read.events[0]!.data).to.deep.equal({ i: 1 });
      expect(read.events[0]!.id).to.equal(events[0]!.id);
      expect(read.events[0]!.metadata).to.include({
        traceId: 't1',
        correlationId: 'c1',
        causationId: 'k1',
        ipAddress: '10.0.0.1',
        userId: 'tester',
        schemaVersion: 1,
      });
      expect(read.events[1]!.position > read.events[0]!.position).to.equal(true);
      expect(result.position).to.equal(read.events[1]!.position);
    });

    it('reads a missing stream as empty with revision -1', async function () {
      const read = await store.readStream(`${prefix}missing`);
      expect(read.revision).to.equal(-1n);
      expect(read.events).to.deep.equal([]);
    });

    it('enforces every kind of expected revision', async function () {
      const stream = `${prefix}x`;
      await expectWrongVersion(
        store.append([{ streamId: stream, expected: 'stream_exists', events: [newEvent()] }]),
      );
      await expectWrongVersion(
        store.append([{ streamId: stream, expected: 0n, events: [newEvent()] }]),
      );
      await store.append([{ streamId: stream, expected: 'no_stream', events: [newEvent()] }]);
      const error = await expectWrongVersion(
        store.append([{ streamId: stream, expected: 'no_stream', events: [newEvent()] }]),
      );
      expect(error.actual).to.equal(0n);
      await store.append([{ streamId: stream, expected: 'stream_exists', events: [newEvent()] }]);
      await store.append([{ streamId: stream, expected: 1n, events: [newEvent()] }]);
      await expectWrongVersion(
        store.append([{ streamId: stream, expected: 1n, events: [newEvent()] }]),
      );
      await store.append([{ streamId: stream, expected: 'any', events: [newEvent()] }]);
      expect((await store.readStream(stream)).revision).to.equal(3n);
    });

    it('lets exactly one of two writers racing on one stream win', async function () {
      const stream = `${prefix}race`;
      await store.append([{ streamId: stream, expected: 'no_stream', events: [newEvent()] }]);
      const results = await Promise.allSettled(
        Array.from({ length: 2 }, (_, i) =>
          store.append([{ streamId: stream, expected: 0n, events: [newEvent('W', { i })] }]),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      const rejected = results.filter((r) => r.status === 'rejected');
      expect(rejected).to.have.length(1);
      expect((rejected[0] as PromiseRejectedResult).reason).to.be.instanceOf(
        WrongExpectedVersionError,
      );
      expect((await store.readStream(stream)).events).to.have.length(2);
    });

    it('lets exactly one of many racing stream creators win', async function () {
      const stream = `${prefix}create`;
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () =>
          store.append([{ streamId: stream, expected: 'no_stream', events: [newEvent()] }]),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      expect((await store.readStream(stream)).events).to.have.length(1);
    });

    it('does not duplicate a retried append with the same event ids', async function () {
      const stream = `${prefix}idem`;
      const events = [newEvent(), newEvent()];
      const first = await store.append([{ streamId: stream, expected: 'no_stream', events }]);
      const again = await store.append([{ streamId: stream, expected: 'no_stream', events }]);
      expect(again.position).to.equal(first.position);
      const read = await store.readStream(stream);
      expect(read.events).to.have.length(2);
      expect(read.events.map((e) => e.id)).to.deep.equal(events.map((e) => e.id));
    });

    it('refuses an append that reuses only some earlier event ids', async function () {
      const stream = `${prefix}partial`;
      const events = [newEvent(), newEvent()];
      await store.append([{ streamId: stream, expected: 'no_stream', events }]);
      let error: unknown;
      try {
        await store.append([
          { streamId: stream, expected: 'any', events: [events[0]!, newEvent()] },
        ]);
      } catch (e) {
        error = e;
      }
      expect(error).to.satisfy(
        (e: unknown) =>
          e instanceof IdempotencyConflictError || e instanceof WrongExpectedVersionError,
      );
      expect((await store.readStream(stream)).events).to.have.length(2);
    });

    it('appends to several streams atomically, or not at all', async function () {
      const a = `${prefix}ma`;
      const b = `${prefix}mb`;
      await store.append([{ streamId: b, expected: 'no_stream', events: [newEvent()] }]);
      await expectWrongVersion(
        store.append([
          { streamId: a, expected: 'no_stream', events: [newEvent()] },
          { streamId: b, expected: 'no_stream', events: [newEvent()] },
        ]),
      );
      expect((await store.readStream(a)).events).to.have.length(0);
      const ok = await store.append([
        { streamId: a, expected: 'no_stream', events: [newEvent()] },
        { streamId: b, expected: 0n, events: [newEvent()] },
      ]);
      expect(ok.streams.map((s) => s.nextExpectedRevision)).to.deep.equal([0n, 1n]);
    });

    it('reads the global log in order, filtered by stream prefix', async function () {
      const start = await store.headPosition();
      await store.append([{ streamId: `${prefix}one-1`, expected: 'any', events: [newEvent()] }]);
      await store.append([{ streamId: `other${prefix}`, expected: 'any', events: [newEvent()] }]);
      await store.append([
        { streamId: `${prefix}one-2`, expected: 'any', events: [newEvent(), newEvent()] },
      ]);
      const all = await store.readAll({ after: start, limit: 100 });
      const mine = all.filter((e) => e.streamId.includes(prefix));
      expect(mine).to.have.length(4);
      for (let i = 1; i < all.length; i++) {
        expect(all[i]!.position > all[i - 1]!.position).to.equal(true);
      }
      const filtered = await store.readAll({
        after: start,
        limit: 100,
        streamPrefixes: [`${prefix}one-`],
      });
      expect(filtered.map((e) => e.streamId)).to.deep.equal([
        `${prefix}one-1`,
        `${prefix}one-2`,
        `${prefix}one-2`,
      ]);
      const paged = await store.readAll({
        after: filtered[0]!.position,
        limit: 1,
        streamPrefixes: [`${prefix}one-`],
      });
      expect(paged.map((e) => e.id)).to.deep.equal([filtered[1]!.id]);
      expect(await store.headPosition()).to.equal(all[all.length - 1]!.position);
    });

    it('delivers events committed out of order to a subscriber exactly once, in one order', async function () {
      const start = await store.headPosition();
      const seen: RecordedEvent[] = [];
      const controller = new AbortController();
      const wanted = `${prefix}ooo-`;
      const subscription = catchUp(
        store,
        {
          after: start,
          batchSize: 2,
          streamPrefixes: [wanted],
          idleWaitMs: 50,
          signal: controller.signal,
        },
        async (events) => {
          seen.push(...events);
        },
      );
      if (target.appendOutOfOrder) {
        await target.appendOutOfOrder(store, `${wanted}first`, `${wanted}second`);
      } else {
        await store.append([{ streamId: `${wanted}first`, expected: 'any', events: [newEvent()] }]);
        await store.append([
          { streamId: `${wanted}second`, expected: 'any', events: [newEvent()] },
        ]);
      }
      // And a burst from concurrent writers on many streams.
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.append([
            { streamId: `${wanted}burst-${i % 5}`, expected: 'any', events: [newEvent()] },
          ]),
        ),
      );
      const deadline = Date.now() + 10_000;
      while (seen.length < 22 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      controller.abort();
      await subscription;
      expect(seen).to.have.length(22);
      expect(new Set(seen.map((e) => e.id)).size).to.equal(22);
      for (let i = 1; i < seen.length; i++) {
        expect(seen[i]!.position > seen[i - 1]!.position).to.equal(true);
      }
      const all = await store.readAll({ after: start, limit: 1000, streamPrefixes: [wanted] });
      expect(all.map((e) => e.id)).to.deep.equal(seen.map((e) => e.id));
    });

    it('wakes a first wait for events written before it started listening', async function () {
      this.timeout(20_000);
      const fresh = await target.open();
      try {
        const mark = fresh.wakeMark();
        // Written while the fresh store listens to nothing yet: its notice reaches nobody.
        await store.append([{ streamId: `${prefix}early`, expected: 'any', events: [newEvent()] }]);
        const waited = await Promise.race([
          fresh.waitForEvents(60_000, undefined, mark).then(() => 'woken'),
          new Promise((r) => setTimeout(() => r('slept'), 8_000)),
        ]);
        expect(waited).to.equal('woken');
      } finally {
        await fresh.close();
      }
    });

    it('keeps a wake-up that arrives between a read and the wait (no idle timeout lost)', async function () {
      this.timeout(20_000);
      // Start listening (adapters open their wake-up channel on the first wait).
      await store.waitForEvents(50);
      const mark = store.wakeMark();
      // "Read": nothing new. Then an append lands and its wake-up arrives before the wait starts.
      await store.append([{ streamId: `${prefix}s`, expected: 'any', events: [newEvent()] }]);
      const deadline = Date.now() + 10_000;
      while (store.wakeMark() === mark) {
        if (Date.now() > deadline) throw new Error('the append never woke this store');
        await new Promise((r) => setTimeout(r, 10));
      }
      // A 60 s wait given the mark from before returns at once (the test would time out).
      const waited = Promise.race([
        store.waitForEvents(60_000, undefined, mark).then(() => 'woken'),
        new Promise((r) => setTimeout(() => r('lost'), 5_000)),
      ]);
      expect(await waited).to.equal('woken');
      // Without a mark, or with the current one, it waits as before.
      const current = store.wakeMark();
      const idle = Promise.race([
        store.waitForEvents(60_000, undefined, current).then(() => 'woken'),
        new Promise((r) => setTimeout(() => r('waiting'), 200)),
      ]);
      expect(await idle).to.equal('waiting');
    });

    it('answers a ping', async function () {
      await store.ping();
    });
  });
}

async function expectWrongVersion(promise: Promise<unknown>): Promise<WrongExpectedVersionError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(WrongExpectedVersionError);
    return error as WrongExpectedVersionError;
  }
  throw new Error('expected a WrongExpectedVersionError');
}
