/**
 * Redis Sentinel (ConnectionStrings__Redis = `sentinel1:port,sentinel2:port,serviceName=…`): a
 * master, a replica and two sentinels on free ports. The master is killed under hot reads: the
 * sentinels promote the replica, the service follows it, reads stay correct throughout, and a
 * change made after the failover is served (applied to and announced by the new master).
 */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import request from 'supertest';
import { PrivateRedis, PrivateSentinel } from '../support/private-servers.js';
import { startHarness, type Harness } from '../support/harness.js';
import { readKey, startReaders } from '../support/hot-readers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MASTER = 'cfgsvc';

describe('faults: Redis Sentinel failover under hot reads', function () {
  this.timeout(180_000);
  let master: PrivateRedis;
  let replica: PrivateRedis;
  let sentinels: PrivateSentinel[] = [];
  let h: Harness;

  before(async function () {
    master = await PrivateRedis.start();
    replica = await PrivateRedis.start();
    await replicaOf(replica, master.port);
    sentinels = await Promise.all([
      PrivateSentinel.start(MASTER, master.port),
      PrivateSentinel.start(MASTER, master.port),
    ]);
    h = await startHarness({
      runProjector: true,
      overrides: {
        ConnectionStrings__Redis: `${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')},serviceName=${MASTER}`,
      },
    });
  });
  after(async function () {
    for (const c of clients.values()) c.disconnect();
    await h?.close();
    await Promise.all(sentinels.map((s) => s.destroy()));
    await replica?.destroy();
    await master?.destroy();
  });

  it('reads stay correct while the replica takes over, and changes flow through the new master', async function () {
    expect(h.settings.redis.sentinels).to.have.length(2);
    const key = await readKey(h, 'one');
    const readers = startReaders(h, key, 'master');
    const { seen } = readers;
    await sleep(300);

    const killed = Date.now();
    await master.stop('SIGKILL');
    readers.phase = 'failover';
    for (let i = 0; i < 300 && (await sentinels[0]!.masterPort(MASTER)) !== replica.port; i++) {
      await sleep(100);
    }
    expect(await sentinels[0]!.masterPort(MASTER), 'the replica was promoted').to.equal(
      replica.port,
    );
    const promotedAfter = Date.now() - killed;
    readers.phase = 'promoted';

    // A change after the failover: the cache projection writes it to the new master.
    const update = await request(h.url)
      .put(`/api/v1/configs/${key.configId}`)
      .set('Authorization', `Bearer ${key.editor}`)
      .set('If-Match', '"1"')
      .send({ value: 'two' })
      .expect(200);
    const onNewMaster = async () =>
      BigInt(
        (await replicaClient(replica).get(h.services.keys.checkpoint('redis-cache'))) ?? '0',
      ) >= BigInt(update.body.position);
    for (let i = 0; i < 300 && !(await onNewMaster()); i++) await sleep(100);
    expect(await onNewMaster(), 'the cache projection writes to the new master').to.equal(true);
    for (let i = 0; i < 100 && seen.at(-1)?.value !== 'two'; i++) await sleep(50);
    await sleep(1000);
    await readers.stop();

    const firstTwo = seen.findIndex((s) => s.value === 'two');
    const errors = seen.filter((s) => s.status !== 200);
    const stale = seen.slice(firstTwo).filter((s) => s.value !== 'two');
    const wrong = seen.slice(0, firstTwo).filter((s) => s.value !== 'one');
    const { count } = readers;
    console.log(
      `      hot reads: ${seen.length} (${count('master')} before, ${count('failover')} during the ` +
        `failover of ${promotedAfter} ms, ${count('promoted')} after); errors ${errors.length}; ` +
        `wrong values ${wrong.length + stale.length}`,
    );
    expect(errors).to.deep.equal([]);
    expect(count('failover')).to.be.greaterThan(0);
    expect(firstTwo).to.be.greaterThan(-1);
    expect(wrong).to.deep.equal([]);
    expect(stale).to.deep.equal([]);
    const ready = await request(h.url).get('/health/ready');
    expect(ready.body.checks.redis.status).to.equal('Healthy');
  });
});

async function replicaOf(replica: PrivateRedis, masterPort: number) {
  const client = replicaClient(replica);
  await client.call('REPLICAOF', '127.0.0.1', String(masterPort));
  for (let i = 0; i < 100; i++) {
    const info = (await client.call('INFO', 'replication')) as string;
    if (/master_link_status:up/.test(info)) return;
    await sleep(100);
  }
  throw new Error('the replica did not sync');
}

const clients = new Map<number, Redis>();
function replicaClient(r: PrivateRedis): Redis {
  let c = clients.get(r.port);
  if (!c) {
    c = new Redis({ port: r.port, host: '127.0.0.1' });
    c.on('error', () => undefined);
    clients.set(r.port, c);
  }
  return c;
}
