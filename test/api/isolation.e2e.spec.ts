import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { configIdFor } from '../../src/features/configs/config.decider.js';
import { eventCount, startHarness, uniqueTenant, type Harness } from '../support/harness.js';

const PROBLEM = 'application/problem+json; charset=utf-8';
const TENANT_ROLES = ['reader', 'editor', 'tenant-admin', 'approver'] as const;

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

interface Probe {
  name: string;
  method: Method;
  path: string;
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
  /** The exact problem body for a 404 about the tenant or about the configuration. */
  about: 'tenant' | 'config';
  /** The hot read path answers without `instance`. */
  hot?: boolean;
}

describe('tenant isolation (e2e)', function () {
  let h: Harness;
  const A = uniqueTenant('iso-a');
  const B = uniqueTenant('iso-b');
  const aValue = `a-value-${randomBytes(4).toString('hex')}`;
  const bSecret = `b-secret-${randomBytes(4).toString('hex')}`;
  const bGoneSecret = `b-gone-${randomBytes(4).toString('hex')}`;
  let aConfigId: string;
  let aProdConfigId: string;
  let bConfigId: string;
  let bDeletedConfigId: string;
  let eventsAfterSetup: number;

  const bearer = (token: string) => `Bearer ${token}`;

  async function createTenant(tenantId: string) {
    const res = await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', bearer(h.admin))
      .send({ tenantId, name: `Tenant ${tenantId}`, tier: 'Enterprise' });
    expect(res.status).to.equal(201);
  }

  async function createConfig(
    token: string,
    tenantId: string,
    key: string,
    value: string,
    environment = 'Development',
  ): Promise<string> {
    const res = await request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', bearer(token))
      .send({ tenantId, key, value, type: 'String', environment });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.configId as string;
  }

  function send(token: string | undefined, p: Omit<Probe, 'name' | 'about'>) {
    let req = request(h.url)[p.method](p.path);
    if (token) req = req.set('Authorization', bearer(token));
    for (const [k, v] of Object.entries(p.headers ?? {})) req = req.set(k, v);
    return p.body ? req.send(p.body) : req;
  }

  before(async function () {
    h = await startHarness();
    await createTenant(A);
    await createTenant(B);
    const aEditor = h.token('editor', A);
    const bEditor = h.token('editor', B);
    aConfigId = await createConfig(aEditor, A, 'shared.key', aValue);
    aProdConfigId = await createConfig(aEditor, A, 'prod.key', 'prod-value', 'Staging');
    bConfigId = await createConfig(bEditor, B, 'shared.key', bSecret);
    bDeletedConfigId = await createConfig(bEditor, B, 'gone.key', bGoneSecret);
    const del = await request(h.url)
      .delete(`/api/v1/configs/${bDeletedConfigId}`)
      .set('Authorization', bearer(bEditor))
      .set('If-Match', '"1"');
    expect(del.status).to.equal(200);
    await h.project();
    eventsAfterSetup = await eventCount(h);
  });
  after(async function () {
    await h?.close();
  });

  /** Every route that touches tenant B, for a configuration `id` of B's. */
  function probesFor(tenantId: string, id: string, deletedId: string): Probe[] {
    const hot = `/api/v1/tenants/${tenantId}/environments/Development/configs`;
    return [
      {
        name: 'GET /tenants/B',
        method: 'get',
        path: `/api/v1/tenants/${tenantId}`,
        about: 'tenant',
      },
      {
        name: 'PATCH /tenants/B',
        method: 'patch',
        path: `/api/v1/tenants/${tenantId}`,
        body: { name: 'pwned' },
        about: 'tenant',
      },
      {
        name: 'DELETE /tenants/B',
        method: 'delete',
        path: `/api/v1/tenants/${tenantId}`,
        about: 'tenant',
      },
      {
        name: 'POST /configs with tenantId B',
        method: 'post',
        path: '/api/v1/configs',
        body: { tenantId, key: 'planted', value: 'x', type: 'String', environment: 'Development' },
        about: 'tenant',
      },
      {
        name: 'GET /configs?tenantId=B',
        method: 'get',
        path: `/api/v1/configs?tenantId=${tenantId}`,
        about: 'tenant',
      },
      {
        name: 'GET /audit-logs?tenantId=B',
        method: 'get',
        path: `/api/v1/audit-logs?tenantId=${tenantId}`,
        about: 'tenant',
      },
      { name: 'hot read of the environment', method: 'get', path: hot, about: 'tenant', hot: true },
      {
        name: 'hot read of one key',
        method: 'get',
        path: `${hot}/shared.key`,
        about: 'tenant',
        hot: true,
      },
      { name: "GET B's config", method: 'get', path: `/api/v1/configs/${id}`, about: 'config' },
      {
        name: "PUT B's config",
        method: 'put',
        path: `/api/v1/configs/${id}`,
        body: { value: 'pwned' },
        headers: { 'If-Match': '"1"' },
        about: 'config',
      },
      {
        name: "DELETE B's config",
        method: 'delete',
        path: `/api/v1/configs/${id}`,
        headers: { 'If-Match': '"1"' },
        about: 'config',
      },
      {
        name: "rollback B's config",
        method: 'post',
        path: `/api/v1/configs/${id}/rollback`,
        body: { version: 1 },
        about: 'config',
      },
      {
        name: "restore B's deleted config",
        method: 'post',
        path: `/api/v1/configs/${deletedId}/restore`,
        about: 'config',
      },
      {
        name: "restore B's live config",
        method: 'post',
        path: `/api/v1/configs/${id}/restore`,
        about: 'config',
      },
      {
        name: "GET B's config versions",
        method: 'get',
        path: `/api/v1/configs/${id}/versions`,
        about: 'config',
      },
      {
        name: "GET B's config version 1",
        method: 'get',
        path: `/api/v1/configs/${id}/versions/1`,
        about: 'config',
      },
      {
        name: "GET B's deleted config versions",
        method: 'get',
        path: `/api/v1/configs/${deletedId}/versions/1`,
        about: 'config',
      },
    ];
  }

  const configIdIn = (path: string) => /\/configs\/(cfg_[0-9a-f]+)/.exec(path)?.[1];

  describe('sanity: the tokens of tenant A work on A', function () {
    for (const role of TENANT_ROLES) {
      it(`${role} of A reads A's config and A's environment`, async function () {
        const token = h.token(role, A);
        const one = await send(token, { method: 'get', path: `/api/v1/configs/${aConfigId}` });
        expect(one.status).to.equal(200);
        expect(one.body).to.include({ configId: aConfigId, tenantId: A, value: aValue });
        const env = await send(token, {
          method: 'get',
          path: `/api/v1/tenants/${A}/environments/Development/configs`,
        });
        expect(env.status).to.equal(200);
        expect(env.body.configs).to.deep.equal({ 'shared.key': aValue });
      });
    }
  });

  for (const role of TENANT_ROLES) {
    describe(`a ${role} of tenant A`, function () {
      // Tests are declared from placeholder probes; the real ids exist only once before() ran.
      for (const probe of probesFor('{B}', '{B-config}', '{B-deleted}')) {
        it(`gets 404 and none of B's data from ${probe.name}`, async function () {
          const real = probesFor(B, bConfigId, bDeletedConfigId).find(
            (p) => p.name === probe.name,
          )!;
          const before = await eventCount(h);
          const res = await send(h.token(role, A), real);
          expect(res.status, JSON.stringify(res.body)).to.equal(404);
          expect(res.headers['content-type']).to.equal(PROBLEM);
          const text = res.text;
          expect(text).not.to.include(bSecret);
          expect(text).not.to.include(bGoneSecret);
          expect(text).not.to.include(`Tenant ${B}`);
          if (real.about === 'tenant') {
            expect(res.body).to.deep.equal({
              type: 'about:blank',
              title: 'Not found',
              status: 404,
              detail: `Tenant '${B}' not found`,
              ...(real.hot ? {} : { instance: real.path }),
              field: 'tenantId',
            });
          } else {
            const id = configIdIn(real.path)!;
            expect(res.body).to.include({
              type: 'about:blank',
              title: 'Not found',
              status: 404,
              detail: `Configuration '${id}' not found`,
              instance: real.path,
              field: 'configId',
            });
          }
          expect(await eventCount(h)).to.equal(before);
        });
      }
    });
  }

  describe("answers for B's resources exactly as for resources that do not exist", function () {
    // A caller must not be able to tell whether B (or one of B's keys) exists: config ids are
    // derived from (tenant, environment, key), so anyone can compute the id of B's 'db.password'.
    const ghostTenant = uniqueTenant('iso-ghost');
    const normalise = (body: unknown, ids: [string, string][]) => {
      let text = JSON.stringify(body);
      for (const [id, placeholder] of ids) text = text.split(id).join(placeholder);
      return JSON.parse(text) as unknown;
    };
    for (const probe of probesFor('{B}', '{B-config}', '{B-deleted}')) {
      it(`${probe.name}`, async function () {
        const token = h.token('editor', A);
        const real = probesFor(B, bConfigId, bDeletedConfigId).find((p) => p.name === probe.name)!;
        const ghostId = configIdFor(B, 'Development', 'no.such.key');
        const ghostDeletedId = configIdFor(B, 'Development', 'no.such.deleted.key');
        const ghost = probesFor(
          probe.about === 'tenant' ? ghostTenant : B,
          ghostId,
          ghostDeletedId,
        ).find((p) => p.name === probe.name)!;
        const before = await eventCount(h);
        const realRes = await send(token, real);
        const ghostRes = await send(token, ghost);
        expect(realRes.status).to.equal(ghostRes.status);
        // Regression: PUT/DELETE/rollback/restore of another tenant's config answer a bare HttpProblem
        // (no `code`/`errors`), while an id that does not exist answers the DomainError shape
        // (`code: 'not_found'`, `errors`): an existence oracle for other tenants' keys.
        expect(
          normalise(realRes.body, [
            [B, '{tenant}'],
            [bConfigId, '{id}'],
            [bDeletedConfigId, '{deleted}'],
          ]),
        ).to.deep.equal(
          normalise(ghostRes.body, [
            [ghostTenant, '{tenant}'],
            [ghostId, '{id}'],
            [ghostDeletedId, '{deleted}'],
          ]),
        );
        expect(await eventCount(h)).to.equal(before);
      });
    }
  });

  describe('after every probe by every role', function () {
    it('the event store holds exactly the events of the setup', async function () {
      expect(await eventCount(h)).to.equal(eventsAfterSetup);
    });
  });

  describe('environment-limited tokens', function () {
    const devEditor = () =>
      h.token('editor', A, { environments: ['Development'], sub: 'dev-only' });
    const forbiddenEnv = (instance: string | undefined) => ({
      type: 'about:blank',
      title: 'Forbidden',
      status: 403,
      detail: "Your token is not valid for environment 'Staging'",
      ...(instance ? { instance } : {}),
      field: 'environment',
    });

    it('cannot create in Staging (403) and appends nothing', async function () {
      const before = await eventCount(h);
      const res = await send(devEditor(), {
        method: 'post',
        path: '/api/v1/configs',
        body: {
          tenantId: A,
          key: 'env.limited',
          value: 'x',
          type: 'String',
          environment: 'Staging',
        },
      });
      expect(res.status).to.equal(403);
      expect(res.headers['content-type']).to.equal(PROBLEM);
      expect(res.body).to.deep.equal(forbiddenEnv('/api/v1/configs'));
      expect(await eventCount(h)).to.equal(before);
    });

    it('can create in Development', async function () {
      const before = await eventCount(h);
      const res = await send(devEditor(), {
        method: 'post',
        path: '/api/v1/configs',
        body: {
          tenantId: A,
          key: 'env.limited',
          value: 'dev',
          type: 'String',
          environment: 'Development',
        },
      });
      expect(res.status).to.equal(201);
      expect(res.body).to.include({ tenantId: A, key: 'env.limited', environment: 'Development' });
      // One event on the config stream, one on the tenant registry.
      expect(await eventCount(h)).to.equal(before + 2);
    });

    it('can create in the default environment (Development) when none is given', async function () {
      const res = await send(devEditor(), {
        method: 'post',
        path: '/api/v1/configs',
        body: { tenantId: A, key: 'env.default', value: 'dev', type: 'String' },
      });
      expect(res.status).to.equal(201);
      expect(res.body.environment).to.equal('Development');
    });

    it('cannot read a Staging config by id (403) but can read a Development one', async function () {
      const prod = await send(devEditor(), {
        method: 'get',
        path: `/api/v1/configs/${aProdConfigId}`,
      });
      expect(prod.status).to.equal(403);
      expect(prod.body).to.deep.equal(forbiddenEnv(`/api/v1/configs/${aProdConfigId}`));
      const versions = await send(devEditor(), {
        method: 'get',
        path: `/api/v1/configs/${aProdConfigId}/versions/1`,
      });
      expect(versions.status).to.equal(403);
      const dev = await send(devEditor(), { method: 'get', path: `/api/v1/configs/${aConfigId}` });
      expect(dev.status).to.equal(200);
      expect(dev.body.value).to.equal(aValue);
    });

    it('cannot change a Staging config (403) and appends nothing', async function () {
      const before = await eventCount(h);
      const res = await send(devEditor(), {
        method: 'put',
        path: `/api/v1/configs/${aProdConfigId}`,
        headers: { 'If-Match': '"1"' },
        body: { value: 'changed' },
      });
      expect(res.status).to.equal(403);
      expect(res.body).to.deep.equal(forbiddenEnv(`/api/v1/configs/${aProdConfigId}`));
      expect(await eventCount(h)).to.equal(before);
    });

    it('cannot list Staging (403); an unfiltered list shows Development only', async function () {
      await h.project();
      const prod = await send(devEditor(), {
        method: 'get',
        path: `/api/v1/configs?tenantId=${A}&environment=Staging`,
      });
      expect(prod.status).to.equal(403);
      expect(prod.body).to.deep.equal(
        forbiddenEnv(`/api/v1/configs?tenantId=${A}&environment=Staging`),
      );
      const all = await send(devEditor(), { method: 'get', path: `/api/v1/configs?tenantId=${A}` });
      expect(all.status).to.equal(200);
      const envs = new Set((all.body.items as { environment: string }[]).map((c) => c.environment));
      expect([...envs]).to.deep.equal(['Development']);
    });

    it('cannot hot-read Staging (403) but can hot-read Development', async function () {
      const prod = await send(devEditor(), {
        method: 'get',
        path: `/api/v1/tenants/${A}/environments/Staging/configs`,
      });
      expect(prod.status).to.equal(403);
      expect(prod.body).to.deep.equal(forbiddenEnv(undefined));
      const prodKey = await send(devEditor(), {
        method: 'get',
        path: `/api/v1/tenants/${A}/environments/Staging/configs/prod.key`,
      });
      expect(prodKey.status).to.equal(403);
      expect(prodKey.text).not.to.include('prod-value');
      const dev = await send(devEditor(), {
        method: 'get',
        path: `/api/v1/tenants/${A}/environments/Development/configs/shared.key`,
      });
      expect(dev.status).to.equal(200);
      expect(dev.body).to.include({ tenantId: A, key: 'shared.key', value: aValue });
    });

    it("sees the audit log of its environments only (and tenant-wide events), not Staging's", async function () {
      await h.project();
      const res = await send(devEditor(), {
        method: 'get',
        path: `/api/v1/audit-logs?tenantId=${A}&pageSize=500`,
      });
      expect(res.status).to.equal(200);
      const envs = new Set(
        res.body.items.map((i: { environment: string | null }) => i.environment),
      );
      expect([...envs].sort()).to.deep.equal(['Development', null].sort());
      expect(res.text).not.to.include('prod-value');
      const all = await send(h.token('editor', A), {
        method: 'get',
        path: `/api/v1/audit-logs?tenantId=${A}&pageSize=500`,
      });
      expect(all.text).to.include('prod-value');
    });
  });

  describe("afterwards, B's data", function () {
    it('has no event from any of the probes', async function () {
      // The environment-limited tests above appended to A only: count B's streams directly.
      const { rows } = await h.services.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM es_events WHERE stream_id IN ($1, $2, $3)`,
        [`tenant-${B}`, `config-${bConfigId}`, `config-${bDeletedConfigId}`],
      );
      // tenant: created + 3 environments declared + 2 registered + 1 released; live config:
      // created; deleted: created + deleted.
      expect(rows[0]!.n).to.equal(10);
    });

    it('is unchanged on the read side', async function () {
      await h.project();
      const bReader = h.token('reader', B);
      const tenant = await send(bReader, { method: 'get', path: `/api/v1/tenants/${B}` });
      expect(tenant.status).to.equal(200);
      expect(tenant.body).to.include({ name: `Tenant ${B}`, status: 'Active' });
      const config = await send(bReader, { method: 'get', path: `/api/v1/configs/${bConfigId}` });
      expect(config.status).to.equal(200);
      expect(config.body).to.include({ value: bSecret, version: 1, deletedAt: null });
      const gone = await send(bReader, {
        method: 'get',
        path: `/api/v1/configs/${bDeletedConfigId}`,
      });
      expect(gone.status).to.equal(200);
      expect(gone.body.version).to.equal(2);
      expect(gone.body.deletedAt).to.be.a('string');
      const list = await send(bReader, {
        method: 'get',
        path: `/api/v1/configs?tenantId=${B}&includeDeleted=true`,
      });
      expect(list.body.total).to.equal(2);
      const env = await send(bReader, {
        method: 'get',
        path: `/api/v1/tenants/${B}/environments/Development/configs`,
      });
      expect(env.body.configs).to.deep.equal({ 'shared.key': bSecret });
    });
  });
});
