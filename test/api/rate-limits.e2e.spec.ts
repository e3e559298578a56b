import { expect } from 'chai';
import request from 'supertest';
import { randomBytes } from 'node:crypto';
import { startHarness, uniqueTenant, type Harness } from '../support/harness.js';

describe('rate limits (e2e)', function () {
  // Two app instances sharing one Redis key prefix, as replicas share one Redis.
  let a: Harness;
  let b: Harness;
  before(async function () {
    const overrides = {
      ConfigService__RedisKeyPrefix: `cfgsvc-test-rl:${randomBytes(4).toString('hex')}:`,
      RateLimiting__ConfigGet: '5',
      RateLimiting__ConfigCreate: '3',
      RateLimiting__Deployments: '2',
    };
    a = await startHarness({ overrides });
    b = await startHarness({ overrides });
  });
  after(async function () {
    await b?.close();
    await a?.close();
  });

  async function tenant() {
    const tenantId = uniqueTenant('rl');
    await request(a.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${a.admin}`)
      .send({ tenantId, name: 'RL' })
      .expect(201);
    return { tenantId, editor: a.token('editor', tenantId), reader: a.token('reader', tenantId) };
  }
  const create = (h: Harness, editor: string, tenantId: string, key: string) =>
    request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', `Bearer ${editor}`)
      .send({ tenantId, key, value: 'x', environment: 'Development' });

  it('counts creates across instances: the 4th in a minute gets 429 with Retry-After', async function () {
    const t = await tenant();
    await create(a, t.editor, t.tenantId, 'k1').expect(201);
    await create(b, t.editor, t.tenantId, 'k2').expect(201);
    await create(a, t.editor, t.tenantId, 'k3').expect(201);
    const limited = await create(b, t.editor, t.tenantId, 'k4').expect(429);
    expect(limited.headers['content-type']).to.match(/application\/problem\+json/);
    expect(Number(limited.headers['retry-after'])).to.be.within(1, 60);
    expect(limited.body).to.include({ status: 429, title: 'Too many requests' });
    // Nothing was appended for the refused request.
    const { rows } = await a.services.pool.query(
      `SELECT count(*)::int AS n FROM es_events WHERE stream_id LIKE 'config-%' AND data->>'tenantId' = $1`,
      [t.tenantId],
    );
    expect(rows[0].n).to.equal(3);
  });

  it("never lets one tenant's burst limit another tenant", async function () {
    const t1 = await tenant();
    const t2 = await tenant();
    for (const k of ['a', 'b', 'c']) await create(a, t1.editor, t1.tenantId, k).expect(201);
    await create(a, t1.editor, t1.tenantId, 'd').expect(429);
    await create(b, t2.editor, t2.tenantId, 'a').expect(201);
  });

  it('limits the hot read path per tenant and caller, shared across instances', async function () {
    const t = await tenant();
    await create(a, t.editor, t.tenantId, 'hot').expect(201);
    await a.project();
    const path = `/api/v1/tenants/${t.tenantId}/environments/Development/configs/hot`;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const h = i % 2 ? b : a;
      statuses.push(
        (await request(h.url).get(path).set('Authorization', `Bearer ${t.reader}`)).status,
      );
    }
    expect(statuses).to.deep.equal([200, 200, 200, 200, 200, 429]);
    // Another caller of the same tenant has its own budget.
    const other = a.token('reader', t.tenantId, { sub: 'another-app' });
    await request(a.url).get(path).set('Authorization', `Bearer ${other}`).expect(200);
  });

  it('limits deployments', async function () {
    const t = await tenant();
    const { body } = await create(a, t.editor, t.tenantId, 'dep').expect(201);
    const deploy = (h: Harness, value: string) =>
      request(h.url)
        .post('/api/v1/deployments')
        .set('Authorization', `Bearer ${t.editor}`)
        .send({ configId: body.configId, value });
    await deploy(a, 'v1').expect(201);
    await deploy(b, 'v2').expect(201);
    await deploy(a, 'v3').expect(429);
  });

  it('cannot be reset by naming another tenant in the request', async function () {
    const t = await tenant();
    const { body } = await create(a, t.editor, t.tenantId, 'dep').expect(201);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(a.url)
        .post(`/api/v1/deployments?tenantId=bypass${i}`)
        .set('Authorization', `Bearer ${t.editor}`)
        .send({ configId: body.configId, value: `v${i}` });
      statuses.push(res.status);
    }
    expect(statuses).to.deep.equal([201, 201, 429, 429]);
  });
});
