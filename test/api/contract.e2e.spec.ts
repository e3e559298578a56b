import { expect } from 'chai';
import request from 'supertest';
import { auth, startHarness, uniqueTenant, type Harness } from '../support/harness.js';

/** Edges of the API contract: odd input gets a 4xx naming the field, lists count what they show. */
describe('API contract edges (e2e)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness({ runProjector: true });
  });
  after(async function () {
    await h?.close();
  });

  async function tenant() {
    const tenantId = uniqueTenant('contract');
    await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({ tenantId, name: 'C', tier: 'Enterprise' })
      .expect(201);
    return { tenantId, editor: h.token('editor', tenantId, { sub: 'alice' }) };
  }

  async function create(t: { tenantId: string; editor: string }, key: string, environment: string) {
    const res = await request(h.url)
      .post('/api/v1/configs')
      .set(auth(t.editor))
      .send({ tenantId: t.tenantId, key, value: 'x', environment })
      .expect(201);
    return res;
  }

  async function events(): Promise<number> {
    const { rows } = await h.services.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM es_events',
    );
    return rows[0]!.n;
  }

  it('pages and counts only the environments a limited token may see', async function () {
    const t = await tenant();
    for (const k of ['a', 'b', 'c']) await create(t, k, 'Staging');
    const last = await create(t, 'd', 'Development');
    const dev = h.token('reader', t.tenantId, { environments: ['Development'] });
    const page = await request(h.url)
      .get(
        `/api/v1/configs?tenantId=${t.tenantId}&pageSize=1&minPosition=${last.headers['x-event-position']}`,
      )
      .set(auth(dev))
      .expect(200);
    expect(page.body.total).to.equal(1);
    expect(page.body.items.map((c: { key: string }) => c.key)).to.deep.equal(['d']);
  });

  it("gives a change request's decisions its environment and configuration in the audit log", async function () {
    const t = await tenant();
    const requested = await request(h.url)
      .post('/api/v1/approvals')
      .set(auth(t.editor))
      .send({
        tenantId: t.tenantId,
        key: 'prod.key',
        environment: 'Production',
        type: 'String',
        value: 'x',
      })
      .expect(201);
    const rejected = await request(h.url)
      .post(`/api/v1/approvals/${requested.body.approvalId}/reject`)
      .set(auth(h.token('approver', t.tenantId, { sub: 'bob' })))
      .send({ comments: 'secret reasons' })
      .expect(200);
    const at = rejected.headers['x-event-position'];
    const dev = h.token('reader', t.tenantId, { environments: ['Development'] });
    const limited = await request(h.url)
      .get(`/api/v1/audit-logs?tenantId=${t.tenantId}&minPosition=${at}`)
      .set(auth(dev))
      .expect(200);
    expect(limited.text).not.to.include('secret reasons');
    const byConfig = await request(h.url)
      .get(`/api/v1/audit-logs?tenantId=${t.tenantId}&configId=${requested.body.configId}`)
      .set(auth(t.editor))
      .expect(200);
    expect(byConfig.body.items.map((i: { eventType: string }) => i.eventType)).to.include.members([
      'ApprovalRequested',
      'ApprovalRejected',
    ]);
    const row = byConfig.body.items.find(
      (i: { eventType: string }) => i.eventType === 'ApprovalRejected',
    );
    expect(row).to.include({ environment: 'Production', configKey: 'prod.key' });
  });

  it('answers 400 naming the place for a NUL in the path or the query, appending nothing', async function () {
    const t = await tenant();
    const before = await events();
    const path = await request(h.url).get('/api/v1/configs/%00').set(auth(t.editor)).expect(400);
    expect(path.body.field).to.equal('(path)');
    const query = await request(h.url)
      .get(`/api/v1/configs?tenantId=${t.tenantId}&key=%00`)
      .set(auth(t.editor))
      .expect(400);
    expect(query.body.field).to.equal('(query)');
    await request(h.url)
      .post('/api/v1/approvals/%00/approve')
      .set(auth(t.editor))
      .send({})
      .expect(400);
    expect(await events()).to.equal(before);
  });

  it('answers 400, not 500, for times and versions PostgreSQL cannot hold', async function () {
    const t = await tenant();
    const res = await create(t, 'v', 'Development');
    const year0 = await request(h.url)
      .get(`/api/v1/audit-logs?tenantId=${t.tenantId}&from=0000-01-01T00:00:00Z`)
      .set(auth(t.editor))
      .expect(400);
    expect(year0.body.field).to.equal('from');
    const huge = await request(h.url)
      .get(`/api/v1/configs/${res.body.configId}/versions/99999999999`)
      .set(auth(t.editor))
      .expect(400);
    expect(huge.body.field).to.equal('version');
  });

  it('refuses a body that is not JSON (415) instead of reading it as none; takes merge-patch', async function () {
    const t = await tenant();
    const before = await events();
    const plain = await request(h.url)
      .patch(`/api/v1/tenants/${t.tenantId}`)
      .set(auth(h.admin))
      .set('Content-Type', 'text/plain')
      .send('{"name":"Renamed"}')
      .expect(415);
    expect(plain.body.field).to.equal('(body)');
    expect(await events()).to.equal(before);
    const merge = await request(h.url)
      .patch(`/api/v1/tenants/${t.tenantId}`)
      .set(auth(h.admin))
      .set('Content-Type', 'application/merge-patch+json')
      .send('{"name":"Renamed"}')
      .expect(200);
    expect(merge.body.name).to.equal('Renamed');
  });

  it('names the Authorization field on a 403', async function () {
    const t = await tenant();
    const reader = h.token('reader', t.tenantId);
    const res = await request(h.url)
      .post('/api/v1/configs')
      .set(auth(reader))
      .send({ tenantId: t.tenantId, key: 'k', value: 'x' })
      .expect(403);
    expect(res.body.field).to.equal('Authorization');
  });
});
