import { expect } from 'chai';
import { CommandHandler } from './command-handler.js';
import type { Decider } from './decider.js';
import { DomainError } from '../domain-error.js';
import {
  WrongExpectedVersionError,
  type AppendRequest,
  type EventStore,
  type ReadStreamOptions,
} from '../event-store/event-store.js';
import { InMemoryEventStore } from '../event-store/memory/in-memory-event-store.js';

/** A counter that refuses to go above a limit: enough to show read → decide → append. */
type Added = { type: 'Added'; data: { n: number } };
const counter: Decider<{ add: number; limit: number }, number, Added> = {
  initialState: () => 0,
  evolve: (total, e) => total + e.data.n,
  decide: (cmd, total) => {
    if (total + cmd.add > cmd.limit) throw new DomainError('quota_exceeded', 'over the limit');
    return cmd.add === 0 ? [] : [{ type: 'Added', data: { n: cmd.add } }];
  },
};
const ctx = { userId: 'tester', correlationId: 'c1' };

/** A store whose next `n` appends lose a race to a writer that adds 1 first. */
function racing(store: EventStore, n: number, streamId: string): EventStore {
  let left = n;
  return {
    ...store,
    readStream: (id) => store.readStream(id),
    async append(requests: AppendRequest[]) {
      if (left-- > 0) {
        await store.append([
          {
            streamId,
            expected: 'any',
            events: [
              {
                id: crypto.randomUUID(),
                type: 'Added',
                data: { n: 1 },
                metadata: { timestamp: '', schemaVersion: 1 },
              },
            ],
          },
        ]);
      }
      return store.append(requests);
    },
  };
}

describe('command handler', function () {
  it('reads, folds, decides and appends with the revision it read, with the context as metadata', async function () {
    const store = new InMemoryEventStore();
    const handler = new CommandHandler(store);
    const first = await handler.handle(counter, 'c-1', { add: 2, limit: 10 }, ctx);
    expect(first.state).to.equal(2);
    expect(first.events).to.deep.equal([{ type: 'Added', data: { n: 2 } }]);
    const second = await handler.handle(counter, 'c-1', { add: 3, limit: 10 }, ctx);
    expect(second.state).to.equal(5);
    const { events, revision } = await store.readStream('c-1');
    expect(revision).to.equal(1n);
    expect(events[1]!.metadata).to.include({ userId: 'tester', correlationId: 'c1' });
    expect(second.position).to.equal(events[1]!.position);
  });

  it('appends nothing when the decision is nothing, and nothing when it is refused', async function () {
    const store = new InMemoryEventStore();
    const handler = new CommandHandler(store);
    const none = await handler.handle(counter, 'c-1', { add: 0, limit: 10 }, ctx);
    expect(none.position).to.equal(undefined);
    let refused: unknown;
    await handler.handle(counter, 'c-1', { add: 11, limit: 10 }, ctx).catch((e) => (refused = e));
    expect(refused).to.be.instanceOf(DomainError);
    expect(await store.headPosition()).to.equal(0n);
  });

  it('decides again on fresh state after losing a race, so the rule holds', async function () {
    const store = new InMemoryEventStore();
    const handler = new CommandHandler(racing(store, 2, 'c-1'));
    const done = await handler.handle(counter, 'c-1', { add: 5, limit: 10 }, ctx);
    // Two racing writers added 1 each before this command's append went through.
    expect(done.state).to.equal(7);
    let refused: unknown;
    await new CommandHandler(racing(store, 1, 'c-1'))
      .handle(counter, 'c-1', { add: 3, limit: 10 }, ctx)
      .catch((e) => (refused = e));
    // 7 + 1 racing = 8; adding 3 would pass 10: refused on the fresh state, not appended.
    expect((refused as DomainError).code).to.equal('quota_exceeded');
    expect((await store.readStream('c-1')).events.map((e) => e.data)).to.deep.equal([
      { n: 1 },
      { n: 1 },
      { n: 5 },
      { n: 1 },
    ]);
  });

  it('reports a lost race instead when told to (the caller named a version)', async function () {
    const store = new InMemoryEventStore();
    const handler = new CommandHandler(racing(store, 1, 'c-1'));
    const conflict = new DomainError('version_conflict', 'changed');
    let seen: unknown;
    await handler
      .handle(counter, 'c-1', { add: 1, limit: 10 }, ctx, {
        onConflict: (e) => {
          expect(e).to.be.instanceOf(WrongExpectedVersionError);
          return conflict;
        },
      })
      .catch((e) => (seen = e));
    expect(seen).to.equal(conflict);
  });

  it('appends to several streams at once, or to none', async function () {
    const store = new InMemoryEventStore();
    const handler = new CommandHandler(store);
    await handler.handle(counter, 'b', { add: 1, limit: 10 }, ctx);
    const both = await handler.run(ctx, async (attempt) => {
      const a = await attempt.read(counter, 'a');
      const b = await attempt.read(counter, 'b');
      attempt.decide(counter, a, { add: 1, limit: 10 });
      attempt.decide(counter, b, { add: 1, limit: 10 });
      return [a.state, b.state];
    });
    expect(both.result).to.deep.equal([1, 2]);
    expect(both.appended).to.equal(2);
    let refused: unknown;
    await handler
      .run(ctx, async (attempt) => {
        const a = await attempt.read(counter, 'a');
        const b = await attempt.read(counter, 'b');
        attempt.decide(counter, a, { add: 1, limit: 10 });
        attempt.decide(counter, b, { add: 9, limit: 10 });
      })
      .catch((e) => (refused = e));
    expect(refused).to.be.instanceOf(DomainError);
    expect((await store.readStream('a')).revision).to.equal(0n);
  });

  it('creates a stream under a fresh id with no_stream, and never twice', async function () {
    const store = new InMemoryEventStore();
    const handler = new CommandHandler(store);
    await handler.run(ctx, (attempt) => {
      attempt.stage(attempt.create(counter, 'new-1'), [{ type: 'Added', data: { n: 1 } }]);
    });
    let error: unknown;
    await handler
      .run(
        ctx,
        (attempt) => {
          attempt.stage(attempt.create(counter, 'new-1'), [{ type: 'Added', data: { n: 1 } }]);
        },
        { maxAttempts: 1 },
      )
      .catch((e) => (error = e));
    expect(error).to.be.instanceOf(WrongExpectedVersionError);
  });
  describe('kept states', function () {
    /** The store, counting the events each readStream hands back. */
    function counting(store: EventStore) {
      const seen = { events: 0 };
      const wrapped: EventStore = {
        ...store,
        append: (r) => store.append(r),
        async readStream(id, options) {
          const read = await store.readStream(id, options);
          seen.events += read.events.length;
          return read;
        },
      };
      return { store: wrapped, seen };
    }

    it('reads only the events since the last command (and the last one it folded)', async function () {
      const { store, seen } = counting(new InMemoryEventStore());
      const handler = new CommandHandler(store);
      for (let i = 0; i < 20; i++)
        await handler.handle(counter, 'k-1', { add: 1, limit: 100 }, ctx);
      seen.events = 0;
      const r = await handler.handle(counter, 'k-1', { add: 1, limit: 100 }, ctx);
      expect(r.state).to.equal(21);
      expect(seen.events).to.equal(2); // the kept one and the one appended since
      // Another handler on the same store shares what was kept.
      seen.events = 0;
      expect(await new CommandHandler(store).state(counter, 'k-1')).to.equal(21);
      expect(seen.events).to.equal(2);
    });

    it('concurrent commands on one stream all read from the kept state', async function () {
      const { store, seen } = counting(new InMemoryEventStore());
      const handler = new CommandHandler(store);
      for (let i = 0; i < 30; i++)
        await handler.handle(counter, 'k-4', { add: 1, limit: 1000 }, ctx);
      seen.events = 0;
      // Ten commands read the stream at once, as concurrent writes to one tenant read its stream.
      await Promise.all(
        Array.from({ length: 10 }, () => handler.state(counter, 'k-4').then(() => seen.events)),
      );
      // The kept event and the one appended since, once each (not the whole stream, 30 each).
      expect(seen.events).to.equal(20);
      const states = await Promise.all(
        Array.from({ length: 10 }, () => handler.state(counter, 'k-4')),
      );
      expect(states).to.deep.equal(Array(10).fill(30));
      expect(seen.events).to.equal(30);
    });

    it('reads the whole stream again when the log under it was replaced', async function () {
      const a = new InMemoryEventStore();
      const b = new InMemoryEventStore();
      let current: EventStore = a;
      const store = {
        append: (r: AppendRequest[]) => current.append(r),
        readStream: (id: string, options?: ReadStreamOptions) => current.readStream(id, options),
      } as EventStore;
      const handler = new CommandHandler(store);
      for (let i = 0; i < 3; i++) await handler.handle(counter, 'k-2', { add: 1, limit: 100 }, ctx);
      current = b; // the same stream, other events, more of them
      for (let i = 0; i < 5; i++) {
        await new CommandHandler(b).handle(counter, 'k-2', { add: 10, limit: 100 }, ctx);
      }
      expect(await handler.state(counter, 'k-2')).to.equal(50);
      const r = await handler.handle(counter, 'k-2', { add: 1, limit: 100 }, ctx);
      expect(r.state).to.equal(51);
    });

    it('keeps nothing the store decrypted', async function () {
      const inner = new InMemoryEventStore();
      const { store, seen } = counting({
        append: (r: AppendRequest[]) => inner.append(r),
        readStream: async (id: string, options?: ReadStreamOptions) => ({
          ...(await inner.readStream(id, options)),
          decrypted: true as const,
        }),
      } as EventStore);
      const handler = new CommandHandler(store);
      for (let i = 0; i < 4; i++) await handler.handle(counter, 'k-3', { add: 1, limit: 100 }, ctx);
      seen.events = 0;
      await handler.handle(counter, 'k-3', { add: 1, limit: 100 }, ctx);
      expect(seen.events).to.equal(4);
    });

    it('stops keeping a stream once an event the store decrypts is appended to it', async function () {
      const inner = new InMemoryEventStore();
      const secret = (e: { data: unknown }) => (e.data as { n: number }).n === 7;
      const { store, seen } = counting({
        append: (r: AppendRequest[]) => inner.append(r),
        readStream: async (id: string, options?: ReadStreamOptions) => {
          const read = await inner.readStream(id, options);
          return read.events.some(secret) ? { ...read, decrypted: true as const } : read;
        },
      } as EventStore);
      const handler = new CommandHandler(store);
      for (let i = 0; i < 3; i++) await handler.handle(counter, 'k-5', { add: 1, limit: 100 }, ctx);
      await handler.handle(counter, 'k-5', { add: 7, limit: 100 }, ctx); // now decrypted
      expect(await handler.state(counter, 'k-5')).to.equal(10);
      seen.events = 0;
      expect(await handler.state(counter, 'k-5')).to.equal(10);
      expect(seen.events).to.equal(4); // the whole stream: nothing of it was kept
    });

    it('forgets the least recently read stream beyond 5000, and only that one', async function () {
      this.timeout(60000);
      const { store, seen } = counting(new InMemoryEventStore());
      const handler = new CommandHandler(store);
      /** Two events, read (and kept) at the second. */
      const kept = async (id: string) => {
        await handler.handle(counter, id, { add: 1, limit: 100 }, ctx);
        await handler.handle(counter, id, { add: 1, limit: 100 }, ctx);
        await handler.state(counter, id);
      };
      /** The events a read of the stream fetched: 1 when kept, 2 when read whole. */
      const read = async (id: string) => {
        seen.events = 0;
        expect(await handler.state(counter, id)).to.equal(2);
        return seen.events;
      };
      for (let i = 0; i < 5000; i++) await kept(`lru-${i}`);
      expect(await read('lru-0')).to.equal(1); // read again: now the most recent
      await kept('lru-5000'); // one more: the least recently read, lru-1, goes
      expect(await read('lru-2')).to.equal(1);
      expect(await read('lru-0')).to.equal(1);
      expect(await read('lru-5000')).to.equal(1);
      expect(await read('lru-1')).to.equal(2); // forgotten: read whole
    });
  });
});
