/**
 * Deployments followed live: GET /api/v1/deployments/{id}/events and
 * GET /api/v1/tenants/{tenantId}/deployments/events, fed by the projector's announcements after
 * each read-model batch (deployment-feed.ts), against the real API, PostgreSQL and Redis.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { EventStream } from '../../../test/support/event-stream.js';
import { signToken } from '../../core/auth/auth.js';
import { DeploymentFeed } from './deployment-feed.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Long bake: nothing moves unless the test moves it. */
const longCanary = { strategy: 'Canary', steps: [10, 50, 100], bakeTimeSeconds: 600 };

describe('deployments followed live (server-sent events, e2e)', function () {
  let h: Harness;
  const streams: EventStream[] = [];
  before(async function () {
    h = await startHarness({ runProjector: true, overrides: { ConfigService__MaxWatchers: '3' } });
  });
  afterEach(function () {
    for (const s of streams.splice(0)) s.close();
  });
  after(async function () {
    await h?.close();
  });

  async function tenant() {
    const tenantId = uniqueTenant('depsse');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'Live deployments', tier: 'Enterprise' })
      .expect(201);
    return {
      tenantId,
      editor: h.token('editor', tenantId, { sub: 'alice' }),
      reader: h.token('reader', tenantId, { sub: 'rita' }),
    };
  }
  type T = Awaited<ReturnType<typeof tenant>>;

  /** A config in `environment` and a canary of a new value for it. */
  async function canary(t: T, key: string, environment = 'Staging') {
    const created = await request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', `Bearer ${t.editor}`)
      .send({ tenantId: t.tenantId, key, environment, type: 'String', value: 'old' })
      .expect(201);
    const res = await request(h.url)
      .post('/api/v1/deployments')
      .set('Authorization', `Bearer ${t.editor}`)
      .send({ configId: created.body.configId, value: 'new', ...longCanary })
      .expect(201);
    return { id: res.body.deploymentId as string, position: res.headers['x-event-position']! };
  }

  const act = (t: T, id: string, what: string, body: object = {}) =>
    request(h.url)
      .post(`/api/v1/deployments/${id}/${what}`)
      .set('Authorization', `Bearer ${t.editor}`)
      .send(body)
      .expect(200);

  async function open(path: string, token: string, headers: Record<string, string> = {}) {
    const s = await EventStream.open(`${h.url}${path}`, {
      Authorization: `Bearer ${token}`,
      ...headers,
    });
    streams.push(s);
    return s;
  }

  it('streams a deployment now and after every change, from the read model', async function () {
    const t = await tenant();
    const d = await canary(t, 'search.engine');
    const s = await open(`/api/v1/deployments/${d.id}/events`, t.reader, {
      'X-Min-Position': d.position,
    });
    expect(s.status).to.equal(200);
    expect(s.headers['content-type']).to.match(/^text\/event-stream/);
    const first = await s.nth(1);
    expect(first.event).to.equal('snapshot');
    expect(JSON.parse(first.data)).to.deep.include({ deploymentId: d.id, status: 'InProgress' });

    // Apps report errors on both sides: the counts per side arrive.
    await request(h.url)
      .post(`/api/v1/deployments/${d.id}/metrics`)
      .set('Authorization', `Bearer ${t.reader}`)
      .send({ requests: 40, errors: 1, side: 'canary' })
      .expect(200);
    const counted = JSON.parse((await s.nth(2)).data);
    expect(counted.metrics.current.canary).to.deep.equal({ requests: 40, errors: 1 });

    await act(t, d.id, 'pause');
    expect(JSON.parse((await s.nth(3)).data).status).to.equal('Paused');
    await act(t, d.id, 'resume');
    expect(JSON.parse((await s.nth(4)).data).status).to.equal('InProgress');
    await act(t, d.id, 'promote');
    const done = JSON.parse((await s.nth(5)).data);
    expect(done).to.deep.include({ status: 'Completed', canaryPercentage: 100 });
    // Each snapshot is what a GET answers at that moment.
    const now = await request(h.url)
      .get(`/api/v1/deployments/${d.id}`)
      .set('Authorization', `Bearer ${t.reader}`)
      .expect(200);
    expect(done).to.deep.equal(now.body);
    // Ids name the content: resumed, it is as it was before the pause (same id).
    const ids = s.events.map((e) => e.id);
    expect(ids[3]).to.equal(ids[1]);
    expect(new Set(ids).size).to.equal(4);
    await sleep(300);
    expect(s.events).to.have.length(5);
  });

  it('skips the first snapshot for a client resuming with the current Last-Event-ID', async function () {
    const t = await tenant();
    const d = await canary(t, 'feature.x');
    const path = `/api/v1/deployments/${d.id}/events`;
    const a = await open(path, t.reader, { 'X-Min-Position': d.position });
    const first = await a.nth(1);
    a.close();
    // Current id: nothing until something changes, then the change.
    const resumed = await open(path, t.reader, { 'Last-Event-ID': first.id! });
    await sleep(400);
    expect(resumed.events).to.have.length(0);
    await act(t, d.id, 'pause');
    expect(JSON.parse((await resumed.nth(1)).data).status).to.equal('Paused');
    // An old id: the current state comes first, so a client that missed changes is consistent.
    const stale = await open(path, t.reader, { 'Last-Event-ID': first.id! });
    const current = await stale.nth(1);
    expect(JSON.parse(current.data).status).to.equal('Paused');
    expect(current.id).to.equal(resumed.events[0]!.id);
  });

  it("follows a tenant's running deployments, limited to the caller's environments", async function () {
    const t = await tenant();
    const one = await canary(t, 'a.key');
    const s = await open(`/api/v1/tenants/${t.tenantId}/deployments/events`, t.reader, {
      'X-Min-Position': one.position,
    });
    const staging = h.token('reader', t.tenantId, { sub: 'sam', environments: ['Staging'] });
    const limited = await open(`/api/v1/tenants/${t.tenantId}/deployments/events`, staging);
    const ids = (e: { data: string }) =>
      (JSON.parse(e.data) as { items: { deploymentId: string }[] }).items.map(
        (i) => i.deploymentId,
      );
    expect(ids(await s.nth(1))).to.deep.equal([one.id]);
    expect(ids(await limited.nth(1))).to.deep.equal([one.id]);

    const two = await canary(t, 'b.key', 'Development');
    expect(ids(await s.nth(2))).to.deep.equal([two.id, one.id]);
    await act(t, one.id, 'rollback', { reason: 'not today' });
    expect(ids(await s.nth(3))).to.deep.equal([two.id]);
    // The Staging-only reader saw its deployment go, and never the Development one.
    expect(ids(await limited.nth(2))).to.deep.equal([]);
    await sleep(300);
    expect(limited.events).to.have.length(2);
  });

  it('answers JSON without Accept: text/event-stream, and hides what the caller may not read', async function () {
    const t = await tenant();
    const d = await canary(t, 'json.key');
    const once = await request(h.url)
      .get(`/api/v1/deployments/${d.id}/events?minPosition=${d.position}`)
      .set('Authorization', `Bearer ${t.reader}`)
      .expect(200);
    expect(once.body).to.deep.include({ deploymentId: d.id, status: 'InProgress' });
    const list = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/deployments/events`)
      .set('Authorization', `Bearer ${t.reader}`)
      .expect(200);
    expect(list.body.items.map((i: { deploymentId: string }) => i.deploymentId)).to.deep.equal([
      d.id,
    ]);

    const other = await tenant();
    const stranger = await open(`/api/v1/deployments/${d.id}/events`, other.reader);
    expect(stranger.status).to.equal(404);
    expect(JSON.parse(stranger.body)).to.include({ field: 'deploymentId' });
    const production = h.token('reader', t.tenantId, { sub: 'pat', environments: ['Production'] });
    // As GET /api/v1/deployments/{id} answers it: another environment of your tenant is 403.
    expect((await open(`/api/v1/deployments/${d.id}/events`, production)).status).to.equal(403);
    expect(
      (await open(`/api/v1/tenants/${t.tenantId}/deployments/events`, other.reader)).status,
    ).to.equal(404);
    expect(
      (await open(`/api/v1/tenants/${uniqueTenant('none')}/deployments/events`, h.admin)).status,
    ).to.equal(404);
    expect((await open('/api/v1/deployments/dep_nope/events', t.reader)).status).to.equal(404);
  });

  it('re-reads every second without the subscription, and ends its streams on shutdown', async function () {
    // A feed that never subscribed: what an API process has while Redis pub/sub is down.
    const feed = new DeploymentFeed(h.services.keys);
    const t = await tenant();
    const d = await canary(t, 'offline.key');
    await request(h.url)
      .get(`/api/v1/deployments/${d.id}?minPosition=${d.position}`)
      .set('Authorization', `Bearer ${t.reader}`)
      .expect(200);
    const server = http.createServer((_req, res) =>
      feed.stream(res, { deploymentId: d.id }, () => h.services.queries.deployments.find(d.id), {
        lastEventId: undefined,
        expiresAt: Date.now() + 60_000,
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const s = await EventStream.open(`http://127.0.0.1:${port}/`, {});
      streams.push(s);
      expect(JSON.parse((await s.nth(1)).data).status).to.equal('InProgress');
      expect(feed.isSubscribed).to.equal(false);
      await act(t, d.id, 'pause');
      expect(JSON.parse((await s.nth(2, 5000)).data).status).to.equal('Paused');
      expect(feed.open).to.equal(1);
      feed.shutdown();
      await s.end();
      await sleep(50);
      expect(feed.open).to.equal(0);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    // The API's own feed is subscribed (it hears the projector).
    expect(h.services.deploymentFeed.isSubscribed).to.equal(true);
  });

  it('refuses streams beyond ConfigService__MaxWatchers with 503 and Retry-After', async function () {
    const t = await tenant();
    const d = await canary(t, 'crowded.key');
    const path = `/api/v1/deployments/${d.id}/events`;
    // Earlier tests' streams are closed by their clients; the server may still be letting go.
    const settled = Date.now() + 5000;
    while (h.services.deploymentFeed.open > 0 && Date.now() < settled) await sleep(20);
    const open3 = [];
    for (let i = 0; i < 3; i++) {
      const s = await open(path, t.reader, { 'X-Min-Position': d.position });
      await s.nth(1);
      open3.push(s);
    }
    const refused = await open(path, t.reader);
    expect(refused.status).to.equal(503);
    expect(refused.headers['retry-after']).to.equal('5');
    expect(JSON.parse(refused.body)).to.include({ title: 'Too many watchers' });
    // A plain GET of the same route is not a stream: still answered.
    await request(h.url).get(path).set('Authorization', `Bearer ${t.reader}`).expect(200);
    open3[0]!.close();
    const deadline = Date.now() + 5000;
    while (h.services.deploymentFeed.open >= 3 && Date.now() < deadline) await sleep(20);
    expect((await open(path, t.reader)).status).to.equal(200);
  });

  it('ends the stream with an expired event when the token expires', async function () {
    const t = await tenant();
    const d = await canary(t, 'expiring.key');
    const short = signToken(
      h.settings.jwt,
      { sub: 'rita', roles: ['reader'], tenant_id: t.tenantId },
      '2s',
    );
    const s = await open(`/api/v1/deployments/${d.id}/events`, short, {
      'X-Min-Position': d.position,
    });
    expect((await s.nth(1)).event).to.equal('snapshot');
    expect((await s.nth(2, 5000)).event).to.equal('expired');
    await s.end();
  });
});
