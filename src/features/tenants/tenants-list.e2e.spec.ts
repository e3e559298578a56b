import { expect } from 'chai';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness, auth } from '../../../test/support/harness.js';

describe('GET /api/v1/tenants (e2e)', function () {
  let h: Harness;
  const label = uniqueTenant('lst');
  const ids = [`${label}-a`, `${label}-b`, `${label}-c`];

  before(async function () {
    h = await startHarness({ runProjector: true });
    let position = '';
    for (const [i, tenantId] of ids.entries()) {
      const res = await request(h.url)
        .post('/api/v1/tenants')
        .set(auth(h.admin))
        .send({ tenantId, name: i === 1 ? 'Bravo Widgets' : `Tenant ${i}`, tier: 'Free' })
        .expect(201);
      position = res.body.position;
    }
    await request(h.url)
      .patch(`/api/v1/tenants/${ids[2]}`)
      .set(auth(h.admin))
      .send({ status: 'Suspended' })
      .expect(200);
    const deleted = await request(h.url)
      .delete(`/api/v1/tenants/${ids[0]}`)
      .set(auth(h.admin))
      .expect(200);
    position = deleted.body.position ?? position;
    await request(h.url)
      .get(`/api/v1/tenants?minPosition=${position}&search=${label}`)
      .set(auth(h.admin))
      .expect(200);
  });
  after(async function () {
    await h?.close();
  });

  it('lists tenants by id for platform admins, without deleted ones', async function () {
    const res = await request(h.url)
      .get(`/api/v1/tenants?search=${label}`)
      .set(auth(h.admin))
      .expect(200);
    expect(res.body.items.map((t: { tenantId: string }) => t.tenantId)).to.deep.equal(ids.slice(1));
    expect(res.body).to.include({ page: 1, pageSize: 50, total: 2 });
    expect(res.body.items[1]).to.include({ status: 'Suspended', tier: 'Free' });
  });

  it('filters by status and by a part of the name, in any case', async function () {
    const deleted = await request(h.url)
      .get(`/api/v1/tenants?search=${label}&status=Deleted`)
      .set(auth(h.admin))
      .expect(200);
    expect(deleted.body.items.map((t: { tenantId: string }) => t.tenantId)).to.deep.equal([ids[0]]);
    const byName = await request(h.url)
      .get('/api/v1/tenants?search=bravo%20WIDGETS')
      .set(auth(h.admin))
      .expect(200);
    expect(byName.body.items.map((t: { tenantId: string }) => t.tenantId)).to.include(ids[1]);
    // LIKE wildcards in the search are plain characters.
    const wildcard = await request(h.url)
      .get(`/api/v1/tenants?search=${label}-%25`)
      .set(auth(h.admin))
      .expect(200);
    expect(wildcard.body.total).to.equal(0);
  });

  it('pages', async function () {
    const res = await request(h.url)
      .get(`/api/v1/tenants?search=${label}&pageSize=1&page=2`)
      .set(auth(h.admin))
      .expect(200);
    expect(res.body.items.map((t: { tenantId: string }) => t.tenantId)).to.deep.equal([ids[2]]);
    expect(res.body.total).to.equal(2);
  });

  it('refuses other roles with 403 and bad filters with 400 naming the field', async function () {
    const tenantAdmin = h.token('tenant-admin', ids[1]);
    const refused = await request(h.url).get('/api/v1/tenants').set(auth(tenantAdmin)).expect(403);
    expect(refused.body.field).to.equal('Authorization');
    await request(h.url).get('/api/v1/tenants').expect(401);
    const bad = await request(h.url)
      .get('/api/v1/tenants?status=Gone')
      .set(auth(h.admin))
      .expect(400);
    expect(bad.body.field).to.equal('status');
  });
});
