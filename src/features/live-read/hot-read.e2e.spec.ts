import { expect } from 'chai';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { HotReadCache } from './hot-read.cache.js';

async function seed(h: Harness) {
  const tenantId = uniqueTenant('hot');
  await request(h.url)
    .post('/api/v1/tenants')
    .set('Authorization', `Bearer ${h.admin}`)
    .send({ tenantId, name: 'Hot', tier: 'Free' })
    .expect(201);
  const editor = h.token('editor', tenantId);
  const reader = h.token('reader', tenantId);
  const ids: Record<string, string> = {};
  const configs: [string, unknown, string][] = [
    ['feature.flag', 'true', 'Boolean'],
    ['limits.max', 42, 'Integer'],
    ['ratio', '0.5', 'Number'],
    ['ui', { theme: 'dark' }, 'JSON'],
    ['greeting', 'hello', 'String'],
  ];
  let position = '0';
  for (const [key, value, type] of configs) {
    const res = await request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', `Bearer ${editor}`)
      .send({ tenantId, key, value, type, environment: 'Staging' })
      .expect(201);
    ids[key] = res.body.configId;
    position = res.headers['x-event-position']!;
  }
  return { tenantId, editor, reader, ids, position };
}

const envPath = (tenantId: string, key?: string) =>
  `/api/v1/tenants/${tenantId}/environments/Staging/configs${key ? `/${key}` : ''}`;

describe('hot read path (e2e)', function () {
  describe('with the projector following the log', function () {
    let h: Harness;
    before(async function () {
      h = await startHarness({ runProjector: true });
    });
    after(async function () {
      await h?.close();
    });

    it('serves the whole environment as one typed object, and single keys', async function () {
      const s = await seed(h);
      const env = await request(h.url)
        .get(`${envPath(s.tenantId)}?minPosition=${s.position}`)
        .set('Authorization', `Bearer ${s.reader}`)
        .expect(200);
      expect(env.body.configs).to.deep.equal({
        'feature.flag': true,
        greeting: 'hello',
        'limits.max': 42,
        ratio: 0.5,
        ui: { theme: 'dark' },
      });
      expect(env.headers.etag).to.equal(`"${s.position}"`);
      const one = await request(h.url)
        .get(envPath(s.tenantId, 'limits.max'))
        .set('Authorization', `Bearer ${s.reader}`)
        .expect(200);
      expect(one.body).to.include({ key: 'limits.max', value: 42, type: 'Integer', version: 1 });
      expect(one.headers.etag).to.equal('"1"');
      await request(h.url)
        .get(envPath(s.tenantId, 'nope'))
        .set('Authorization', `Bearer ${s.reader}`)
        .expect(404)
        .expect('Content-Type', /problem\+json/);
    });

    it('answers 304 to a matching If-None-Match, on both routes', async function () {
      const s = await seed(h);
      const env = await request(h.url)
        .get(`${envPath(s.tenantId)}?minPosition=${s.position}`)
        .set('Authorization', `Bearer ${s.reader}`)
        .expect(200);
      const notModified = await request(h.url)
        .get(envPath(s.tenantId))
        .set('Authorization', `Bearer ${s.reader}`)
        .set('If-None-Match', env.headers.etag!)
        .expect(304);
      expect(notModified.text).to.equal('');
      expect(notModified.headers.etag).to.equal(env.headers.etag);
      await request(h.url)
        .get(envPath(s.tenantId, 'greeting'))
        .set('Authorization', `Bearer ${s.reader}`)
        .set('If-None-Match', 'W/"1"')
        .expect(304);
      await request(h.url)
        .get(envPath(s.tenantId, 'greeting'))
        .set('Authorization', `Bearer ${s.reader}`)
        .set('If-None-Match', '"0"')
        .expect(200);
    });

    /** Caches the seeded environment in this instance; returns a reader of its greeting. */
    async function cachedGreeting(s: Awaited<ReturnType<typeof seed>>) {
      const read = () =>
        request(h.url)
          .get(envPath(s.tenantId, 'greeting'))
          .set('Authorization', `Bearer ${s.reader}`);
      await request(h.url)
        .get(`${envPath(s.tenantId)}?minPosition=${s.position}`)
        .set('Authorization', `Bearer ${s.reader}`)
        .expect(200);
      expect((await read()).body.value).to.equal('hello');
      expect(h.api.cache.peek(s.tenantId, 'Staging')).to.not.equal(undefined);
      return read;
    }

    /** Reads until the value is `expected` (5 s at most); returns the last value read. */
    async function eventually(read: () => Promise<{ body: { value: unknown } }>, expected: string) {
      const deadline = Date.now() + 5000;
      let value = (await read()).body.value;
      while (value !== expected && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
        value = (await read()).body.value;
      }
      return value;
    }

    it('picks up a change live: pub/sub drops the in-process copy (hot swap)', async function () {
      const s = await seed(h);
      const read = await cachedGreeting(s);
      await request(h.url)
        .put(`/api/v1/configs/${s.ids.greeting}`)
        .set('Authorization', `Bearer ${s.editor}`)
        .set('If-Match', '1')
        .send({ value: 'bonjour' })
        .expect(200);
      // The in-process copy lives for CacheTTL (5 minutes): only the invalidation can refresh it.
      expect(await eventually(read, 'bonjour')).to.equal('bonjour');
      const after = await read();
      expect(after.body.version).to.equal(2);
      expect(after.headers.etag).to.equal('"2"');
    });

    it('hears of changes to an environment whose Redis hash expired while its in-process copy lives', async function () {
      const s = await seed(h);
      const read = await cachedGreeting(s);
      // The hash expires in Redis (CacheTTL) before this instance's copy does.
      await h.services.redis.del(h.services.keys.env(s.tenantId, 'Staging'));
      await request(h.url)
        .put(`/api/v1/configs/${s.ids.greeting}`)
        .set('Authorization', `Bearer ${s.editor}`)
        .send({ value: 'salut', expectedVersion: 1 })
        .expect(200);
      expect(await eventually(read, 'salut')).to.equal('salut');
    });

    it('waits for ?minPosition= so a writer reads its own write', async function () {
      const s = await seed(h);
      const put = await request(h.url)
        .put(`/api/v1/configs/${s.ids['limits.max']}`)
        .set('Authorization', `Bearer ${s.editor}`)
        .set('If-Match', '1')
        .send({ value: 43 })
        .expect(200);
      const res = await request(h.url)
        .get(envPath(s.tenantId, 'limits.max'))
        .set('Authorization', `Bearer ${s.reader}`)
        .set('X-Min-Position', put.headers['x-event-position']!)
        .expect(200);
      expect(res.body.value).to.equal(43);
      const row = await request(h.url)
        .get(
          `/api/v1/configs/${s.ids['limits.max']}?minPosition=${put.headers['x-event-position']}`,
        )
        .set('Authorization', `Bearer ${s.reader}`)
        .expect(200);
      expect(row.body.value).to.equal('43');
    });
  });

  describe('cache levels', function () {
    let h: Harness;
    before(async function () {
      h = await startHarness();
    });
    after(async function () {
      await h?.close();
    });

    it('falls back to PostgreSQL on a miss, fills Redis, then serves from Redis', async function () {
      const s = await seed(h);
      await h.project();
      const key = h.services.keys.env(s.tenantId, 'Staging');
      expect(await h.services.redis.exists(key)).to.equal(0);
      const first = await h.api.cache.get(s.tenantId, 'Staging');
      expect(first.source).to.equal('postgres');
      expect(first.snapshot.provisional).to.equal(false); // it became the Redis hash
      expect(await h.services.redis.hget(key, '__pos')).to.equal(s.position);
      h.api.cache.clear();
      const second = await h.api.cache.get(s.tenantId, 'Staging');
      expect(second.source).to.equal('redis');
      expect(second.snapshot.body.toString()).to.equal(first.snapshot.body.toString());
      const third = await h.api.cache.get(s.tenantId, 'Staging');
      expect(third.source).to.equal('local');
    });

    it('keeps a filled hash current through the cache projection, and never fills from an older snapshot', async function () {
      const s = await seed(h);
      await h.project();
      const key = h.services.keys.env(s.tenantId, 'Staging');
      await h.api.cache.get(s.tenantId, 'Staging'); // fill
      const put = await request(h.url)
        .put(`/api/v1/configs/${s.ids.greeting}`)
        .set('Authorization', `Bearer ${s.editor}`)
        .send({ value: 'hi', expectedVersion: 1 })
        .expect(200);
      await h.project();
      expect(JSON.parse((await h.services.redis.hget(key, 'greeting'))!).value).to.equal('hi');
      expect(await h.services.redis.hget(key, '__etag')).to.equal(put.headers['x-event-position']);

      // Evicted, then changed while not cached: a fill from before that change must be refused.
      await h.services.redis.del(key);
      await request(h.url)
        .put(`/api/v1/configs/${s.ids.greeting}`)
        .set('Authorization', `Bearer ${s.editor}`)
        .send({ value: 'hey', expectedVersion: 2 })
        .expect(200);
      await h.projector.redisCache.catchUpOnce(); // skips the uncached env, marks it
      expect(await h.services.redis.exists(key)).to.equal(0);
      h.api.cache.clear();
      const stale = await h.api.cache.get(s.tenantId, 'Staging'); // read model is behind
      expect(stale.source).to.equal('postgres');
      expect(await h.services.redis.exists(key)).to.equal(0);
      // Nothing will announce changes against it: it is kept for a second, not for CacheTTL.
      expect(stale.snapshot.provisional).to.equal(true);
      expect(stale.snapshot.expiresAt - Date.now()).to.be.at.most(1000);
      await h.project();
      h.api.cache.clear();
      const fresh = await h.api.cache.get(s.tenantId, 'Staging');
      expect(JSON.parse(fresh.snapshot.body.toString()).configs.greeting).to.equal('hey');
      expect(await h.services.redis.exists(key)).to.equal(1);
    });

    it('never trusts a fill older than a change already applied to a hash that then expired', async function () {
      const s = await seed(h);
      await h.project();
      const key = h.services.keys.env(s.tenantId, 'Staging');
      const read = async () =>
        (
          await request(h.url)
            .get(envPath(s.tenantId, 'greeting'))
            .set('Authorization', `Bearer ${s.reader}`)
            .expect(200)
        ).body.value;
      expect(await read()).to.equal('hello'); // fills the hash
      await request(h.url)
        .put(`/api/v1/configs/${s.ids.greeting}`)
        .set('Authorization', `Bearer ${s.editor}`)
        .send({ value: 'hola', expectedVersion: 1 })
        .expect(200);
      await h.projector.redisCache.catchUpOnce(); // the cache has it, the read model not yet
      await h.services.redis.del(key); // …and then the hash expires
      h.api.cache.clear();
      expect(await read()).to.equal('hello'); // from the lagging read model: provisional
      await h.project();
      await new Promise((r) => setTimeout(r, 1100));
      expect(await read()).to.equal('hola');
    });

    it('announces a change to instances even when another instance filled the hash with it first', async function () {
      const s = await seed(h);
      await h.project();
      const key = h.services.keys.env(s.tenantId, 'Staging');
      const read = async () =>
        (
          await request(h.url)
            .get(envPath(s.tenantId, 'greeting'))
            .set('Authorization', `Bearer ${s.reader}`)
            .expect(200)
        ).body.value;
      expect(await read()).to.equal('hello'); // this instance holds a copy
      await h.services.redis.del(key); // the hash expires
      await request(h.url)
        .put(`/api/v1/configs/${s.ids.greeting}`)
        .set('Authorization', `Bearer ${s.editor}`)
        .send({ value: 'bye', expectedVersion: 1 })
        .expect(200);
      // A later write elsewhere: the read model's checkpoint moves past the change.
      await request(h.url)
        .patch(`/api/v1/tenants/${s.tenantId}`)
        .set('Authorization', `Bearer ${h.admin}`)
        .send({ name: 'Hot 2' })
        .expect(200);
      await h.projector.runners[0]!.catchUpOnce(); // the read model is ahead of the cache
      // Another instance misses and fills the hash from the read model, change included.
      const other = new HotReadCache(
        h.services.redis,
        undefined,
        h.services.pool,
        h.services.keys,
        h.settings.cacheTtlMs,
      );
      await other.get(s.tenantId, 'Staging');
      await h.projector.redisCache.catchUpOnce(); // …then the cache projection gets there
      const deadline = Date.now() + 3000;
      let value = await read();
      while (value !== 'bye' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
        value = await read();
      }
      expect(value).to.equal('bye');
    });

    it('answers 503 with Retry-After when the projections do not reach minPosition in time', async function () {
      const slow = await startHarness({
        overrides: { ConfigService__ReadYourWritesTimeout: 'PT0.3S' },
      });
      try {
        const s = await seed(slow);
        const res = await request(slow.url)
          .get(`${envPath(s.tenantId)}?minPosition=${BigInt(s.position) + 1000n}`)
          .set('Authorization', `Bearer ${s.reader}`)
          .expect(503);
        expect(res.headers['retry-after']).to.equal('1');
        expect(res.body.field).to.equal('minPosition');
      } finally {
        await slow.close();
      }
    });
  });

  describe('with Redis down', function () {
    let h: Harness;
    let seedHarness: Harness;
    before(async function () {
      seedHarness = await startHarness();
      // Same database, but a Redis nobody listens on.
      h = await startHarness({ overrides: { ConnectionStrings__Redis: '127.0.0.1:1' } });
    });
    after(async function () {
      await h?.close();
      await seedHarness?.close();
    });

    it('serves from PostgreSQL', async function () {
      const s = await seed(seedHarness);
      await seedHarness.project();
      const token = h.token('reader', s.tenantId);
      const res = await request(h.url)
        .get(envPath(s.tenantId, 'ui'))
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      expect(res.body.value).to.deep.equal({ theme: 'dark' });
      // Still ready (it answers, from PostgreSQL): degraded, and it says why.
      const ready = await request(h.url).get('/health/ready').expect(200);
      expect(ready.body.status).to.equal('Degraded');
      expect(ready.body.degraded).to.include('redis: down; reads are served from PostgreSQL');
      expect(ready.body.checks.redis.status).to.equal('Unhealthy');
      expect(ready.body.checks.postgres.status).to.equal('Healthy');
      const metrics = await request(h.url).get('/metrics').expect(200);
      expect(metrics.text).to.match(/^redis_up 0$/m);
      expect(metrics.text).to.match(/^readiness_degraded 1$/m);
    });
  });
});
