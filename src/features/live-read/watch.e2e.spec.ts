import http from 'node:http';
import { expect } from 'chai';
import request from 'supertest';
import { signToken } from '../../core/auth/auth.js';
import { createClient } from '@config-service/client';
import { onCanary } from '../deployments/deployment.decider.js';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { EventStream } from '../../../test/support/event-stream.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('live updates: long polls and event streams (e2e)', function () {
  let h: Harness;
  const streams: EventStream[] = [];
  before(async function () {
    h = await startHarness({ runProjector: true, overrides: { ConfigService__MaxWatchers: '6' } });
  });
  afterEach(function () {
    for (const s of streams.splice(0)) s.close();
  });
  after(async function () {
    await h?.close();
  });

  async function tenant() {
    const tenantId = uniqueTenant('watch');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'W', tier: 'Enterprise' })
      .expect(201);
    return {
      tenantId,
      editor: h.token('editor', tenantId),
      reader: h.token('reader', tenantId),
    };
  }

  type Tenant = Awaited<ReturnType<typeof tenant>>;

  async function create(t: Tenant, key: string, value: unknown, environment = 'Staging') {
    const res = await request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', `Bearer ${t.editor}`)
      .send({ tenantId: t.tenantId, key, value, environment })
      .expect(201);
    return { configId: res.body.configId as string, position: res.headers['x-event-position']! };
  }

  async function update(t: Tenant, configId: string, value: unknown, expectedVersion: number) {
    await request(h.url)
      .put(`/api/v1/configs/${configId}`)
      .set('Authorization', `Bearer ${t.editor}`)
      .send({ value, expectedVersion })
      .expect(200);
  }

  const envPath = (t: Tenant, key?: string, environment = 'Staging') =>
    `/api/v1/tenants/${t.tenantId}/environments/${environment}/configs${key ? `/${key}` : ''}`;

  async function open(path: string, token: string, headers: Record<string, string> = {}) {
    const s = await EventStream.open(`${h.url}${path}`, {
      Authorization: `Bearer ${token}`,
      ...headers,
    });
    streams.push(s);
    return s;
  }

  async function current(t: Tenant, key?: string, position?: string) {
    const res = await request(h.url)
      .get(`${envPath(t, key)}${position ? `?minPosition=${position}` : ''}`)
      .set('Authorization', `Bearer ${t.reader}`)
      .expect(200);
    return { etag: res.headers.etag as string, body: res.body };
  }

  describe('event stream (Accept: text/event-stream)', function () {
    it('sends the environment now and after every change to it, and nothing for others', async function () {
      const t = await tenant();
      const a = await create(t, 'a', 'one');
      const { etag } = await current(t, undefined, a.position);
      const s = await open(envPath(t), t.reader);
      expect(s.status).to.equal(200);
      expect(s.headers['content-type']).to.match(/^text\/event-stream/);
      expect(s.headers['cache-control']).to.include('no-cache');

      const first = await s.nth(1);
      expect(first.event).to.equal('snapshot');
      expect(`"${first.id}"`).to.equal(etag);
      expect(JSON.parse(first.data).configs).to.deep.equal({ a: 'one' });

      // A change elsewhere (another environment) first, then one here: only the second arrives.
      await create(t, 'a', 'prod', 'Development');
      await update(t, a.configId, 'two', 1);
      const second = await s.nth(2);
      expect(second.event).to.equal('snapshot');
      expect(JSON.parse(second.data).configs).to.deep.equal({ a: 'two' });
      expect(second.id).to.not.equal(first.id);
      await create(t, 'b', 'new');
      const third = await s.nth(3);
      expect(JSON.parse(third.data).configs).to.deep.equal({ a: 'two', b: 'new' });
      await sleep(300);
      expect(s.events).to.have.length(3);
      expect(s.events.every((e) => JSON.parse(e.data).environment === 'Staging')).to.equal(true);
    });

    it('skips an unchanged first snapshot for a client resuming with Last-Event-ID', async function () {
      const t = await tenant();
      const a = await create(t, 'a', 'one');
      const { etag } = await current(t, undefined, a.position);
      const s = await open(envPath(t), t.reader, { 'Last-Event-ID': etag.slice(1, -1) });
      await sleep(300);
      expect(s.events).to.have.length(0);
      await update(t, a.configId, 'two', 1);
      const next = await s.nth(1);
      expect(JSON.parse(next.data).configs).to.deep.equal({ a: 'two' });
    });

    it('follows one key: its value, then `missing` when it is deleted', async function () {
      const t = await tenant();
      const a = await create(t, 'a', 'one');
      await create(t, 'other', 'x');
      await current(t, 'a', a.position);
      const s = await open(envPath(t, 'a'), t.reader);
      expect(JSON.parse((await s.nth(1)).data)).to.include({ key: 'a', value: 'one', version: 1 });
      expect((await s.nth(1)).id).to.equal('1');
      await update(t, a.configId, 'two', 1);
      expect(JSON.parse((await s.nth(2)).data)).to.include({ value: 'two', version: 2 });
      await request(h.url)
        .delete(`/api/v1/configs/${a.configId}`)
        .set('Authorization', `Bearer ${t.editor}`)
        .set('If-Match', '"2"')
        .expect(200);
      const gone = await s.nth(3);
      expect(gone.event).to.equal('missing');
      expect(JSON.parse(gone.data)).to.deep.equal({ key: 'a' });
    });

    it('answers 404 for a key that does not exist, 401 without a token, and hides other tenants', async function () {
      const t = await tenant();
      const other = await tenant();
      await create(t, 'a', 'one');
      const missing = await open(envPath(t, 'nope'), t.reader);
      expect(missing.status).to.equal(404);
      expect(JSON.parse(missing.body)).to.include({ field: 'key' });
      const anonymous = await EventStream.open(`${h.url}${envPath(t)}`, {});
      expect(anonymous.status).to.equal(401);
      // Another tenant's reader is answered as a plain GET would be: the tenant stays hidden.
      const get = await request(h.url)
        .get(envPath(t))
        .set('Authorization', `Bearer ${other.reader}`);
      expect(get.status).to.be.oneOf([403, 404]);
      const foreign = await open(envPath(t), other.reader);
      expect(foreign.status).to.equal(get.status);
    });

    it('ends the stream when the token expires', async function () {
      const t = await tenant();
      await create(t, 'a', 'one');
      const shortLived = signToken(
        h.settings.jwt,
        { sub: 'app', roles: ['reader'], tenant_id: t.tenantId },
        '2s',
      );
      const s = await open(envPath(t), shortLived);
      await s.nth(1);
      await s.end(8000);
      expect(s.events.at(-1)!.event).to.equal('expired');
    });

    it('puts a client on its canary side as soon as the canary starts', async function () {
      const t = await tenant();
      const a = await create(t, 'a', 'stable');
      await current(t, undefined, a.position);
      const clients = ['pod-1', 'pod-2', 'pod-3'];
      const watching = await Promise.all(
        clients.map((c) => open(envPath(t), t.reader, { 'X-Client-Id': c })),
      );
      for (const s of watching)
        expect(JSON.parse((await s.nth(1)).data).configs.a).to.equal('stable');
      const started = await request(h.url)
        .post('/api/v1/deployments')
        .set('Authorization', `Bearer ${t.editor}`)
        .send({
          configId: a.configId,
          value: 'canary',
          strategy: 'Canary',
          steps: [50, 100],
          bakeTimeSeconds: 3600,
        })
        .expect(201);
      const deploymentId = started.body.deploymentId as string;
      for (const [i, s] of watching.entries()) {
        const body = JSON.parse((await s.nth(2)).data);
        const side = onCanary(clients[i]!, deploymentId, 50) ? 'canary' : 'stable';
        expect(body.deployments.a).to.deep.equal({ deploymentId, side });
        expect(body.configs.a).to.equal(side);
      }
    });
  });

  describe('long poll (?wait= with If-None-Match)', function () {
    it('holds a matching conditional GET until the environment changes, then answers 200', async function () {
      const t = await tenant();
      const a = await create(t, 'a', 'one');
      const { etag } = await current(t, undefined, a.position);
      const waiting = request(h.url)
        .get(`${envPath(t)}?wait=30`)
        .set('Authorization', `Bearer ${t.reader}`)
        .set('If-None-Match', etag)
        .then((res) => res);
      await sleep(300);
      await update(t, a.configId, 'two', 1);
      const res = await waiting;
      expect(res.status).to.equal(200);
      expect(res.body.configs).to.deep.equal({ a: 'two' });
      expect(res.headers.etag).to.not.equal(etag);
    });

    it('answers 304 when nothing changed within the wait', async function () {
      const t = await tenant();
      const a = await create(t, 'a', 'one');
      const { etag } = await current(t, 'a', a.position);
      const started = Date.now();
      const res = await request(h.url)
        .get(`${envPath(t, 'a')}?wait=1`)
        .set('Authorization', `Bearer ${t.reader}`)
        .set('If-None-Match', etag)
        .expect(304);
      expect(Date.now() - started).to.be.at.least(900);
      expect(res.headers.etag).to.equal(etag);
    });

    it('answers at once when the ETag no longer matches, and 404 when the waited key is deleted', async function () {
      const t = await tenant();
      const a = await create(t, 'a', 'one');
      await current(t, 'a', a.position);
      const stale = await request(h.url)
        .get(`${envPath(t, 'a')}?wait=30`)
        .set('Authorization', `Bearer ${t.reader}`)
        .set('If-None-Match', '"0"')
        .expect(200);
      const waiting = request(h.url)
        .get(`${envPath(t, 'a')}?wait=30`)
        .set('Authorization', `Bearer ${t.reader}`)
        .set('If-None-Match', stale.headers.etag as string)
        .then((res) => res);
      await sleep(300);
      await request(h.url)
        .delete(`/api/v1/configs/${a.configId}`)
        .set('Authorization', `Bearer ${t.editor}`)
        .set('If-Match', '"1"')
        .expect(200);
      const res = await waiting;
      expect(res.status).to.equal(404);
      expect(res.body).to.include({ field: 'key' });
    });

    it('rejects a wait outside 1..60 seconds with 400 naming wait', async function () {
      const t = await tenant();
      for (const wait of ['0', '61', 'abc', '1.5']) {
        const res = await request(h.url)
          .get(`${envPath(t)}?wait=${wait}`)
          .set('Authorization', `Bearer ${t.reader}`)
          .expect(400);
        expect(res.body.field, wait).to.equal('wait');
      }
    });
  });

  describe('clients that leave or outlive their token', function () {
    it('holds no slot for a stream whose client left while it was opening', async function () {
      const t = await tenant();
      const held = await h.services.pool.connect();
      try {
        // A cold environment whose first read waits on PostgreSQL, which we hold.
        await held.query('BEGIN');
        await held.query('LOCK TABLE configurations IN ACCESS EXCLUSIVE MODE');
        for (let i = 0; i < 2; i++) {
          const req = http.get(`${h.url}${envPath(t)}`, {
            headers: { Authorization: `Bearer ${t.reader}`, Accept: 'text/event-stream' },
          });
          req.on('error', () => undefined);
          await sleep(150);
          req.destroy();
        }
        await sleep(100);
      } finally {
        await held.query('COMMIT');
        held.release();
      }
      await sleep(500);
      expect(h.api.cache.watcherCount).to.equal(0);
    });

    it('answers a long poll when its token expires, not with data after it', async function () {
      const t = await tenant();
      const a = await create(t, 'a', 'one');
      const { etag } = await current(t, undefined, a.position);
      const shortLived = signToken(
        h.settings.jwt,
        { sub: 'app', roles: ['reader'], tenant_id: t.tenantId },
        '2s',
      );
      const started = Date.now();
      const res = await request(h.url)
        .get(`${envPath(t)}?wait=20`)
        .set('Authorization', `Bearer ${shortLived}`)
        .set('If-None-Match', etag);
      expect(res.status).to.equal(304);
      expect(Date.now() - started).to.be.below(5000);
    });
  });

  describe('limits and metrics', function () {
    it('refuses streams beyond ConfigService__MaxWatchers with 503, and counts watchers', async function () {
      const t = await tenant();
      const a = await create(t, 'a', 'one');
      await current(t, undefined, a.position);
      // Streams of earlier tests are released when the server sees them close.
      for (let i = 0; h.api.cache.watcherCount > 0; i++) {
        if (i > 100) throw new Error('earlier streams still open');
        await sleep(50);
      }
      const open6 = [];
      for (let i = 0; i < 6; i++) open6.push(await open(envPath(t), t.reader));
      for (const s of open6) expect(s.status).to.equal(200);
      const metrics = await request(h.url).get('/metrics').expect(200);
      expect(metrics.text).to.match(/^config_watchers\{mode="stream"\} 6$/m);
      const refused = await open(envPath(t), t.reader);
      expect(refused.status).to.equal(503);
      expect(refused.headers['retry-after']).to.equal('5');
      // A long poll over the limit is answered as a plain conditional GET, saying when to retry.
      const { etag } = await current(t);
      const full = await request(h.url)
        .get(`${envPath(t)}?wait=30`)
        .set('Authorization', `Bearer ${t.reader}`)
        .set('If-None-Match', etag)
        .expect(304);
      expect(full.headers['retry-after']).to.equal('5');
      // …which the apps' client honours instead of polling again at once.
      let requests = 0;
      const poller = createClient({
        url: h.url,
        tenant: t.tenantId,
        environment: 'Staging',
        token: t.reader,
        mode: 'poll',
        lastKnownGood: false,
        fetch: (input, init) => {
          requests++;
          return fetch(input, init);
        },
      });
      await poller.ready();
      await sleep(1000);
      await poller.close();
      expect(requests).to.be.at.most(3);
      open6[0]!.close();
      await sleep(200);
      const again = await open(envPath(t), t.reader);
      expect(again.status).to.equal(200);
      const after = await request(h.url).get('/metrics').expect(200);
      expect(after.text).to.match(/^config_watch_pushes_total\{mode="stream"\} \d+$/m);
    });
  });
});
