/**
 * Fault: Redis stopped under hot reads. Reads stay correct (from PostgreSQL), readiness stays
 * ready (degraded); a change written while Redis is down is served after it comes back, and the
 * value from before the change never again, although Redis comes back with its old data (AOF).
 */
import { expect } from 'chai';
import request from 'supertest';
import { PrivateRedis } from '../support/private-servers.js';
import { startHarness, type Harness } from '../support/harness.js';
import { readKey, startReaders } from '../support/hot-readers.js';
import { createProjector } from '../../src/composition.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('faults: Redis stopped under hot reads', function () {
  this.timeout(180_000);
  let redis: PrivateRedis;
  let h: Harness;

  before(async function () {
    redis = await PrivateRedis.start({ persist: true });
    h = await startHarness({
      runProjector: true,
      overrides: { ConnectionStrings__Redis: redis.connectionString },
    });
  });
  after(async function () {
    await h?.close();
    await redis?.destroy();
  });

  it('reads stay correct from PostgreSQL, readiness stays ready, and the old value never returns', async function () {
    const key = await readKey(h, 'before');
    // The environment is in Redis now (filled by that read), with the old value.
    expect(await redisHash(h, key.tenantId)).to.match(/before/);
    const readers = startReaders(h, key, 'up');
    const { seen } = readers;
    await sleep(300);

    await redis.stop('SIGKILL');
    readers.phase = 'down';
    await sleep(1500);
    const ready = await request(h.url).get('/health/ready');
    expect(ready.status, JSON.stringify(ready.body)).to.equal(200);
    expect(ready.body.checks.redis.status).to.equal('Unhealthy');
    expect(ready.body.degraded).to.include('redis: down; reads are served from PostgreSQL');

    // A change while Redis is down: it reaches the readers through PostgreSQL.
    const update = await request(h.url)
      .put(`/api/v1/configs/${key.configId}`)
      .set('Authorization', `Bearer ${key.editor}`)
      .set('If-Match', '"1"')
      .send({ value: 'after' })
      .expect(200);
    for (let i = 0; i < 200 && !seen.some((s) => s.value === 'after'); i++) await sleep(50);
    const firstAfter = seen.findIndex((s) => s.value === 'after');
    expect(firstAfter, 'the change is served while Redis is down').to.be.greaterThan(-1);
    await sleep(500);

    // Redis comes back with its data from before the change (AOF): a stale hash. The cache
    // projection is behind (here: its projector is down), as it is for a while after any outage.
    await h.projector.stop();
    await redis.startServer();
    readers.phase = 'back';
    await sleep(2500);
    const projector = createProjector(h.services, { idleWaitMs: 50 });
    projector.start();
    // Until the cache projection has applied the change there, and a while after.
    const cacheCaughtUp = async () =>
      BigInt(
        (await h.services.redis.get(h.services.keys.checkpoint('redis-cache')).catch(() => '0')) ??
          '0',
      ) >= BigInt(update.body.position);
    for (let i = 0; i < 400 && !(await cacheCaughtUp()); i++) await sleep(50);
    expect(await cacheCaughtUp(), 'the cache projection caught up').to.equal(true);
    await sleep(1500);
    await readers.stop();
    await projector.stop();

    const { count } = readers;
    const stale = seen.slice(firstAfter).filter((s) => s.value !== 'after');
    const errors = seen.filter((s) => s.status !== 200);
    console.log(
      `      hot reads: ${seen.length} (${count('up')} before, ${count('down')} with Redis down, ` +
        `${count('back')} after it returned); errors ${errors.length}; old value after the change ${stale.length}`,
    );
    expect(errors, 'every read answered 200').to.deep.equal([]);
    expect(count('down')).to.be.greaterThan(0);
    expect(count('back')).to.be.greaterThan(0);
    expect(stale, 'never the old value once the new one was served').to.deep.equal([]);
    expect(seen.at(-1)!.value).to.equal('after');
    expect((await request(h.url).get('/health/ready')).body.checks.redis.status).to.equal(
      'Healthy',
    );
  });
});

async function redisHash(h: Harness, tenantId: string): Promise<string> {
  return JSON.stringify(
    await h.services.redis.hgetall(h.services.keys.env(tenantId, 'Development')),
  );
}
