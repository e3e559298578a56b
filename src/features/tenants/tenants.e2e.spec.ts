import { expect } from 'chai';
import request from 'supertest';
import {
  eventCount,
  startHarness,
  uniqueTenant,
  type Harness,
} from '../../../test/support/harness.js';

const PROBLEM = 'application/problem+json; charset=utf-8';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('tenants API (e2e)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness();
  });
  after(async function () {
    await h?.close();
  });

  const bearer = (token: string) => `Bearer ${token}`;

  function createTenant(token: string, body: Record<string, unknown>) {
    return request(h.url).post('/api/v1/tenants').set('Authorization', bearer(token)).send(body);
  }

  async function newTenant(extra: Record<string, unknown> = {}) {
    const tenantId = uniqueTenant('ten');
    const res = await createTenant(h.admin, {
      tenantId,
      name: 'Test Tenant',
      tier: 'Enterprise',
      ...extra,
    });
    expect(res.status).to.equal(201);
    return { tenantId, position: res.headers['x-event-position'] as string };
  }

  function patch(token: string, tenantId: string, body: Record<string, unknown>) {
    return request(h.url)
      .patch(`/api/v1/tenants/${tenantId}`)
      .set('Authorization', bearer(token))
      .send(body);
  }

  function get(token: string, tenantId: string, query = '') {
    return request(h.url)
      .get(`/api/v1/tenants/${tenantId}${query}`)
      .set('Authorization', bearer(token));
  }

  describe('POST /api/v1/tenants', function () {
    it('creates a tenant for a platform admin: 201, body, Location and X-Event-Position', async function () {
      const tenantId = uniqueTenant('ten');
      const before = await eventCount(h);
      const res = await createTenant(h.admin, {
        tenantId,
        name: 'Test Tenant',
        tier: 'Enterprise',
      });
      expect(res.status).to.equal(201);
      expect(res.headers['content-type']).to.equal('application/json; charset=utf-8');
      expect(res.headers.location).to.equal(`/api/v1/tenants/${tenantId}`);
      const position = res.headers['x-event-position'] as string;
      expect(position).to.match(/^\d+$/);
      expect(res.body).to.deep.equal({
        tenantId,
        name: 'Test Tenant',
        tier: 'Enterprise',
        status: 'Active',
        maxConfigurations: 10000,
        maxEnvironments: 20,
        contactEmail: null,
        metadata: null,
        encryptValues: false,
        configurationCount: 0,
        approvalPolicy: { Production: 1 },
        // One view: the times recorded with the events are null in a command's answer.
        createdAt: null,
        updatedAt: null,
        deletedAt: null,
        position,
      });
      // TenantCreated and the default environments' declarations.
      expect(await eventCount(h)).to.equal(before + 4);
    });

    it('uses the Free tier and its quotas when no tier is given', async function () {
      const tenantId = uniqueTenant('ten');
      const res = await createTenant(h.admin, { tenantId, name: 'Defaults' });
      expect(res.status).to.equal(201);
      expect(res.body).to.include({
        tier: 'Free',
        maxConfigurations: 100,
        maxEnvironments: 4,
      });
    });

    for (const role of ['tenant-admin', 'editor', 'approver', 'reader'] as const) {
      it(`refuses a ${role} with 403 and appends nothing`, async function () {
        const tenantId = uniqueTenant('ten');
        const before = await eventCount(h);
        const res = await createTenant(h.token(role, tenantId), {
          tenantId,
          name: 'Test Tenant',
          tier: 'Enterprise',
        });
        expect(res.status).to.equal(403);
        expect(res.headers['content-type']).to.equal(PROBLEM);
        expect(res.body).to.deep.equal({
          type: 'about:blank',
          title: 'Forbidden',
          status: 403,
          detail: 'Only platform admins may do this',
          instance: '/api/v1/tenants',
          field: 'Authorization',
        });
        expect(await eventCount(h)).to.equal(before);
      });
    }

    it('answers 409 for a duplicate tenant id and appends nothing', async function () {
      const { tenantId } = await newTenant();
      const before = await eventCount(h);
      const res = await createTenant(h.admin, { tenantId, name: 'Again', tier: 'Free' });
      expect(res.status).to.equal(409);
      expect(res.headers['content-type']).to.equal(PROBLEM);
      expect(res.body).to.deep.equal({
        type: 'about:blank',
        title: 'Already exists',
        status: 409,
        detail: `Tenant '${tenantId}' already exists`,
        instance: '/api/v1/tenants',
        code: 'already_exists',
        field: 'tenantId',
        errors: [{ field: 'tenantId', message: `Tenant '${tenantId}' already exists` }],
      });
      expect(await eventCount(h)).to.equal(before);
    });
  });

  describe('GET /api/v1/tenants/:tenantId', function () {
    it('returns the projected row', async function () {
      const { tenantId } = await newTenant({ contactEmail: 'ops@example.com', metadata: { a: 1 } });
      await h.project();
      const res = await get(h.admin, tenantId);
      expect(res.status).to.equal(200);
      const { createdAt, updatedAt, ...rest } = res.body as Record<string, unknown>;
      expect(rest).to.deep.equal({
        tenantId,
        name: 'Test Tenant',
        tier: 'Enterprise',
        status: 'Active',
        maxConfigurations: 10000,
        maxEnvironments: 20,
        contactEmail: 'ops@example.com',
        metadata: { a: 1 },
        encryptValues: false,
        // One view: the quota in use and the policy, as a command answers them.
        configurationCount: 0,
        approvalPolicy: { Production: 1 },
        deletedAt: null,
      });
      expect(createdAt).to.match(ISO);
      expect(updatedAt).to.equal(createdAt);
    });

    it('answers with the view its commands answer with: quota in use and policy included', async function () {
      this.timeout(60_000); // seven requests and a projection run; the machine may be loaded
      const { tenantId } = await newTenant();
      for (const [key, environment] of [
        ['a', 'Staging'],
        ['b', 'Staging'],
        ['c', 'Development'],
      ]) {
        await request(h.url)
          .post('/api/v1/configs')
          .set('Authorization', bearer(h.admin))
          .send({ tenantId, key, environment, type: 'String', value: 'v' })
          .expect(201);
      }
      await request(h.url)
        .post(`/api/v1/tenants/${tenantId}/environments`)
        .set('Authorization', bearer(h.admin))
        .send({ name: 'QA' })
        .expect(201);
      await request(h.url)
        .put(`/api/v1/tenants/${tenantId}/approval-policies/QA`)
        .set('Authorization', bearer(h.admin))
        .send({ requiredApprovals: 2 })
        .expect(200);
      const command = await patch(h.admin, tenantId, { name: 'Renamed' }).expect(200);
      await h.project();
      const read = await get(h.admin, tenantId);
      expect(read.status).to.equal(200);
      const { createdAt, updatedAt, deletedAt, ...fromRead } = read.body as Record<string, unknown>;
      const { position, ...fromCommand } = command.body as Record<string, unknown>;
      expect(position).to.equal(command.headers['x-event-position']);
      expect(fromCommand).to.deep.equal({
        ...fromRead,
        createdAt: null,
        updatedAt: null,
        deletedAt: null,
      });
      expect(fromRead).to.include({ name: 'Renamed', configurationCount: 3 });
      expect(fromRead.approvalPolicy).to.deep.equal({
        Production: 1,
        Staging: 0,
        Development: 0,
        QA: 2,
      });
      expect(createdAt).to.match(ISO);
      expect(updatedAt).to.match(ISO);
      expect(deletedAt).to.equal(null);
    });

    it('answers at once with ?minPosition= once the projections have passed it', async function () {
      const { tenantId, position } = await newTenant();
      await h.project();
      const res = await get(h.admin, tenantId, `?minPosition=${position}`);
      expect(res.status).to.equal(200);
      expect(res.body.tenantId).to.equal(tenantId);
    });

    it("lets the tenant's own reader read it", async function () {
      const { tenantId } = await newTenant();
      await h.project();
      const res = await get(h.token('reader', tenantId), tenantId);
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ tenantId, name: 'Test Tenant' });
    });

    it('answers 404 for an unknown tenant', async function () {
      const tenantId = uniqueTenant('ghost');
      const res = await get(h.admin, tenantId);
      expect(res.status).to.equal(404);
      expect(res.body).to.deep.equal({
        type: 'about:blank',
        title: 'Not found',
        status: 404,
        detail: `Tenant '${tenantId}' not found`,
        instance: `/api/v1/tenants/${tenantId}`,
        field: 'tenantId',
      });
    });
  });

  describe('PATCH /api/v1/tenants/:tenantId', function () {
    it('lets a platform admin change tier, quotas and status', async function () {
      const { tenantId } = await newTenant();
      const before = await eventCount(h);
      const res = await patch(h.admin, tenantId, {
        tier: 'Standard',
        maxConfigurations: 200,
        maxEnvironments: 5,
        status: 'Suspended',
      });
      expect(res.status).to.equal(200);
      const position = res.headers['x-event-position'] as string;
      expect(position).to.match(/^\d+$/);
      expect(res.body).to.deep.equal({
        tenantId,
        name: 'Test Tenant',
        tier: 'Standard',
        status: 'Suspended',
        maxConfigurations: 200,
        maxEnvironments: 5,
        contactEmail: null,
        metadata: null,
        encryptValues: false,
        configurationCount: 0,
        approvalPolicy: { Production: 1 },
        // One view: the times recorded with the events are null in a command's answer.
        createdAt: null,
        updatedAt: null,
        deletedAt: null,
        position,
      });
      expect(await eventCount(h)).to.equal(before + 1);

      await h.project();
      const read = await get(h.admin, tenantId);
      expect(read.status).to.equal(200);
      expect(read.body).to.include({
        tier: 'Standard',
        status: 'Suspended',
        maxConfigurations: 200,
        maxEnvironments: 5,
      });
    });

    it('refuses configuration writes for a suspended tenant (409 invalid_state)', async function () {
      const { tenantId } = await newTenant();
      expect((await patch(h.admin, tenantId, { status: 'Suspended' })).status).to.equal(200);
      const before = await eventCount(h);
      const res = await request(h.url)
        .post('/api/v1/configs')
        .set('Authorization', bearer(h.token('editor', tenantId)))
        .send({ tenantId, key: 'k', value: 'v', type: 'String', environment: 'Development' });
      expect(res.status).to.equal(409);
      expect(res.body).to.deep.equal({
        type: 'about:blank',
        title: 'Invalid state',
        status: 409,
        detail: `Tenant '${tenantId}' is Suspended`,
        instance: '/api/v1/configs',
        code: 'invalid_state',
      });
      expect(await eventCount(h)).to.equal(before);
    });

    it("lets a tenant admin change its tenant's name", async function () {
      const { tenantId } = await newTenant();
      const res = await patch(h.token('tenant-admin', tenantId), tenantId, { name: 'Renamed' });
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ tenantId, name: 'Renamed', tier: 'Enterprise' });
      await h.project();
      const read = await get(h.admin, tenantId);
      expect(read.body).to.include({ name: 'Renamed' });
    });

    for (const [field, value] of [
      ['maxConfigurations', 5],
      ['maxEnvironments', 2],
      ['tier', 'Free'],
      ['status', 'Suspended'],
    ] as const) {
      it(`refuses a tenant admin changing ${field} with 403 and appends nothing`, async function () {
        const { tenantId } = await newTenant();
        const before = await eventCount(h);
        const res = await patch(h.token('tenant-admin', tenantId), tenantId, {
          name: 'Sneaky',
          [field]: value,
        });
        expect(res.status).to.equal(403);
        expect(res.headers['content-type']).to.equal(PROBLEM);
        expect(res.body).to.deep.equal({
          type: 'about:blank',
          title: 'Forbidden',
          status: 403,
          detail: `Only platform admins may change ${field}`,
          instance: `/api/v1/tenants/${tenantId}`,
          field,
        });
        expect(await eventCount(h)).to.equal(before);
      });
    }

    for (const role of ['editor', 'approver', 'reader'] as const) {
      it(`refuses a ${role} changing the name with 403`, async function () {
        const { tenantId } = await newTenant();
        const before = await eventCount(h);
        const res = await patch(h.token(role, tenantId), tenantId, { name: 'Nope' });
        expect(res.status).to.equal(403);
        expect(res.body).to.deep.equal({
          type: 'about:blank',
          title: 'Forbidden',
          status: 403,
          detail: "Your roles do not allow 'admin' on this tenant",
          instance: `/api/v1/tenants/${tenantId}`,
          field: 'Authorization',
        });
        expect(await eventCount(h)).to.equal(before);
      });
    }

    it('appends no event for a PATCH that changes nothing', async function () {
      const { tenantId } = await newTenant();
      const before = await eventCount(h);
      const res = await patch(h.admin, tenantId, {
        name: 'Test Tenant',
        tier: 'Enterprise',
        status: 'Active',
        maxConfigurations: 10000,
      });
      expect(res.status).to.equal(200);
      expect(res.headers['x-event-position']).to.equal(undefined);
      expect(res.body).to.include({ tenantId, name: 'Test Tenant', position: null });
      expect(await eventCount(h)).to.equal(before);
    });

    it('appends nothing for the same metadata with its keys in another order', async function () {
      const { tenantId } = await newTenant();
      await patch(h.admin, tenantId, { metadata: { region: 'eu', team: { name: 'a', id: 1 } } });
      const before = await eventCount(h);
      const res = await patch(h.admin, tenantId, {
        metadata: { team: { id: 1, name: 'a' }, region: 'eu' },
      });
      expect(res.status).to.equal(200);
      expect(res.body.position).to.equal(null);
      expect(await eventCount(h)).to.equal(before);
    });

    it('answers 404 for an unknown tenant and appends nothing', async function () {
      const tenantId = uniqueTenant('ghost');
      const before = await eventCount(h);
      const res = await patch(h.admin, tenantId, { name: 'x' });
      expect(res.status).to.equal(404);
      expect(res.body).to.deep.equal({
        type: 'about:blank',
        title: 'Not found',
        status: 404,
        detail: `Tenant '${tenantId}' not found`,
        instance: `/api/v1/tenants/${tenantId}`,
        code: 'not_found',
        field: 'tenantId',
        errors: [{ field: 'tenantId', message: `Tenant '${tenantId}' not found` }],
      });
      expect(await eventCount(h)).to.equal(before);
    });
  });

  describe('DELETE /api/v1/tenants/:tenantId', function () {
    it('lets a platform admin delete; then config writes for it answer 404', async function () {
      const { tenantId } = await newTenant();
      const del = await request(h.url)
        .delete(`/api/v1/tenants/${tenantId}`)
        .set('Authorization', bearer(h.admin));
      expect(del.status).to.equal(200);
      expect(del.headers['x-event-position']).to.match(/^\d+$/);
      expect(del.body).to.include({ tenantId, status: 'Deleted' });

      const before = await eventCount(h);
      const create = await request(h.url)
        .post('/api/v1/configs')
        .set('Authorization', bearer(h.token('editor', tenantId)))
        .send({ tenantId, key: 'k', value: 'v', type: 'String', environment: 'Development' });
      expect(create.status).to.equal(404);
      expect(create.headers['content-type']).to.equal(PROBLEM);
      expect(create.body).to.deep.equal({
        type: 'about:blank',
        title: 'Not found',
        status: 404,
        detail: `Tenant '${tenantId}' not found`,
        instance: '/api/v1/configs',
        code: 'not_found',
        field: 'tenantId',
        errors: [{ field: 'tenantId', message: `Tenant '${tenantId}' not found` }],
      });
      expect(await eventCount(h)).to.equal(before);

      await h.project();
      const read = await get(h.admin, tenantId);
      expect(read.status).to.equal(200);
      expect(read.body.status).to.equal('Deleted');
      expect(read.body.deletedAt).to.match(ISO);
    });

    it('cannot bring a deleted tenant back with PATCH status Active (404)', async function () {
      const { tenantId } = await newTenant();
      const url = `/api/v1/tenants/${tenantId}`;
      expect(
        (await request(h.url).delete(url).set('Authorization', bearer(h.admin))).status,
      ).to.equal(200);
      const before = await eventCount(h);
      const res = await patch(h.admin, tenantId, { status: 'Active' });
      expect(res.status).to.equal(404);
      expect(res.body).to.include({ code: 'not_found', field: 'tenantId' });
      expect(await eventCount(h)).to.equal(before);
    });

    it('answers 404 when deleting twice', async function () {
      const { tenantId } = await newTenant();
      const url = `/api/v1/tenants/${tenantId}`;
      expect(
        (await request(h.url).delete(url).set('Authorization', bearer(h.admin))).status,
      ).to.equal(200);
      const before = await eventCount(h);
      const again = await request(h.url).delete(url).set('Authorization', bearer(h.admin));
      expect(again.status).to.equal(404);
      expect(again.body).to.include({ code: 'not_found', field: 'tenantId' });
      expect(await eventCount(h)).to.equal(before);
    });

    for (const role of ['tenant-admin', 'editor', 'reader'] as const) {
      it(`refuses a ${role} of the tenant with 403 and appends nothing`, async function () {
        const { tenantId } = await newTenant();
        const before = await eventCount(h);
        const res = await request(h.url)
          .delete(`/api/v1/tenants/${tenantId}`)
          .set('Authorization', bearer(h.token(role, tenantId)));
        expect(res.status).to.equal(403);
        expect(res.body).to.deep.equal({
          type: 'about:blank',
          title: 'Forbidden',
          status: 403,
          detail: 'Only platform admins may do this',
          instance: `/api/v1/tenants/${tenantId}`,
          field: 'Authorization',
        });
        expect(await eventCount(h)).to.equal(before);
      });
    }
  });
});
