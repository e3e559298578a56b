import { expect } from 'chai';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness, auth } from '../../../test/support/harness.js';

const RETRY = {
  type: 'object',
  required: ['maxAttempts'],
  properties: {
    maxAttempts: { type: 'integer', minimum: 1, maximum: 10 },
    backoffMs: { type: 'array', items: { type: 'integer' } },
  },
  additionalProperties: false,
};

describe('config schemas (e2e)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness({ runProjector: true, runWorker: true });
  });
  after(async function () {
    await h?.close();
  });

  async function tenant() {
    const tenantId = uniqueTenant('schema');
    await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({ tenantId, name: 'S', tier: 'Enterprise' })
      .expect(201);
    return {
      tenantId,
      editor: h.token('editor', tenantId, { sub: 'alice' }),
      reader: h.token('reader', tenantId),
      approver: h.token('approver', tenantId, { sub: 'bob' }),
    };
  }
  type Tenant = Awaited<ReturnType<typeof tenant>>;

  const define = (t: Tenant, id: string, schema: unknown, token = t.editor) =>
    request(h.url)
      .put(`/api/v1/tenants/${t.tenantId}/schemas/${id}`)
      .set(auth(token))
      .send({ schema, description: 'retry policy' });

  const create = (t: Tenant, body: Record<string, unknown>) =>
    request(h.url)
      .post('/api/v1/configs')
      .set(auth(t.editor))
      .send({ tenantId: t.tenantId, environment: 'Staging', type: 'JSON', ...body });

  /** A tenant with schema `retry` and a config `retry` that names it. */
  async function retryConfig(value: unknown, extra: Record<string, unknown> = {}) {
    const t = await tenant();
    await define(t, 'retry', RETRY).expect(201);
    const created = await create(t, { key: 'retry', value, schemaId: 'retry', ...extra }).expect(
      201,
    );
    return { t, configId: created.body.configId as string };
  }

  /** Events of the tenant: a refused write must add none. */
  async function events(t: Tenant): Promise<number> {
    const { rows } = await h.services.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM es_events WHERE data->>'tenantId' = $1`,
      [t.tenantId],
    );
    return rows[0]!.n;
  }

  it('defines a schema (201, then 200 per new version), lists it and reads it', async function () {
    const t = await tenant();
    const first = await define(t, 'retry', RETRY).expect(201);
    expect(first.body).to.deep.include({ schemaId: 'retry', version: 1, schema: RETRY });
    const same = await define(t, 'retry', RETRY).expect(200);
    expect(same.body).to.include({ version: 1, position: null });
    const next = await define(t, 'retry', { ...RETRY, description: 'v2' }).expect(200);
    expect(next.body.version).to.equal(2);
    const list = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/schemas?minPosition=${next.body.position}`)
      .set(auth(t.reader))
      .expect(200);
    expect(list.body.items.map((x: { schemaId: string }) => x.schemaId)).to.deep.equal(['retry']);
    const one = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/schemas/retry`)
      .set(auth(t.reader))
      .expect(200);
    expect(one.body).to.include({ version: 2, usedBy: 0, updatedBy: 'alice' });
    await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/schemas/nope`)
      .set(auth(t.reader))
      .expect(404);
  });

  it('refuses an invalid schema document, a bad id, and readers (nothing appended)', async function () {
    const t = await tenant();
    const before = await events(t);
    const bad = await define(t, 'broken', { type: 'no-such-type' }).expect(422);
    expect(bad.body.field).to.equal('schema');
    const badId = await define(t, 'has:colon', RETRY).expect(400);
    expect(badId.body.field).to.equal('schemaId');
    await define(t, 'retry', RETRY, t.reader).expect(403);
    const other = await tenant();
    await define(t, 'retry', RETRY, other.editor).expect(404);
    expect(await events(t)).to.equal(before);
  });

  it('refuses $async documents (they would pass every value) and takes draft-07 ones', async function () {
    const t = await tenant();
    const async = await define(t, 'async', { $async: true, type: 'object' }).expect(422);
    expect(async.body.field).to.equal('schema');
    await define(t, 'nested', {
      type: 'object',
      properties: { a: { $async: true, type: 'string' } },
    }).expect(422);
    await define(t, 'd7', {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { n: { type: 'integer', exclusiveMaximum: 5 } },
    }).expect(201);
    await create(t, { key: 'd7', value: { n: 5 }, schemaId: 'd7' }).expect(422);
    await create(t, { key: 'd7', value: { n: 4 }, schemaId: 'd7' }).expect(201);
  });

  it('counts values being rolled out and defaults as in use; checks promotes and reverts', async function () {
    const { t, configId } = await retryConfig(
      { maxAttempts: 3 },
      { defaultValue: { maxAttempts: 2 } },
    );
    const canary = await request(h.url)
      .post('/api/v1/deployments')
      .set(auth(t.editor))
      .send({
        configId,
        value: { maxAttempts: 9 },
        strategy: 'Canary',
        steps: [50, 100],
        bakeTimeSeconds: 3600,
      })
      .expect(201);
    const tight = (max: number) => ({
      ...RETRY,
      properties: { ...RETRY.properties, maxAttempts: { type: 'integer', maximum: max } },
    });
    // The canary's 9 is in use: a version allowing at most 5 is refused, naming the deployment.
    const refused = await define(t, 'retry', tight(5)).expect(409);
    expect(refused.body.violations[0]).to.include({
      what: 'deployment',
      deploymentId: canary.body.deploymentId,
    });
    // The default (2) counts too.
    const byDefault = await define(t, 'retry', tight(9)).expect(200);
    expect(byDefault.body.version).to.equal(2);
    const minimum = { ...tight(9), properties: { maxAttempts: { type: 'integer', minimum: 3 } } };
    const low = await define(t, 'retry', minimum).expect(409);
    expect(low.body.violations.map((v: { what: string }) => v.what)).to.deep.equal([
      'defaultValue',
    ]);
    await request(h.url)
      .post(`/api/v1/deployments/${canary.body.deploymentId}/promote`)
      .set(auth(t.editor))
      .expect(200);
  });

  it('brings a deleted config back through a change request with its schema, checking the proposal', async function () {
    const { t, configId } = await retryConfig({ maxAttempts: 3 });
    await request(h.url).delete(`/api/v1/configs/${configId}`).set(auth(t.editor)).expect(200);
    await request(h.url)
      .put(`/api/v1/tenants/${t.tenantId}/approval-policies/Staging`)
      .set(auth(h.token('tenant-admin', t.tenantId)))
      .send({ requiredApprovals: 1 })
      .expect(200);
    const bad = await request(h.url)
      .post('/api/v1/approvals')
      .set(auth(t.editor))
      .send({ configId, value: { maxAttempts: 99 } })
      .expect(422);
    expect(bad.body.field).to.equal('value');
    const ok = await request(h.url)
      .post('/api/v1/approvals')
      .set(auth(t.editor))
      .send({ configId, value: { maxAttempts: 4 } })
      .expect(201);
    const approved = await request(h.url)
      .post(`/api/v1/approvals/${ok.body.approvalId}/approve`)
      .set(auth(t.approver))
      .send({})
      .expect(200);
    const back = await request(h.url)
      .get(`/api/v1/configs/${configId}?minPosition=${approved.headers['x-event-position']}`)
      .set(auth(t.reader))
      .expect(200);
    expect(back.body).to.deep.include({ value: '{"maxAttempts":4}', schemaId: 'retry' });
  });

  it('checks every value written to a config that names a schema', async function () {
    const t = await tenant();
    await define(t, 'retry', RETRY).expect(201);
    const before = await events(t);
    const refused = await create(t, {
      key: 'retry',
      value: { maxAttempts: 50 },
      schemaId: 'retry',
    }).expect(422);
    expect(refused.body).to.include({ field: 'value', schemaId: 'retry', schemaVersion: 1 });
    expect(refused.body.schemaErrors[0]).to.include({ path: '/maxAttempts' });
    expect(refused.body.errors[0]).to.include({ field: 'value' });
    const unknown = await create(t, { key: 'x', value: {}, schemaId: 'nope' }).expect(422);
    expect(unknown.body.field).to.equal('schemaId');
    expect(await events(t)).to.equal(before);

    const created = await create(t, {
      key: 'retry',
      value: { maxAttempts: 3 },
      schemaId: 'retry',
    }).expect(201);
    const configId = created.body.configId as string;
    expect(created.body.schemaId).to.equal('retry');
    const put = (body: Record<string, unknown>) =>
      request(h.url).put(`/api/v1/configs/${configId}`).set(auth(t.editor)).send(body);
    const badUpdate = await put({ value: { maxAttempts: 3, extra: true }, expectedVersion: 1 });
    expect(badUpdate.status).to.equal(422);
    expect(badUpdate.body.schemaErrors[0].message).to.match(/additional/);
    await put({ value: { maxAttempts: 5 }, expectedVersion: 1 }).expect(200);

    // Deployments and change requests propose values: checked up front.
    const deploy = await request(h.url)
      .post('/api/v1/deployments')
      .set(auth(t.editor))
      .send({ configId, value: { maxAttempts: 0 }, strategy: 'Direct' })
      .expect(422);
    expect(deploy.body.field).to.equal('value');
    await request(h.url)
      .put(`/api/v1/tenants/${t.tenantId}/approval-policies/Staging`)
      .set(auth(h.token('tenant-admin', t.tenantId)))
      .send({ requiredApprovals: 1 })
      .expect(200);
    const proposal = await request(h.url)
      .post('/api/v1/approvals')
      .set(auth(t.editor))
      .send({ configId, value: { maxAttempts: 'many' } })
      .expect(422);
    expect(proposal.body.field).to.equal('value');
  });

  it('attaches a schema to an existing config only if its value matches, and detaches it', async function () {
    const t = await tenant();
    await define(t, 'retry', RETRY).expect(201);
    const created = await create(t, { key: 'loose', value: { maxAttempts: 99 } }).expect(201);
    const configId = created.body.configId as string;
    const put = (body: Record<string, unknown>) =>
      request(h.url).put(`/api/v1/configs/${configId}`).set(auth(t.editor)).send(body);
    const refused = await put({ schemaId: 'retry', expectedVersion: 1 }).expect(422);
    expect(refused.body.field).to.equal('value');
    await put({ schemaId: 'retry', value: { maxAttempts: 9 }, expectedVersion: 1 }).expect(200);
    await put({ value: { maxAttempts: 99 }, expectedVersion: 2 }).expect(422);
    const detached = await put({ schemaId: null, value: { maxAttempts: 99 }, expectedVersion: 2 });
    expect(detached.status).to.equal(200);
    expect(detached.body.schemaId).to.equal(null);
  });

  it('refuses a new version that a live config would not match, naming it', async function () {
    const { t, configId } = await retryConfig({ maxAttempts: 8 });
    const tighter = {
      ...RETRY,
      properties: { ...RETRY.properties, maxAttempts: { type: 'integer', maximum: 5 } },
    };
    const refused = await define(t, 'retry', tighter).expect(409);
    expect(refused.body.field).to.equal('schema');
    expect(refused.body.violations[0]).to.include({
      configId: configId,
      key: 'retry',
      environment: 'Staging',
    });
    // Rolling back to a version that no longer fits is refused too, once the schema is tighter.
    await request(h.url)
      .put(`/api/v1/configs/${configId}`)
      .set(auth(t.editor))
      .send({ value: { maxAttempts: 4 }, expectedVersion: 1 })
      .expect(200);
    const fix = await request(h.url)
      .get(
        `/api/v1/configs/${configId}?minPosition=${(await h.services.store.headPosition()).toString()}`,
      )
      .set(auth(t.reader))
      .expect(200);
    expect(fix.body.version).to.equal(2);
    await define(t, 'retry', tighter).expect(200);
    const rollback = await request(h.url)
      .post(`/api/v1/configs/${configId}/rollback`)
      .set(auth(t.editor))
      .send({ version: 1 })
      .expect(422);
    expect(rollback.body).to.include({ field: 'value', schemaVersion: 2 });
  });
});
