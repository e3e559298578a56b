import net from 'node:net';
import { expect } from 'chai';
import { describeEventStoreConformance, newEvent } from '../conformance.js';
import { EventStoreUnavailableError, type EventStore } from '../event-store.js';
import { createKurrentDbEventStore } from './kurrentdb-event-store.js';

const SKIP_REASON =
  'ConnectionStrings__EventStore is not set, so no KurrentDB/EventStoreDB server is configured';

if (process.env.ConnectionStrings__EventStore) {
  describeEventStoreConformance('KurrentDB', {
    open: async () => createKurrentDbEventStore(process.env.ConnectionStrings__EventStore!),
  });
} else {
  // eslint-disable-next-line no-console
  console.log(`EventStore conformance suite for KurrentDB skipped: ${SKIP_REASON}`);
  describe('EventStore conformance: KurrentDB', () => {
    it(`is skipped: ${SKIP_REASON}`);
  });
}

describe('KurrentDB event store: a server that accepts connections and never answers', function () {
  const sockets = new Set<net.Socket>();
  let server: net.Server;
  let store: EventStore;

  before(async function () {
    server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    store = createKurrentDbEventStore(`esdb://127.0.0.1:${port}?tls=false`, { timeoutMs: 300 });
  });

  after(async function () {
    await store?.close();
    // server.close() waits for open connections, which the client keeps trying to use.
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('fails every call with EventStoreUnavailableError within the timeout', async function () {
    this.timeout(5000);
    const started = Date.now();
    const results = await Promise.allSettled([
      store.ping(),
      store.append([{ streamId: 'silent-a', expected: 'no_stream', events: [newEvent()] }]),
      store.append([
        { streamId: 'silent-b', expected: 'any', events: [newEvent()] },
        { streamId: 'silent-c', expected: 'any', events: [newEvent()] },
      ]),
      store.readStream('silent-a'),
      store.readAll({ after: 0n, limit: 10 }),
      store.headPosition(),
    ]);
    const elapsed = Date.now() - started;
    expect(elapsed, 'elapsed ms').to.be.below(2000);
    for (const [i, result] of results.entries()) {
      expect(result.status, `call ${i}`).to.equal('rejected');
      const reason = (result as PromiseRejectedResult).reason as Error;
      expect(reason, `call ${i}: ${String(reason)}`).to.be.instanceOf(EventStoreUnavailableError);
    }
    // The calls really reached the silent server rather than failing for another reason.
    expect(sockets.size).to.be.greaterThan(0);
  });

  it('still lets waitForEvents end at its own timeout', async function () {
    const started = Date.now();
    await store.waitForEvents(100);
    expect(Date.now() - started).to.be.within(90, 1000);
  });
});
