import { expect } from 'chai';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness, auth } from '../../../test/support/harness.js';
import { toNewEvents } from '../../core/commands/command-handling.js';
import { configStream, tenantStream } from '../../core/streams.js';
import {
  configIdFor,
  decideCreateConfig,
  initialConfigurationState,
} from '../configs/config.decider.js';

/** Polls `probe` until it returns true (pub/sub delivery takes a moment on a loaded machine). */
async function eventually(probe: () => Promise<boolean>, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('environments API (e2e)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness();
  });
  after(async function () {
    await h?.close();
  });

  async function tenant(extra: Record<string, unknown> = {}) {
    const tenantId = uniqueTenant('env');
    await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({ tenantId, name: 'T', tier: 'Free', ...extra })
      .expect(201);
    return {
      tenantId,
      admin: h.token('tenant-admin', tenantId),
      editor: h.token('editor', tenantId),
      reader: h.token('reader', tenantId),
      path: `/api/v1/tenants/${tenantId}/environments`,
    };
  }
  type T = Awaited<ReturnType<typeof tenant>>;

  const createConfig = (t: T, environment: string, key = 'k', value: unknown = 'v') =>
    request(h.url)
      .post('/api/v1/configs')
      .set(auth(t.editor))
      .send({ tenantId: t.tenantId, key, value, environment });

  const hotRead = (t: T, environment: string, query = '') =>
    request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/environments/${environment}/configs${query}`)
      .set(auth(t.reader));

  it('declares the defaults for a new tenant, listed with their approvals and use', async function () {
    const t = await tenant();
    await h.project();
    const list = await request(h.url).get(t.path).set(auth(t.reader)).expect(200);
    expect(list.body.maxEnvironments).to.equal(4);
    expect(
      list.body.environments.map((e: Record<string, unknown>) => [
        e.name,
        e.requiredApprovals,
        e.configurations,
        e.implicit,
      ]),
    ).to.deep.equal([
      ['Development', 0, 0, false],
      ['Staging', 0, 0, false],
      ['Production', 1, 0, false],
    ]);
  });

  it('declares the environments a new tenant names instead', async function () {
    const t = await tenant({ environments: ['dev', 'prod'] });
    const res = await createConfig(t, 'Staging').expect(400);
    expect(res.body.declaredEnvironments).to.deep.equal(['dev', 'prod']);
    await createConfig(t, 'PROD').expect(201);
  });

  it("matches names without regard to case: `production` needs Production's approval", async function () {
    const t = await tenant();
    const lower = await createConfig(t, 'production').expect(409);
    expect(lower.body).to.include({ code: 'approval_required', field: 'environment' });
    const created = await createConfig(t, 'staging').expect(201);
    expect(created.body.environment).to.equal('Staging');
    // The same key under another spelling is the same configuration.
    const again = await createConfig(t, 'STAGING').expect(409);
    expect(again.body).to.include({ code: 'already_exists', configId: created.body.configId });
  });

  it('refuses writes to an undeclared environment with 400 naming the declared ones', async function () {
    const t = await tenant();
    const res = await createConfig(t, 'Prod').expect(400);
    expect(res.headers['content-type']).to.contain('application/problem+json');
    expect(res.body).to.include({ status: 400, code: 'unknown_environment', field: 'environment' });
    expect(res.body.declaredEnvironments).to.deep.equal(['Development', 'Staging', 'Production']);
    expect(res.body.detail).to.contain('Development, Staging, Production');
    const cr = await request(h.url)
      .post('/api/v1/approvals')
      .set(auth(t.editor))
      .send({ tenantId: t.tenantId, key: 'k', environment: 'Nope', type: 'String', value: 'x' })
      .expect(400);
    expect(cr.body.code).to.equal('unknown_environment');
    const policy = await request(h.url)
      .put(`/api/v1/tenants/${t.tenantId}/approval-policies/Nope`)
      .set(auth(t.admin))
      .send({ requiredApprovals: 1 })
      .expect(400);
    expect(policy.body.code).to.equal('unknown_environment');
    const set = await request(h.url)
      .put(`/api/v1/tenants/${t.tenantId}/approval-policies/staging`)
      .set(auth(t.admin))
      .send({ requiredApprovals: 2 })
      .expect(200);
    expect(set.body.environment).to.equal('Staging');
  });

  it('answers 404 on reads of an undeclared environment, hot path and list alike', async function () {
    const t = await tenant();
    await createConfig(t, 'Staging', 'greeting', 'hi').expect(201);
    await h.project();
    const nope = await hotRead(t, 'Nope').expect(404);
    expect(nope.body).to.include({ field: 'environment' });
    expect(nope.body.declaredEnvironments).to.deep.equal(['Development', 'Staging', 'Production']);
    await hotRead(t, 'Nope', '?minPosition=1').expect(404);
    const key = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/environments/Nope/configs/greeting`)
      .set(auth(t.reader))
      .expect(404);
    expect(key.body.declaredEnvironments).to.have.length(3);
    const list = await request(h.url)
      .get(`/api/v1/configs?tenantId=${t.tenantId}&environment=Nope`)
      .set(auth(t.reader))
      .expect(404);
    expect(list.body.field).to.equal('environment');
    // Any case reads the declared environment, under its declared name.
    const lower = await hotRead(t, 'staging').expect(200);
    expect(lower.body).to.include({ environment: 'Staging' });
    expect(lower.body.configs).to.deep.equal({ greeting: 'hi' });
    const listed = await request(h.url)
      .get(`/api/v1/configs?tenantId=${t.tenantId}&environment=STAGING`)
      .set(auth(t.reader))
      .expect(200);
    expect(listed.body.total).to.equal(1);
    for (const path of ['/api/v1/approvals', '/api/v1/deployments']) {
      await request(h.url)
        .get(`${path}?tenantId=${t.tenantId}&environment=Nope`)
        .set(auth(t.reader))
        .expect(404);
      await request(h.url)
        .get(`${path}?tenantId=${t.tenantId}&environment=staging`)
        .set(auth(t.reader))
        .expect(200);
    }
    // A token limited to Staging reads it in any case.
    const limited = h.token('reader', t.tenantId, { environments: ['Staging'] });
    await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/environments/staging/configs`)
      .set(auth(limited))
      .expect(200);
  });

  it('does not refuse an environment the read model has not caught up with yet', async function () {
    const t = await tenant();
    // Just created, not projected: the read waits for the read model, then serves.
    const first = hotRead(t, 'Staging').then((r) => r);
    await new Promise((r) => setTimeout(r, 200));
    await h.project();
    expect((await first).status).to.equal(200);
    await hotRead(t, 'QA').expect(404); // the map is loaded and current
    const declared = await request(h.url)
      .post(t.path)
      .set(auth(t.admin))
      .send({ name: 'QA' })
      .expect(201);
    // Reading one's own write: waits for the read model, then finds it (before any pub/sub).
    const own = hotRead(t, 'qa', `?minPosition=${declared.body.position}`).then((r) => r);
    await new Promise((r) => setTimeout(r, 200));
    await h.project();
    const res = await own;
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ environment: 'QA' });
  });

  it('declares, renames and removes; the hot path follows each change', async function () {
    const t = await tenant();
    await h.project();
    await hotRead(t, 'QA').expect(404); // the hot path now holds the tenant's map
    const declared = await request(h.url)
      .post(t.path)
      .set(auth(t.admin))
      .send({ name: 'QA' })
      .expect(201);
    expect(declared.headers.location).to.equal(`${t.path}/QA`);
    expect(declared.body).to.deep.include({
      environment: 'QA',
      environments: ['Development', 'Staging', 'Production', 'QA'],
    });
    // Once the read model has it, its announcement (pub/sub) drops the map everywhere.
    await h.project();
    await eventually(async () => (await hotRead(t, 'QA')).status === 200, 'QA declared');

    const dup = await request(h.url).post(t.path).set(auth(t.admin)).send({ name: 'qa' });
    expect(dup.status).to.equal(409);
    expect(dup.body).to.include({ code: 'already_exists', field: 'name' });
    const quota = await request(h.url).post(t.path).set(auth(t.admin)).send({ name: 'Perf' });
    expect(quota.status).to.equal(409);
    expect(quota.body).to.include({ code: 'quota_exceeded', limit: 4, used: 4 });

    // Not while it holds a configuration.
    await createConfig(t, 'qa', 'flag', 'on').expect(201);
    const busy = await request(h.url)
      .patch(`${t.path}/QA`)
      .set(auth(t.admin))
      .send({ name: 'PreProd' })
      .expect(409);
    expect(busy.body).to.include({ code: 'invalid_state', field: 'environment', used: 1 });
    await request(h.url).delete(`${t.path}/qa`).set(auth(t.admin)).expect(409);
    await h.project();
    const list = await request(h.url).get(t.path).set(auth(t.reader)).expect(200);
    expect(list.body.environments[3]).to.include({ name: 'QA', configurations: 1 });

    await createConfig(t, 'Development', 'dev-only').expect(201);
    const cfg = await request(h.url)
      .get(`/api/v1/configs?tenantId=${t.tenantId}&environment=QA`)
      .set(auth(t.reader))
      .expect(200);
    await request(h.url)
      .delete(`/api/v1/configs/${cfg.body.items[0].configId}`)
      .set(auth(t.editor))
      .set('If-Match', '"1"')
      .expect(200);
    const renamed = await request(h.url)
      .patch(`${t.path}/qa`)
      .set(auth(t.admin))
      .send({ name: 'PreProd' })
      .expect(200);
    expect(renamed.body.environments).to.deep.equal([
      'Development',
      'Staging',
      'Production',
      'PreProd',
    ]);
    await h.project();
    await eventually(async () => (await hotRead(t, 'QA')).status === 404, 'QA renamed');
    await hotRead(t, 'preprod').expect(200);

    const removed = await request(h.url).delete(`${t.path}/PREPROD`).set(auth(t.admin)).expect(200);
    expect(removed.body).to.deep.include({
      environment: 'PreProd',
      environments: ['Development', 'Staging', 'Production'],
    });
    await h.project();
    await eventually(async () => (await hotRead(t, 'PreProd')).status === 404, 'removed');
    const missing = await request(h.url).delete(`${t.path}/PreProd`).set(auth(t.admin)).expect(404);
    expect(missing.body.declaredEnvironments).to.deep.equal([
      'Development',
      'Staging',
      'Production',
    ]);
    // Readers may list, not change.
    await request(h.url).post(t.path).set(auth(t.reader)).send({ name: 'X' }).expect(403);
  });

  it('reads a tenant from before declarations as declaring the defaults and what it used', async function () {
    // Its stream as the service wrote it before: no declarations, a config in free-text `Prod`.
    const tenantId = uniqueTenant('old');
    const ctx = { userId: 'old-version', correlationId: 'c' };
    const configEvents = decideCreateConfig(initialConfigurationState(), {
      tenantId,
      key: 'greeting',
      environment: 'Prod',
      type: 'String',
      value: 'hello',
    });
    const configId = configIdFor(tenantId, 'Prod', 'greeting');
    await h.services.store.append([
      {
        streamId: tenantStream(tenantId),
        expected: 'no_stream',
        events: toNewEvents(
          [
            {
              type: 'TenantCreated',
              data: {
                tenantId,
                name: 'Old',
                tier: 'Free',
                status: 'Active',
                maxConfigurations: 100,
                maxEnvironments: 6,
                contactEmail: null,
                metadata: null,
              },
            },
            {
              type: 'ConfigurationRegistered',
              data: { tenantId, configId, key: 'greeting', environment: 'Prod' },
            },
          ],
          ctx,
        ),
      },
      {
        streamId: configStream(configId),
        expected: 'no_stream',
        events: toNewEvents(configEvents, ctx),
      },
    ]);
    await h.project();
    const t: T = {
      tenantId,
      admin: h.token('tenant-admin', tenantId),
      editor: h.token('editor', tenantId),
      reader: h.token('reader', tenantId),
      path: `/api/v1/tenants/${tenantId}/environments`,
    };
    const list = await request(h.url).get(t.path).set(auth(t.reader)).expect(200);
    expect(
      list.body.environments.map((e: Record<string, unknown>) => [e.name, e.implicit]),
    ).to.deep.equal([
      ['Development', true],
      ['Staging', true],
      ['Production', true],
      ['Prod', true],
    ]);
    const prod = await hotRead(t, 'prod').expect(200);
    expect(prod.body.configs).to.deep.equal({ greeting: 'hello' });
    await createConfig(t, 'Prod', 'second').expect(201);
    await createConfig(t, 'QA').expect(400);
    // Its first environment command makes them explicit, in the log and the read table.
    await request(h.url).post(t.path).set(auth(t.admin)).send({ name: 'QA' }).expect(201);
    await h.project();
    const after = await request(h.url).get(t.path).set(auth(t.reader)).expect(200);
    expect(
      after.body.environments.map((e: Record<string, unknown>) => [e.name, e.implicit]),
    ).to.deep.equal([
      ['Development', false],
      ['Staging', false],
      ['Production', false],
      ['Prod', false],
      ['QA', false],
    ]);
    const { events } = await h.services.store.readStream(tenantStream(tenantId));
    expect(events.filter((e) => e.type === 'EnvironmentDeclared')).to.have.length(5);
  });
});
