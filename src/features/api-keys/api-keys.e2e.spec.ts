import { expect } from 'chai';
import request from 'supertest';
import type { AddressInfo } from 'node:net';
import {
  eventCount,
  startHarness,
  uniqueTenant,
  type Harness,
} from '../../../test/support/harness.js';
import { checkLane, checkResponses } from '../../../test/support/response-check.js';
import { buildServices, createApi, type ApiServer, type Services } from '../../composition.js';
import { createLogger } from '../../core/observability/logger.js';

const envPath = (tenantId: string, environment = 'Development') =>
  `/api/v1/tenants/${tenantId}/environments/${environment}/configs`;

/** Polls until `check` holds, failing after `ms` (no timing assertion: a deadline on a condition). */
async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('API keys (e2e)', function () {
  let h: Harness;
  /** A second API replica: same database and Redis, its own process-local caches. */
  let b: { services: Services; api: ApiServer; url: string };

  before(async function () {
    h = await startHarness({ runProjector: true });
    const services = await buildServices(h.settings, {
      logger: createLogger(h.settings.logLevel),
      poolSize: 5,
    });
    const api = createApi(services);
    checkResponses(api.server);
    checkLane(api.observeLane);
    await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', resolve));
    b = { services, api, url: `http://127.0.0.1:${(api.server.address() as AddressInfo).port}` };
  });
  after(async function () {
    await b?.api.close();
    await b?.services.close();
    await h?.close();
  });

  async function seed() {
    const tenantId = uniqueTenant('keys');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'Keys', tier: 'Free' })
      .expect(201);
    const editor = h.token('editor', tenantId);
    const admin = h.token('tenant-admin', tenantId);
    let position = '0';
    for (const environment of ['Development', 'Staging']) {
      const res = await request(h.url)
        .post('/api/v1/configs')
        .set('Authorization', `Bearer ${editor}`)
        .send({ tenantId, key: 'greeting', value: 'hello', type: 'String', environment });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      position = res.headers['x-event-position']!;
    }
    return { tenantId, admin, editor, position };
  }

  async function createKey(
    tenantId: string,
    token: string,
    body: Record<string, unknown> = { name: 'checkout', scopes: ['read'] },
  ) {
    const res = await request(h.url)
      .post(`/api/v1/tenants/${tenantId}/api-keys`)
      .set('Authorization', `Bearer ${token}`)
      .send(body)
      .expect(201);
    return res;
  }

  it('creates a key shown once; apps read with it on every replica, as Bearer or X-API-Key', async function () {
    const s = await seed();
    const created = await createKey(s.tenantId, s.admin, {
      name: 'checkout',
      scopes: ['read'],
      environments: ['Development'],
    });
    const secret = created.body.secret as string;
    expect(secret).to.match(/^cfgk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(created.body).to.include({
      name: 'checkout',
      tenantId: s.tenantId,
      revoked: false,
      prefix: `cfgk_${created.body.keyId}`,
    });
    expect(created.headers.location).to.equal(
      `/api/v1/tenants/${s.tenantId}/api-keys/${created.body.keyId}`,
    );
    for (const url of [h.url, b.url]) {
      const env = await request(url)
        .get(`${envPath(s.tenantId)}?minPosition=${s.position}`)
        .set('Authorization', `Bearer ${secret}`)
        .expect(200);
      expect(env.body.configs).to.deep.equal({ greeting: 'hello' });
      await request(url)
        .get(`${envPath(s.tenantId)}/greeting`)
        .set('X-API-Key', secret)
        .expect(200);
    }
    // The list never shows the secret nor its hash.
    const list = await request(h.url)
      .get(
        `/api/v1/tenants/${s.tenantId}/api-keys?minPosition=${created.headers['x-event-position']}`,
      )
      .set('Authorization', `Bearer ${s.admin}`)
      .expect(200);
    expect(list.body.total).to.equal(1);
    expect(JSON.stringify(list.body)).not.to.include(secret.split('_')[2]);
    expect(list.body.items[0]).to.include({
      keyId: created.body.keyId,
      createdBy: 'user-tenant-admin',
    });
  });

  it('limits a key to its tenant, environments, scopes and the app routes', async function () {
    const s = await seed();
    const other = await seed();
    const { secret } = (
      await createKey(s.tenantId, s.admin, {
        name: 'prod-reader',
        scopes: ['read'],
        environments: ['Development'],
      })
    ).body as { secret: string };
    const read = (url: string) => request(h.url).get(url).set('X-API-Key', secret);
    await read(`${envPath(s.tenantId)}?minPosition=${s.position}`).expect(200);
    await read(envPath(s.tenantId, 'Staging')).expect(403);
    await read(envPath(other.tenantId)).expect(404);
    // Management routes are for people, whatever the key's scopes.
    const refused = await read(`/api/v1/configs?tenantId=${s.tenantId}`).expect(403);
    expect(refused.body.field).to.equal('Authorization');
    // A metrics-only key cannot read.
    const metricsOnly = (
      await createKey(s.tenantId, s.admin, { name: 'metrics', scopes: ['report-metrics'] })
    ).body.secret as string;
    await request(h.url).get(envPath(s.tenantId)).set('X-API-Key', metricsOnly).expect(403);
    // Garbage, a wrong secret for a real key id, and two credentials at once: 401.
    await request(h.url).get(envPath(s.tenantId)).set('X-API-Key', 'cfgk_nope').expect(401);
    const wrong = `${secret.slice(0, 22)}${'A'.repeat(43)}`;
    await request(h.url).get(envPath(s.tenantId)).set('X-API-Key', wrong).expect(401);
    await request(h.url)
      .get(envPath(s.tenantId))
      .set('X-API-Key', secret)
      .set('Authorization', `Bearer ${s.editor}`)
      .expect(401);
  });

  it('reports deployment metrics with a report-metrics key', async function () {
    const s = await seed();
    const configs = await request(h.url)
      .get(
        `/api/v1/configs?tenantId=${s.tenantId}&environment=Development&minPosition=${s.position}`,
      )
      .set('Authorization', `Bearer ${s.editor}`)
      .expect(200);
    const deployment = await request(h.url)
      .post('/api/v1/deployments')
      .set('Authorization', `Bearer ${s.editor}`)
      .send({
        configId: configs.body.items[0].configId,
        value: 'hi',
        strategy: 'Canary',
        steps: [10, 50, 100],
        bakeTimeSeconds: 600,
      })
      .expect(201);
    const path = `/api/v1/deployments/${deployment.body.deploymentId}/metrics`;
    const reporter = (
      await createKey(s.tenantId, s.admin, { name: 'reporter', scopes: ['report-metrics'] })
    ).body.secret as string;
    const reader = (await createKey(s.tenantId, s.admin)).body.secret as string;
    await request(h.url)
      .post(path)
      .set('X-API-Key', reporter)
      .send({ requests: 100, errors: 0 })
      .expect(200);
    await request(h.url)
      .post(path)
      .set('X-API-Key', reader)
      .send({ requests: 1, errors: 0 })
      .expect(403);
  });

  it('revokes a key: both replicas refuse it within a second, even on kept-alive connections', async function () {
    const s = await seed();
    const created = await createKey(s.tenantId, s.admin);
    const secret = created.body.secret as string;
    const url = `${envPath(s.tenantId)}?minPosition=${s.position}`;
    // fetch keeps its connections alive: each replica remembers the key per connection too.
    const status = async (base: string) =>
      (await fetch(`${base}${url}`, { headers: { 'X-API-Key': secret } })).status;
    expect(await status(h.url)).to.equal(200);
    expect(await status(b.url)).to.equal(200);
    const revoked = await request(h.url)
      .delete(`/api/v1/tenants/${s.tenantId}/api-keys/${created.body.keyId}`)
      .set('Authorization', `Bearer ${s.admin}`)
      .expect(200);
    expect(revoked.body.revoked).to.equal(true);
    await within(1000, 'replica A refuses the key', async () => (await status(h.url)) === 401);
    await within(1000, 'replica B refuses the key', async () => (await status(b.url)) === 401);
    // A dead key costs no more reads of its stream.
    const store = b.services.store;
    const readStream = store.readStream.bind(store);
    let reads = 0;
    store.readStream = (streamId, ...rest) => {
      if (streamId.startsWith('apikey-')) reads++;
      return readStream(streamId, ...rest);
    };
    try {
      for (let i = 0; i < 5; i++) expect(await status(b.url)).to.equal(401);
    } finally {
      store.readStream = readStream;
    }
    expect(reads).to.equal(0);
    // A second DELETE changes nothing; the key stays listed as revoked.
    const again = await request(h.url)
      .delete(`/api/v1/tenants/${s.tenantId}/api-keys/${created.body.keyId}`)
      .set('Authorization', `Bearer ${s.admin}`)
      .expect(200);
    expect(again.body.position).to.equal(null);
    const list = await request(h.url)
      .get(
        `/api/v1/tenants/${s.tenantId}/api-keys?includeRevoked=true&minPosition=${revoked.headers['x-event-position']}`,
      )
      .set('Authorization', `Bearer ${s.admin}`)
      .expect(200);
    expect(list.body.items[0]).to.include({ revoked: true });
    expect(list.body.items[0].revokedAt).to.be.a('string');
    // The audit trail says who created and revoked which key, never the secret nor its hash.
    const audit = await request(h.url)
      .get(
        `/api/v1/audit-logs?tenantId=${s.tenantId}&minPosition=${revoked.headers['x-event-position']}`,
      )
      .set('Authorization', `Bearer ${s.admin}`)
      .expect(200);
    const entries = (audit.body.items as { eventType: string; userId: string }[]).filter((e) =>
      e.eventType.startsWith('ApiKey'),
    );
    expect(entries.map((e) => [e.eventType, e.userId]).sort()).to.deep.equal([
      ['ApiKeyCreated', 'user-tenant-admin'],
      ['ApiKeyRevoked', 'user-tenant-admin'],
    ]);
    const raw = JSON.stringify(audit.body);
    expect(raw).to.include(created.body.keyId);
    expect(raw).not.to.include(secret.split('_')[2]);
    const { rows } = await h.services.pool.query<{ data: { secretHash: string } }>(
      `SELECT data FROM es_events WHERE event_type = 'ApiKeyCreated' AND data->>'keyId' = $1`,
      [created.body.keyId],
    );
    expect(raw).not.to.include(rows[0]!.data.secretHash);
    expect(JSON.stringify(rows)).not.to.include(secret.split('_')[2]);
  });

  it("ends a revoked key's open event streams on every replica", async function () {
    const s = await seed();
    const created = await createKey(s.tenantId, s.admin);
    const follow = async (base: string) => {
      const res = await fetch(`${base}${envPath(s.tenantId)}?minPosition=${s.position}`, {
        headers: { 'X-API-Key': created.body.secret, Accept: 'text/event-stream' },
      });
      expect(res.status).to.equal(200);
      const reader = res.body!.getReader();
      let text = '';
      let ended = false;
      const done = (async () => {
        for (;;) {
          const { value, done: end } = await reader.read();
          if (end) break;
          text += Buffer.from(value).toString('utf8');
        }
        ended = true;
      })();
      return { ended: () => ended, text: () => text, done };
    };
    const streams = [await follow(h.url), await follow(b.url)];
    await within(5000, 'both streams sent their snapshot', async () =>
      streams.every((st) => st.text().includes('event: snapshot')),
    );
    expect(streams.some((st) => st.ended())).to.equal(false);
    await request(h.url)
      .delete(`/api/v1/tenants/${s.tenantId}/api-keys/${created.body.keyId}`)
      .set('Authorization', `Bearer ${s.admin}`)
      .expect(200);
    await within(1000, 'both streams ended', async () => streams.every((st) => st.ended()));
    await Promise.all(streams.map((st) => st.done));
  });

  it('stops accepting a key when it expires, on a replica that has it cached', async function () {
    const s = await seed();
    const expiresAt = new Date(Date.now() + 5000).toISOString();
    const created = await createKey(s.tenantId, s.admin, {
      name: 'short-lived',
      scopes: ['read'],
      expiresAt,
    });
    expect(created.body.expiresAt).to.equal(expiresAt);
    const status = async () =>
      (
        await fetch(`${b.url}${envPath(s.tenantId)}?minPosition=${s.position}`, {
          headers: { 'X-API-Key': created.body.secret },
        })
      ).status;
    expect(await status()).to.equal(200);
    await within(
      Date.parse(expiresAt) - Date.now() + 3000,
      'the expired key is refused',
      async () => (await status()) === 401,
    );
  });

  it('records when a key was last used', async function () {
    const s = await seed();
    const created = await createKey(s.tenantId, s.admin);
    await request(b.url)
      .get(`${envPath(s.tenantId)}?minPosition=${s.position}`)
      .set('X-API-Key', created.body.secret)
      .expect(200);
    await within(5000, 'lastUsedAt is recorded', async () => {
      const res = await request(h.url)
        .get(
          `/api/v1/tenants/${s.tenantId}/api-keys/${created.body.keyId}?minPosition=${created.body.position}`,
        )
        .set('Authorization', `Bearer ${s.admin}`)
        .expect(200);
      return typeof res.body.lastUsedAt === 'string';
    });
  });

  it('refuses bad input naming the field, writing nothing; editors may not manage keys', async function () {
    const s = await seed();
    const before = await eventCount(h);
    const post = (body: unknown, token = s.admin) =>
      request(h.url)
        .post(`/api/v1/tenants/${s.tenantId}/api-keys`)
        .set('Authorization', `Bearer ${token}`)
        .send(body as object);
    expect((await post({ name: 'x', scopes: ['write'] }).expect(400)).body.field).to.match(
      /^scopes/,
    );
    expect((await post({ name: 'x', scopes: [] }).expect(400)).body.field).to.match(/^scopes/);
    expect((await post({ scopes: ['read'] }).expect(400)).body.field).to.equal('name');
    expect(
      (await post({ name: 'x', scopes: ['read'], expiresAt: '2001-01-01T00:00:00Z' }).expect(422))
        .body.field,
    ).to.equal('expiresAt');
    await post({ name: 'x', scopes: ['read'] }, s.editor).expect(403);
    expect(await eventCount(h)).to.equal(before);
  });
});

describe('API keys and rate limits (e2e)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness({ runProjector: true, overrides: { RateLimiting__ConfigGet: '3' } });
  });
  after(async function () {
    await h?.close();
  });

  it('counts reads per key: one key over its limit does not limit another', async function () {
    const tenantId = uniqueTenant('keylimit');
    const created = await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'Limits', tier: 'Free' })
      .expect(201);
    const admin = h.token('tenant-admin', tenantId);
    const key = async () =>
      (
        await request(h.url)
          .post(`/api/v1/tenants/${tenantId}/api-keys`)
          .set('Authorization', `Bearer ${admin}`)
          .send({ name: 'app', scopes: ['read'] })
          .expect(201)
      ).body.secret as string;
    const [first, second] = [await key(), await key()];
    const read = (secret: string) =>
      request(h.url)
        .get(`${envPath(tenantId, 'Staging')}?minPosition=${created.body.position}`)
        .set('X-API-Key', secret);
    // Nothing is configured in Staging: 200 with no configs, each read counted.
    for (let i = 0; i < 3; i++) await read(first).expect(200);
    const limited = await read(first).expect(429);
    expect(limited.headers['retry-after']).to.match(/^\d+$/);
    await read(second).expect(200);
  });
});
