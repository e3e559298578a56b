import { expect } from 'chai';
import { SharedTail } from './shared-tail.js';
import { InMemoryEventStore } from '../event-store/memory/in-memory-event-store.js';
import type { EventStore, ReadAllOptions, RecordedEvent } from '../event-store/event-store.js';

const ids = (events: RecordedEvent[]) => events.map((e) => `${e.position}:${e.streamId}`);

async function append(store: EventStore, streamId: string, n = 1, data: unknown = { streamId }) {
  await store.append([
    {
      streamId,
      expected: 'any',
      events: Array.from({ length: n }, () => ({
        id: crypto.randomUUID(),
        type: 'Happened',
        data,
        metadata: { timestamp: new Date().toISOString(), schemaVersion: 1 },
      })),
    },
  ]);
}

const tick = () => new Promise((r) => setTimeout(r, 0));

/** The store's methods, explicitly (a class instance's methods do not spread). */
function wrap(inner: InMemoryEventStore, over: Partial<EventStore> = {}): EventStore {
  return {
    append: (r) => inner.append(r),
    readStream: (id, o) => inner.readStream(id, o),
    readAll: (o) => inner.readAll(o),
    headPosition: () => inner.headPosition(),
    waitForEvents: (ms, s, m) => inner.waitForEvents(ms, s, m),
    wakeMark: () => inner.wakeMark(),
    ping: () => inner.ping(),
    close: () => inner.close(),
    ...over,
  };
}

/** The store, counting its readAll calls. */
function counting(inner: InMemoryEventStore) {
  const counts = { readAll: 0 };
  const store = wrap(inner, {
    readAll: (o) => {
      counts.readAll++;
      return inner.readAll(o);
    },
  });
  return { counts, store };
}

/** Every runner once, together, as catchUp does: the head, then a page. */
async function followOnce(runners: { prefixes: string[]; after: bigint; view: EventStore }[]) {
  await Promise.all(
    runners.map(async (r) => {
      await r.view.headPosition();
      const got = await r.view.readAll({ after: r.after, limit: 500, streamPrefixes: r.prefixes });
      if (got.length) r.after = got[got.length - 1]!.position;
    }),
  );
}

describe('shared tail of the log', function () {
  for (const limits of [undefined, { keep: 12, page: 4 }]) {
    it(`answers each runner as the store would, while runners, writers and laggards interleave (${limits ? 'small pages, few kept' : 'defaults'})`, async function () {
      const streams = ['config-a', 'config-b', 'tenant-x', 'deployment-1', 'approval-9'];
      let seed = 7;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const inner = new InMemoryEventStore();
      const tail = new SharedTail(inner, limits);
      const runners = [
        { prefixes: undefined, limit: 7 },
        { prefixes: ['config-'], limit: 3 },
        { prefixes: ['tenant-', 'deployment-'], limit: 50 },
        { prefixes: ['approval-'], limit: 2 },
        { prefixes: ['config-b'], limit: 1000 },
      ].map((r) => ({ ...r, after: 0n, view: tail.view() }));
      const write = () =>
        append(
          inner,
          streams[Math.floor(random() * streams.length)]!,
          1 + Math.floor(random() * 4),
        );
      for (let round = 0; round < 300; round++) {
        // Runners follow as catchUp does (head, then the page), with writes landing meanwhile.
        await Promise.all([
          ...runners.map(async (r) => {
            if (random() < 0.3) return;
            const head = await r.view.headPosition();
            const options = { after: r.after, limit: r.limit, streamPrefixes: r.prefixes };
            const got = await r.view.readAll(options);
            const now = await inner.readAll({ ...options, limit: 1_000_000 });
            const context = `round ${round}, ${JSON.stringify(r.prefixes)} after ${r.after}`;
            // What came back is the start of what the store holds for this runner ...
            expect(ids(got), context).to.deep.equal(ids(now.slice(0, got.length)));
            // ... and nothing is held back that was there when the runner read the head.
            if (got.length === 0) {
              expect(ids(now.filter((e) => e.position <= head)), context).to.deep.equal([]);
            }
            if (got.length) r.after = got[got.length - 1]!.position;
          }),
          ...Array.from({ length: Math.floor(random() * 3) }, write),
        ]);
      }
      // Every runner reaches the end.
      for (const r of runners) {
        for (;;) {
          const got = await r.view.readAll({
            after: r.after,
            limit: r.limit,
            streamPrefixes: r.prefixes,
          });
          if (!got.length) break;
          r.after = got[got.length - 1]!.position;
        }
        const rest = await inner.readAll({ after: r.after, limit: 10, streamPrefixes: r.prefixes });
        expect(rest).to.deep.equal([]);
      }
    });
  }

  it('reads the store once per change for all its runners', async function () {
    const { store, counts } = counting(new InMemoryEventStore());
    const tail = new SharedTail(store);
    const runners = [['config-'], ['tenant-'], [], ['config-', 'tenant-'], ['deployment-']].map(
      (prefixes) => ({ prefixes, after: 0n, view: tail.view() }),
    );
    for (let change = 0; change < 20; change++) {
      await append(store, change % 2 ? 'config-a' : 'tenant-x');
      counts.readAll = 0;
      await followOnce(runners);
      // Five runners, one read (each used to read on its own).
      expect(counts.readAll, `change ${change}`).to.equal(1);
    }
  });

  it('never answers "nothing" from a read of the tail that began before the runner read the head', async function () {
    const inner = new InMemoryEventStore();
    // Reads see the log as it is when they start and answer only when let go.
    const gates: (() => void)[] = [];
    const slow = {
      ...counting(inner).store,
      readAll: async (o: ReadAllOptions) => {
        const seen = await inner.readAll(o);
        await new Promise<void>((r) => gates.push(r));
        return seen;
      },
    } as EventStore;
    const tail = new SharedTail(slow);
    const a = tail.view();
    const b = tail.view();
    await a.headPosition();
    const aRead = a.readAll({ after: 0n, limit: 10, streamPrefixes: ['config-'] });
    await new Promise((r) => setTimeout(r, 0)); // a's read of the tail has begun: empty log
    await append(inner, 'tenant-x');
    const head = await b.headPosition();
    expect(head).to.equal(1n);
    const bRead = b.readAll({ after: 0n, limit: 10, streamPrefixes: ['tenant-'] });
    while (gates.length) {
      gates.shift()!();
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(await aRead).to.deep.equal([]);
    // b joined a read that saw the log without its event: it must read again, not say "nothing".
    expect(ids(await bRead)).to.deep.equal(['1:tenant-x']);
  });

  it('lets a runner outside what it keeps read the store itself', async function () {
    const { store, counts } = counting(new InMemoryEventStore());
    await append(store, 'config-a', 30);
    const tail = new SharedTail(store);
    expect(await tail.view().readAll({ after: 20n, limit: 100 })).to.have.length(10);
    counts.readAll = 0;
    const behind = await tail.view().readAll({ after: 5n, limit: 3 });
    expect(behind.map((e) => e.position)).to.deep.equal([6n, 7n, 8n]);
    expect(counts.readAll).to.equal(1);
  });

  it('hands out frozen events: the projections share them', async function () {
    const inner = new InMemoryEventStore();
    await append(inner, 'config-a');
    const [e] = await new SharedTail(inner).view().readAll({ after: 0n, limit: 10 });
    expect(Object.isFrozen(e)).to.equal(true);
    expect(Object.isFrozen(e!.data)).to.equal(true);
  });
  it('never answers "nothing" from a read of the tail begun before the head query ran (head delayed, e.g. waiting for a pool connection)', async function () {
    const inner = new InMemoryEventStore();
    const readGates: (() => void)[] = [];
    let releaseHead!: () => void;
    const store = wrap(inner, {
      // A tail read sees the log as it is when it starts; answers when let go.
      readAll: async (o: ReadAllOptions) => {
        const seen = await inner.readAll(o);
        await new Promise<void>((r) => readGates.push(r));
        return seen;
      },
      // The head query runs only when let go (queued behind other queries).
      headPosition: async () => {
        await new Promise<void>((r) => (releaseHead = r));
        return inner.headPosition();
      },
    });
    const tail = new SharedTail(store);
    const a = tail.view();
    const b = tail.view();
    const bHead = b.headPosition(); // asked, not yet run
    await tick();
    const aRead = a.readAll({ after: 0n, limit: 10, streamPrefixes: ['config-'] });
    await tick(); // a's tail read has begun: empty log
    await append(inner, 'tenant-x');
    releaseHead();
    expect(await bHead).to.equal(1n); // b's head includes the event
    const bRead = b.readAll({ after: 0n, limit: 10, streamPrefixes: ['tenant-'] });
    while (readGates.length) {
      readGates.shift()!();
      await tick();
    }
    expect(await aRead).to.deep.equal([]);
    expect(ids(await bRead)).to.deep.equal(['1:tenant-x']);
  });

  it('shares the tail among runners at the head even when the first caller was far behind and stopped', async function () {
    const inner = new InMemoryEventStore();
    let reads = 0;
    const store = wrap(inner, {
      readAll: (o) => {
        reads++;
        return inner.readAll(o);
      },
    });
    await append(inner, 'config-a', 3000);
    const tail = new SharedTail(store);
    // A rebuild (or a runner that then loses its lock) reads first, from 0, and stops.
    await tail.view().readAll({ after: 0n, limit: 10 });
    const runners = [['config-'], ['tenant-'], []].map((prefixes) => ({
      prefixes,
      after: 3000n,
      view: tail.view(),
    }));
    const perChange: number[] = [];
    for (let change = 0; change < 5; change++) {
      await append(inner, 'tenant-x');
      reads = 0;
      await followOnce(runners);
      perChange.push(reads);
    }
    // The first change may still read apart; from then on, one read for all.
    expect(perChange.slice(1)).to.deep.equal([1, 1, 1, 1]);
  });

  it('hands out events no runner can change for another (nested values too)', async function () {
    const inner = new InMemoryEventStore();
    await append(inner, 'config-a', 1, { entries: { k: 'v' } });
    const tail = new SharedTail(inner);
    const [e] = await tail.view().readAll({ after: 0n, limit: 10 });
    try {
      (e!.data as { entries: { k: string } }).entries.k = 'changed';
    } catch {
      // frozen: refused
    }
    const [again] = await tail.view().readAll({ after: 0n, limit: 10 });
    expect((again!.data as { entries: { k: string } }).entries.k).to.equal('v');
  });
});
