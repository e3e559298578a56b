import { expect } from 'chai';
import request from 'supertest';
import {
  eventCount,
  startHarness,
  uniqueTenant,
  type Harness,
} from '../../../test/support/harness.js';

describe('configurations API (e2e)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness({ overrides: { ConfigService__MaxConfigsPerTenant: '50' } });
  });
  after(async function () {
    await h?.close();
  });

  async function tenant(extra: Record<string, unknown> = {}) {
    const tenantId = uniqueTenant();
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'T', tier: 'Free', ...extra })
      .expect(201);
    return { tenantId, editor: h.token('editor', tenantId), reader: h.token('reader', tenantId) };
  }

  function create(editor: string, body: Record<string, unknown>) {
    return request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', `Bearer ${editor}`)
      .send(body);
  }

  it('creates, reads, updates with If-Match, and lists versions', async function () {
    const t = await tenant();
    const created = await create(t.editor, {
      tenantId: t.tenantId,
      key: 'feature.test',
      value: 'true',
      type: 'Boolean',
      environment: 'Development',
    }).expect(201);
    expect(created.body).to.include({
      key: 'feature.test',
      value: 'true',
      version: 1,
      type: 'Boolean',
    });
    expect(created.headers.etag).to.equal('"1"');
    expect(created.headers.location).to.equal(`/api/v1/configs/${created.body.configId}`);
    const id = created.body.configId as string;

    const updated = await request(h.url)
      .put(`/api/v1/configs/${id}`)
      .set('Authorization', `Bearer ${t.editor}`)
      .set('If-Match', '"1"')
      .send({ value: false, changeDescription: 'off' })
      .expect(200);
    expect(updated.body).to.include({ value: 'false', version: 2 });

    await h.project();
    const read = await request(h.url)
      .get(`/api/v1/configs/${id}`)
      .set('Authorization', `Bearer ${t.reader}`)
      .expect(200);
    expect(read.body).to.include({ value: 'false', version: 2, updatedBy: 'user-editor' });
    expect(read.headers.etag).to.equal('"2"');

    const versions = await request(h.url)
      .get(`/api/v1/configs/${id}/versions`)
      .set('Authorization', `Bearer ${t.reader}`)
      .expect(200);
    expect(versions.body.total).to.equal(2);
    expect(
      versions.body.items.map((v: { version: number; changeType: string }) => [
        v.version,
        v.changeType,
      ]),
    ).to.deep.equal([
      [2, 'Updated'],
      [1, 'Created'],
    ]);
    const v1 = await request(h.url)
      .get(`/api/v1/configs/${id}/versions/1`)
      .set('Authorization', `Bearer ${t.reader}`)
      .expect(200);
    expect(v1.body).to.include({ value: 'true', changeType: 'Created', changedBy: 'user-editor' });
    expect(v1.body.traceId).to.match(/^[\da-f]{32}$/);
  });

  it('refuses a stale version with 409 and the current version; no-op writes append nothing', async function () {
    const t = await tenant();
    const { body } = await create(t.editor, {
      tenantId: t.tenantId,
      key: 'k',
      value: 1,
      type: 'Integer',
    }).expect(201);
    const put = (ifMatch: string, value: unknown) =>
      request(h.url)
        .put(`/api/v1/configs/${body.configId}`)
        .set('Authorization', `Bearer ${t.editor}`)
        .set('If-Match', ifMatch)
        .send({ value });
    await put('1', 2).expect(200);
    const stale = await put('1', 3).expect(409);
    expect(stale.headers['content-type']).to.match(/application\/problem\+json/);
    expect(stale.body).to.include({
      code: 'version_conflict',
      currentVersion: 2,
      field: 'expectedVersion',
    });
    const before = await eventCount(h);
    const same = await put('2', '2').expect(200);
    expect(same.body.position).to.equal(null);
    expect(await eventCount(h)).to.equal(before);
  });

  it('lets exactly one of two concurrent writers at the same version win', async function () {
    const t = await tenant();
    const { body } = await create(t.editor, {
      tenantId: t.tenantId,
      key: 'race',
      value: 'a',
    }).expect(201);
    const results = await Promise.all(
      ['b', 'c', 'd', 'e'].map((value) =>
        request(h.url)
          .put(`/api/v1/configs/${body.configId}`)
          .set('Authorization', `Bearer ${t.editor}`)
          .send({ value, expectedVersion: 1 }),
      ),
    );
    expect(results.map((r) => r.status).sort()).to.deep.equal([200, 409, 409, 409]);
  });

  it('filters the list by tags (every one named), comma-separated or repeated', async function () {
    const t = await tenant();
    const base = { tenantId: t.tenantId, value: 'x', environment: 'Development' };
    await create(t.editor, { ...base, key: 'a', tags: ['payments', 'beta'] }).expect(201);
    await create(t.editor, { ...base, key: 'b', tags: ['payments'] }).expect(201);
    await create(t.editor, { ...base, key: 'c' }).expect(201);
    await h.project();
    const keys = async (query: string) => {
      const res = await request(h.url)
        .get(`/api/v1/configs?tenantId=${t.tenantId}&${query}`)
        .set('Authorization', `Bearer ${t.reader}`)
        .expect(200);
      expect(res.body.total).to.equal(res.body.items.length);
      return res.body.items.map((c: { key: string }) => c.key);
    };
    expect(await keys('tags=payments')).to.deep.equal(['a', 'b']);
    expect(await keys('tags=payments,beta')).to.deep.equal(['a']);
    expect(await keys('tags=beta&tags=payments')).to.deep.equal(['a']);
    expect(await keys('tags=nope')).to.deep.equal([]);
    expect(await keys('pageSize=10')).to.deep.equal(['a', 'b', 'c']);
  });

  it('shows defaultValue on the management routes, never in place of the value on app reads', async function () {
    const t = await tenant();
    const created = await create(t.editor, {
      tenantId: t.tenantId,
      key: 'retries',
      value: 3,
      type: 'Integer',
      defaultValue: 7,
      environment: 'Development',
    }).expect(201);
    expect(created.body).to.include({ value: '3', defaultValue: '7' });
    await h.project();
    const read = await request(h.url)
      .get(`/api/v1/configs/${created.body.configId}`)
      .set('Authorization', `Bearer ${t.reader}`)
      .expect(200);
    expect(read.body.defaultValue).to.equal('7');
    const app = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/environments/Development/configs/retries`)
      .set('Authorization', `Bearer ${t.reader}`)
      .expect(200);
    expect(app.body.value).to.equal(3);
    expect(app.body).not.to.have.property('defaultValue');
    const doc = await request(h.url).get('/openapi.json').expect(200);
    const body = doc.body.components.schemas.CreateConfigBody.properties.defaultValue;
    expect(body.description).to.contain('Never served on the app read routes');
  });

  it('keeps (tenant, key, environment) unique under racing creates: one 201, the rest 409', async function () {
    const t = await tenant();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        create(t.editor, {
          tenantId: t.tenantId,
          key: 'dup',
          value: `v${i}`,
          environment: 'Staging',
        }),
      ),
    );
    expect(results.map((r) => r.status).sort()).to.deep.equal([201, 409, 409, 409, 409, 409]);
    const conflict = results.find((r) => r.status === 409)!;
    expect(conflict.body).to.include({ code: 'already_exists', field: 'key' });
    // The same key in another environment is another configuration.
    await create(t.editor, {
      tenantId: t.tenantId,
      key: 'dup',
      value: 'x',
      environment: 'Development',
    }).expect(201);
  });

  it('holds the quota under concurrency: 5 slots left, 20 parallel creates, exactly 5 succeed', async function () {
    const t = await tenant({ maxConfigurations: 7 });
    await create(t.editor, { tenantId: t.tenantId, key: 'pre.1', value: 'x' }).expect(201);
    await create(t.editor, { tenantId: t.tenantId, key: 'pre.2', value: 'x' }).expect(201);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        create(t.editor, { tenantId: t.tenantId, key: `par.${i}`, value: 'x' }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).to.have.length(5);
    expect(statuses.filter((s) => s === 409)).to.have.length(15);
    expect(results.find((r) => r.status === 409)!.body.code).to.equal('quota_exceeded');
    await h.project();
    const { rows } = await h.services.pool.query(
      'SELECT count(*)::int AS n FROM configurations WHERE tenant_id = $1 AND deleted_at IS NULL',
      [t.tenantId],
    );
    expect(rows[0].n).to.equal(7);
    // Deleting one frees a slot.
    const one = results.find((r) => r.status === 201)!.body.configId;
    await request(h.url)
      .delete(`/api/v1/configs/${one}`)
      .set('Authorization', `Bearer ${t.editor}`)
      .expect(200);
    await create(t.editor, { tenantId: t.tenantId, key: 'after.delete', value: 'x' }).expect(201);
  });

  it('caps every tenant at ConfigService__MaxConfigsPerTenant', async function () {
    const t = await tenant({ maxConfigurations: 1000 });
    const results = [];
    for (let i = 0; i < 51; i++) {
      results.push(
        (await create(t.editor, { tenantId: t.tenantId, key: `cap.${i}`, value: 'x' })).status,
      );
    }
    expect(results.filter((s) => s === 201)).to.have.length(50);
    expect(results[50]).to.equal(409);
  });

  it('rolls back to an earlier version as a new version', async function () {
    const t = await tenant();
    const { body } = await create(t.editor, {
      tenantId: t.tenantId,
      key: 'rb',
      value: { a: 1 },
      type: 'JSON',
    }).expect(201);
    const auth = { Authorization: `Bearer ${t.editor}` };
    await request(h.url)
      .put(`/api/v1/configs/${body.configId}`)
      .set(auth)
      .send({ value: { a: 2 }, expectedVersion: 1 })
      .expect(200);
    await request(h.url)
      .put(`/api/v1/configs/${body.configId}`)
      .set(auth)
      .send({ value: '{"a":3}', expectedVersion: 2 })
      .expect(200);
    const rb = await request(h.url)
      .post(`/api/v1/configs/${body.configId}/rollback`)
      .set(auth)
      .send({ version: 1 })
      .expect(200);
    expect(rb.body).to.include({ version: 4, value: '{"a":1}' });
    await h.project();
    const v4 = await request(h.url)
      .get(`/api/v1/configs/${body.configId}/versions/4`)
      .set(auth)
      .expect(200);
    expect(v4.body).to.include({
      changeType: 'RolledBack',
      value: '{"a":1}',
      previousValue: '{"a":3}',
    });
  });

  it('soft-deletes and restores, keeping the history; create after delete continues it', async function () {
    const t = await tenant();
    const auth = { Authorization: `Bearer ${t.editor}` };
    const { body } = await create(t.editor, {
      tenantId: t.tenantId,
      key: 'del',
      value: 'a',
    }).expect(201);
    await request(h.url)
      .delete(`/api/v1/configs/${body.configId}`)
      .set(auth)
      .set('If-Match', '"1"')
      .expect(200);
    await request(h.url)
      .put(`/api/v1/configs/${body.configId}`)
      .set(auth)
      .send({ value: 'b', expectedVersion: 2 })
      .expect(404);
    const restored = await request(h.url)
      .post(`/api/v1/configs/${body.configId}/restore`)
      .set(auth)
      .expect(200);
    expect(restored.body).to.include({ version: 3, value: 'a', deleted: false });
    await request(h.url).delete(`/api/v1/configs/${body.configId}`).set(auth).expect(200);
    const again = await create(t.editor, { tenantId: t.tenantId, key: 'del', value: 'c' }).expect(
      201,
    );
    expect(again.body).to.include({ configId: body.configId, version: 5, value: 'c' });
    await h.project();
    const versions = await request(h.url)
      .get(`/api/v1/configs/${body.configId}/versions`)
      .set(auth)
      .expect(200);
    expect(versions.body.items.map((v: { changeType: string }) => v.changeType)).to.deep.equal([
      'Created',
      'Deleted',
      'Restored',
      'Deleted',
      'Created',
    ]);
  });

  it('masks sensitive values in lists and audit rows, not for apps', async function () {
    const t = await tenant();
    const auth = { Authorization: `Bearer ${t.editor}` };
    const { body } = await create(t.editor, {
      tenantId: t.tenantId,
      key: 'db.password',
      value: 's3cret',
      isSensitive: true,
    }).expect(201);
    await request(h.url)
      .put(`/api/v1/configs/${body.configId}`)
      .set(auth)
      .send({ value: 'n3w', expectedVersion: 1 })
      .expect(200);
    await h.project();
    const list = await request(h.url)
      .get(`/api/v1/configs?tenantId=${t.tenantId}`)
      .set(auth)
      .expect(200);
    expect(list.body.items[0]).to.include({ key: 'db.password', value: '********' });
    const versions = await request(h.url)
      .get(`/api/v1/configs/${body.configId}/versions`)
      .set(auth)
      .expect(200);
    expect(versions.body.items.map((v: { value: string }) => v.value)).to.deep.equal([
      '********',
      '********',
    ]);
    const audit = await request(h.url)
      .get(`/api/v1/audit-logs?tenantId=${t.tenantId}&configId=${body.configId}`)
      .set(auth)
      .expect(200);
    // ConfigurationRegistered (tenant stream), ConfigurationCreated, ConfigurationUpdated.
    expect(audit.body.total).to.equal(3);
    for (const row of audit.body.items) {
      expect(JSON.stringify(row)).not.to.match(/s3cret|n3w/);
    }
    const { rows } = await h.services.pool.query(
      'SELECT old_value, new_value FROM audit_logs WHERE config_id = $1',
      [body.configId],
    );
    expect(JSON.stringify(rows)).not.to.match(/s3cret|n3w/);
    const hot = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/environments/Development/configs/db.password`)
      .set('Authorization', `Bearer ${t.reader}`)
      .expect(200);
    expect(hot.body.value).to.equal('n3w');
  });

  it('keeps a secret masked in history after the config stops being sensitive, and through a canary', async function () {
    const t = await tenant();
    const auth = { Authorization: `Bearer ${t.editor}` };
    const { body } = await create(t.editor, {
      tenantId: t.tenantId,
      key: 'api.key',
      value: 'OLD-SECRET',
      isSensitive: true,
    }).expect(201);
    // A canary of a new secret: its steps carry the value but no flag.
    const dep = await request(h.url)
      .post('/api/v1/deployments')
      .set(auth)
      .send({
        configId: body.configId,
        value: 'CANARY-SECRET',
        strategy: 'Canary',
        steps: [10, 50, 100],
        bakeTimeSeconds: 600,
      })
      .expect(201);
    await h.services.deploymentCommands.advance(dep.body.deploymentId, 0, {
      userId: 'job',
      correlationId: 'c',
    });
    await request(h.url)
      .post(`/api/v1/deployments/${dep.body.deploymentId}/rollback`)
      .set(auth)
      .send({ reason: 'no' })
      .expect(200);
    // Switched off: the next value is public, the old one stays a secret in history.
    await request(h.url)
      .put(`/api/v1/configs/${body.configId}`)
      .set(auth)
      .send({ value: 'public', isSensitive: false, expectedVersion: 1 })
      .expect(200);
    await h.project();
    const secrets = /OLD-SECRET|CANARY-SECRET/;
    const { rows } = await h.services.pool.query(
      'SELECT event_type, old_value, new_value, details FROM audit_logs WHERE tenant_id = $1',
      [t.tenantId],
    );
    expect(rows.length).to.be.greaterThan(4);
    expect(JSON.stringify(rows)).not.to.match(secrets);
    const versions = await request(h.url)
      .get(`/api/v1/configs/${body.configId}/versions`)
      .set(auth)
      .expect(200);
    expect(JSON.stringify(versions.body)).not.to.match(secrets);
    for (const v of [1, 2]) {
      const one = await request(h.url)
        .get(`/api/v1/configs/${body.configId}/versions/${v}`)
        .set(auth)
        .expect(200);
      expect(JSON.stringify(one.body)).not.to.match(secrets);
    }
    const deployment = await request(h.url)
      .get(`/api/v1/deployments/${dep.body.deploymentId}`)
      .set(auth)
      .expect(200);
    expect(JSON.stringify(deployment.body)).not.to.match(secrets);
    const events = await request(h.url)
      .get(`/api/v1/configs/${body.configId}/events`)
      .set(auth)
      .expect(200);
    expect(JSON.stringify(events.body)).not.to.match(secrets);
    // The current, public value reads as itself.
    const current = await request(h.url).get(`/api/v1/configs/${body.configId}`).set(auth);
    expect(current.body).to.include({ value: 'public', isSensitive: false });
  });

  it('records who, from where, trace and correlation on every event, and in the audit log', async function () {
    const t = await tenant();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await create(t.editor, { tenantId: t.tenantId, key: 'meta', value: 'x' })
      .set('traceparent', `00-${traceId}-00f067aa0ba902b7-01`)
      .set('X-Correlation-Id', 'corr-123')
      .expect(201);
    const events = await h.services.store.readStream(`config-${res.body.configId}`);
    expect(events.events[0]!.metadata).to.include({
      userId: 'user-editor',
      traceId,
      correlationId: 'corr-123',
      causationId: 'corr-123',
      schemaVersion: 1,
    });
    expect(events.events[0]!.metadata.ipAddress).to.match(/127\.0\.0\.1/);
    expect(Date.parse(events.events[0]!.metadata.timestamp)).to.be.closeTo(Date.now(), 60_000);
    await h.project();
    const audit = await request(h.url)
      .get(`/api/v1/audit-logs?tenantId=${t.tenantId}&eventType=ConfigurationCreated`)
      .set('Authorization', `Bearer ${t.reader}`)
      .expect(200);
    expect(audit.body.items).to.have.length(1);
    expect(audit.body.items[0]).to.include({
      traceId,
      userId: 'user-editor',
      configKey: 'meta',
      newValue: 'x',
    });
    expect(audit.body.items[0].details).to.include({ correlationId: 'corr-123' });
  });

  it('pages and filters the audit log by type and time', async function () {
    const t = await tenant();
    for (let i = 0; i < 5; i++)
      await create(t.editor, { tenantId: t.tenantId, key: `a.${i}`, value: 'x' }).expect(201);
    await h.project();
    const auth = { Authorization: `Bearer ${t.reader}` };
    const page1 = await request(h.url)
      .get(`/api/v1/audit-logs?tenantId=${t.tenantId}&eventType=ConfigurationCreated&pageSize=2`)
      .set(auth)
      .expect(200);
    expect(page1.body).to.include({ total: 5, page: 1, pageSize: 2 });
    expect(page1.body.items).to.have.length(2);
    const page3 = await request(h.url)
      .get(
        `/api/v1/audit-logs?tenantId=${t.tenantId}&eventType=ConfigurationCreated&pageSize=2&page=3`,
      )
      .set(auth)
      .expect(200);
    expect(page3.body.items).to.have.length(1);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const none = await request(h.url)
      .get(`/api/v1/audit-logs?tenantId=${t.tenantId}&from=${encodeURIComponent(future)}`)
      .set(auth)
      .expect(200);
    expect(none.body.total).to.equal(0);
    const all = await request(h.url)
      .get(`/api/v1/audit-logs?tenantId=${t.tenantId}`)
      .set(auth)
      .expect(200);
    // TenantCreated + 3 × EnvironmentDeclared + 5 × (ConfigurationRegistered + ConfigurationCreated)
    expect(all.body.total).to.equal(14);
  });
});
