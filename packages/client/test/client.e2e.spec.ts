import { expect } from 'chai';
import request from 'supertest';
import { createClient, type ClientOptions, type ConfigClient } from '@config-service/client';
import { signToken } from '../../../src/core/auth/auth.js';
import { onCanary } from '../../../src/features/deployments/deployment.decider.js';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it is true, or fails after `ms`. */
async function until(what: string, probe: () => boolean, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('@config-service/client against the service (e2e)', function () {
  let h: Harness;
  const clients: ConfigClient[] = [];
  before(async function () {
    h = await startHarness({ runProjector: true, runWorker: true });
  });
  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  after(async function () {
    await h?.close();
  });

  async function tenant() {
    const tenantId = uniqueTenant('client');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'C', tier: 'Enterprise' })
      .expect(201);
    const editor = h.token('editor', tenantId);
    const create = async (key: string, value: unknown, type: string) => {
      const res = await request(h.url)
        .post('/api/v1/configs')
        .set('Authorization', `Bearer ${editor}`)
        .send({ tenantId, key, value, type, environment: 'Staging' })
        .expect(201);
      return res.body.configId as string;
    };
    const update = (configId: string, value: unknown, expectedVersion: number) =>
      request(h.url)
        .put(`/api/v1/configs/${configId}`)
        .set('Authorization', `Bearer ${editor}`)
        .send({ value, expectedVersion })
        .expect(200);
    return { tenantId, editor, reader: h.token('reader', tenantId), create, update };
  }

  function client(
    tenantId: string,
    token: string | (() => string),
    extra: Partial<ClientOptions> = {},
  ) {
    const c = createClient({
      url: h.url,
      tenant: tenantId,
      environment: 'Staging',
      token,
      lastKnownGood: false,
      minBackoffMs: 50,
      maxBackoffMs: 500,
      ...extra,
    });
    clients.push(c);
    return c;
  }

  for (const mode of ['stream', 'poll'] as const) {
    it(`keeps typed values current (${mode})`, async function () {
      const t = await tenant();
      const limit = await t.create('limit', 10, 'Integer');
      await t.create('flag', true, 'Boolean');
      await h.project();
      const c = client(t.tenantId, t.reader, { mode, waitSeconds: 5 });
      const first = await c.ready();
      expect(first.configs).to.deep.equal({ flag: true, limit: 10 });
      expect(first.source).to.equal('service');
      expect(c.getNumber('limit', 0)).to.equal(10);
      expect(c.get('missing', 'fallback')).to.equal('fallback');
      expect(c.getBoolean('flag', false)).to.equal(true);
      // A value of another type: the fallback, not the value.
      expect(c.getString('limit', 'fallback')).to.equal('fallback');
      expect(c.lookup('limit')).to.include({ value: 10, version: 1, source: 'service' });

      const changes: string[][] = [];
      c.on('change', (_s, changed) => changes.push(changed));
      await t.update(limit, 20, 1);
      await until('the new value', () => c.get('limit') === 20);
      expect(changes).to.deep.equal([['limit']]);
      expect(c.lookup('limit')?.version).to.equal(2);
      await t.create('name', 'x', 'String');
      await until('the new key', () => c.get('name') === 'x');
      expect(changes.at(-1)).to.deep.equal(['name']);
    });
  }

  it('reconnects after the connection drops and catches up with what changed meanwhile', async function () {
    const t = await tenant();
    const limit = await t.create('limit', 1, 'Integer');
    await h.project();
    const errors: unknown[] = [];
    const c = client(t.tenantId, t.reader);
    c.on('error', (e) => errors.push(e));
    await c.ready();
    h.api.server.closeAllConnections();
    await t.update(limit, 2, 1);
    await until('the change made while disconnected', () => c.get('limit') === 2);
  });

  it('asks for a new token when the stream ends with it, and keeps following', async function () {
    const t = await tenant();
    const limit = await t.create('limit', 1, 'Integer');
    await h.project();
    let issued = 0;
    const c = client(t.tenantId, () => {
      issued++;
      return signToken(
        h.settings.jwt,
        { sub: 'app', roles: ['reader'], tenant_id: t.tenantId },
        '2s',
      );
    });
    await c.ready();
    await until('a second token', () => issued >= 2, 8000);
    await t.update(limit, 5, 1);
    await until('the change after the token was renewed', () => c.get('limit') === 5);
  });

  it('rejects ready() when the token is refused', async function () {
    const t = await tenant();
    const other = await tenant();
    const c = client(t.tenantId, other.reader);
    const error = await c.ready().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.have.property('status').that.is.oneOf([403, 404]);
  });

  it('sends the outcomes still recorded when it is closed', async function () {
    const t = await tenant();
    const a = await t.create('a', 'x', 'String');
    await h.project();
    const started = await request(h.url)
      .post('/api/v1/deployments')
      .set('Authorization', `Bearer ${t.editor}`)
      .send({
        configId: a,
        value: 'y',
        strategy: 'Canary',
        steps: [50, 100],
        bakeTimeSeconds: 3600,
      })
      .expect(201);
    const c = client(t.tenantId, t.reader, { clientId: 'pod-1', reportIntervalMs: 60_000 });
    await c.ready();
    await until('the canary to reach the client', () => c.snapshot?.deployments.a !== undefined);
    for (let i = 0; i < 10; i++) c.recordOutcome('a', true);
    await c.close();
    const head = (await h.services.store.headPosition()).toString();
    const deployment = await request(h.url)
      .get(`/api/v1/deployments/${started.body.deploymentId}?minPosition=${head}`)
      .set('Authorization', `Bearer ${t.reader}`)
      .expect(200);
    const totals = deployment.body.metrics.totals;
    expect(totals.canary.requests + totals.stable.requests).to.equal(10);
  });

  it('reads with an API key instead of a token; a revoked key is refused', async function () {
    const t = await tenant();
    await t.create('limit', 7, 'Integer');
    await h.project();
    const admin = h.token('tenant-admin', t.tenantId);
    const key = await request(h.url)
      .post(`/api/v1/tenants/${t.tenantId}/api-keys`)
      .set('Authorization', `Bearer ${admin}`)
      .send({ name: 'client', scopes: ['read', 'report-metrics'], environments: ['Staging'] })
      .expect(201);
    const withKey = () => {
      const c = createClient({
        url: h.url,
        tenant: t.tenantId,
        environment: 'Staging',
        apiKey: key.body.secret,
        lastKnownGood: false,
        minBackoffMs: 50,
        maxBackoffMs: 500,
      });
      clients.push(c);
      return c;
    };
    const c = withKey();
    expect((await c.ready()).configs).to.deep.equal({ limit: 7 });
    await request(h.url)
      .delete(`/api/v1/tenants/${t.tenantId}/api-keys/${key.body.keyId}`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    let refused: unknown;
    await withKey()
      .ready({ timeout: 5000 })
      .catch((e: unknown) => (refused = e));
    expect(String(refused)).to.match(/401|unauthori[sz]ed|API key/i);
  });

  it('acknowledges what it applied and what its validator refused; the service lists it', async function () {
    const t = await tenant();
    const limit = await t.create('limit', 5, 'Integer');
    await h.project();
    const c = client(t.tenantId, t.reader, {
      clientId: 'pod-ack',
      acknowledgeIntervalMs: 20,
      validate: (key, value) => {
        if (key === 'limit' && (value as number) > 10) throw new Error('limit above 10');
      },
    });
    await c.ready();
    const instances = async () =>
      (
        await request(h.url)
          .get(`/api/v1/configs/${limit}/instances`)
          .set('Authorization', `Bearer ${t.editor}`)
          .expect(200)
      ).body.instances as { instanceId: string; version: number; status: string }[];
    const seen = async (status: string, version: number) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const list = await instances();
        if (list.some((i) => i.status === status && i.version === version)) return list;
        if (Date.now() > deadline)
          throw new Error(`no ${status} v${version}: ${JSON.stringify(list)}`);
        await sleep(50);
      }
    };
    expect((await seen('applied', 1)).map((i) => i.instanceId)).to.deep.equal(['pod-ack']);
    await t.update(limit, 50, 1);
    const refused = await seen('rejected', 2);
    expect(refused[0]).to.include({ instanceId: 'pod-ack', reason: 'limit above 10' });
    // The refused value was not taken.
    expect(c.get('limit')).to.equal(5);
  });

  it('reports canary errors for its side, and the canary rolls itself back', async function () {
    const t = await tenant();
    const timeout = await t.create('timeout', 30, 'Integer');
    await h.project();
    const started = await request(h.url)
      .post('/api/v1/deployments')
      .set('Authorization', `Bearer ${t.editor}`)
      .send({
        configId: timeout,
        value: 45,
        strategy: 'Canary',
        steps: [50, 100],
        bakeTimeSeconds: 3600,
        errorThreshold: 0.2,
        minRequests: 10,
      })
      .expect(201);
    const deploymentId = started.body.deploymentId as string;
    // An app instance on the canary side (the bucket is a hash of client id and deployment).
    let n = 0;
    while (!onCanary(`pod-${n}`, deploymentId, 50)) n++;
    const c = client(t.tenantId, t.reader, { clientId: `pod-${n}`, reportIntervalMs: 60_000 });
    await c.ready();
    await until('the canary value', () => c.get('timeout') === 45);
    expect(c.snapshot!.deployments.timeout).to.deep.equal({ deploymentId, side: 'canary' });

    for (let i = 0; i < 12; i++) c.recordOutcome('timeout', i % 2 === 0); // 50 % errors
    c.recordOutcome('unrelated-key', false); // not under a canary: not counted
    await c.flushOutcomes();
    await until('the rollback to reach the client', () => c.get('timeout') === 30);
    expect(c.snapshot!.deployments).to.deep.equal({});
    const head = (await h.services.store.headPosition()).toString();
    const deployment = await request(h.url)
      .get(`/api/v1/deployments/${deploymentId}?minPosition=${head}`)
      .set('Authorization', `Bearer ${t.reader}`)
      .expect(200);
    expect(deployment.body).to.include({ status: 'RolledBack', wasRolledBack: true });
    expect(deployment.body.metrics.totals.canary).to.deep.equal({ requests: 12, errors: 6 });
  });
});
