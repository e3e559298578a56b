import { expect } from 'chai';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness, auth } from '../../../test/support/harness.js';

describe('compare and promote across environments (e2e)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness({ runProjector: true });
  });
  after(async function () {
    await h?.close();
  });

  async function tenant() {
    const tenantId = uniqueTenant('xenv');
    await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      // QA besides the defaults: environments are declared before use.
      .send({
        tenantId,
        name: 'T',
        tier: 'Free',
        environments: ['Development', 'Staging', 'Production', 'QA'],
      })
      .expect(201);
    const t = {
      tenantId,
      admin: h.token('tenant-admin', tenantId, { sub: 'tadmin' }),
      editor: h.token('editor', tenantId, { sub: 'alice' }),
      approver: h.token('approver', tenantId, { sub: 'bob' }),
      /** The position of the last write, for reading it back. */
      position: '0',
    };
    return t;
  }
  type Tenant = Awaited<ReturnType<typeof tenant>>;

  async function setPolicy(t: Tenant, environment: string, requiredApprovals: number) {
    const res = await request(h.url)
      .put(`/api/v1/tenants/${t.tenantId}/approval-policies/${environment}`)
      .set(auth(t.admin))
      .send({ requiredApprovals })
      .expect(200);
    t.position = res.headers['x-event-position'] ?? t.position;
  }

  /** Creates a config (Production: with its policy lifted meanwhile). */
  async function config(
    t: Tenant,
    environment: string,
    key: string,
    type: string,
    value: unknown,
    extra: Record<string, unknown> = {},
  ) {
    if (environment === 'Production') await setPolicy(t, 'Production', 0);
    const res = await request(h.url)
      .post('/api/v1/configs')
      .set(auth(t.editor))
      .send({ tenantId: t.tenantId, environment, key, type, value, ...extra })
      .expect(201);
    if (environment === 'Production') await setPolicy(t, 'Production', 1);
    t.position = res.body.position;
    return res.body.configId as string;
  }

  const compare = (t: Tenant, from: string, to: string, extra = '') =>
    request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/compare?from=${from}&to=${to}${extra}`)
      .query({ minPosition: t.position })
      .set(auth(t.editor));

  async function promote(
    t: Tenant,
    body: Record<string, unknown>,
    status: number,
    correlationId?: string,
  ) {
    const res = await request(h.url)
      .post(`/api/v1/tenants/${t.tenantId}/promote`)
      .query({ minPosition: t.position })
      .set(auth(t.editor))
      .set(correlationId ? { 'X-Correlation-ID': correlationId } : {})
      .send(body);
    expect(res.status, JSON.stringify(res.body)).to.equal(status);
    if (res.body.position) t.position = res.body.position;
    return res.body;
  }

  const valuesOf = async (t: Tenant, environment: string) => {
    const res = await request(h.url)
      .get('/api/v1/configs')
      .query({ tenantId: t.tenantId, environment, minPosition: t.position, pageSize: 500 })
      .set(auth(t.editor))
      .expect(200);
    return Object.fromEntries(
      (res.body.items as { key: string; value: string; version: number }[]).map((c) => [
        c.key,
        [c.value, c.version],
      ]),
    );
  };

  it('compares key by key, masking secrets but still telling whether they differ', async function () {
    const t = await tenant();
    await config(t, 'Staging', 'timeout', 'Integer', 30, { tags: ['http'] });
    await config(t, 'Staging', 'name', 'String', 'shop');
    await config(t, 'Staging', 'api-key', 'String', 'new-secret', { isSensitive: true });
    await config(t, 'Staging', 'only-staging', 'Boolean', true);
    await config(t, 'Production', 'timeout', 'Integer', 10, { tags: ['http'] });
    await config(t, 'Production', 'name', 'String', 'shop');
    await config(t, 'Production', 'api-key', 'String', 'old-secret', { isSensitive: true });
    await config(t, 'Production', 'only-prod', 'String', 'p');

    const res = await compare(t, 'Staging', 'Production').expect(200);
    expect(res.body.summary).to.deep.equal({
      equal: 1,
      different: 2,
      onlyInFrom: 1,
      onlyInTo: 1,
    });
    const byKey = Object.fromEntries(
      (res.body.items as { key: string }[]).map((i) => [i.key, i]),
    ) as unknown as Record<
      string,
      {
        status: string;
        from: { value: string; version: number } | null;
        to: { value: string } | null;
      }
    >;
    expect(byKey['api-key']!.status).to.equal('Different');
    expect(byKey['api-key']!.from!.value).to.equal('********');
    expect(byKey['api-key']!.to!.value).to.equal('********');
    expect(byKey['timeout']).to.deep.include({ status: 'Different' });
    expect(byKey['timeout']!.from).to.deep.include({ value: '30', version: 1 });
    expect(byKey['name']!.status).to.equal('Equal');
    expect(byKey['only-staging']!.to).to.equal(null);
    expect(byKey['only-prod']!.status).to.equal('OnlyInTo');

    const filtered = await compare(t, 'Staging', 'Production', '&tags=http').expect(200);
    expect(filtered.body.items.map((i: { key: string }) => i.key)).to.deep.equal(['timeout']);
    const keyed = await compare(t, 'Staging', 'Production', '&keys=name,only-prod').expect(200);
    expect(keyed.body.items.map((i: { key: string }) => i.key)).to.deep.equal([
      'name',
      'only-prod',
    ]);

    const same = await compare(t, 'Staging', 'Staging').expect(422);
    expect(same.body.field).to.equal('to');
  });

  it('promotes every differing key directly where no approval is needed, as one write', async function () {
    const t = await tenant();
    await config(t, 'Staging', 'timeout', 'Integer', 30);
    await config(t, 'Staging', 'flags', 'JSON', { a: [1, 2] });
    await config(t, 'Staging', 'same', 'String', 's');
    await config(t, 'QA', 'timeout', 'Integer', 10);
    await config(t, 'QA', 'same', 'String', 's');
    await config(t, 'QA', 'qa-only', 'String', 'stays');

    const dry = await promote(t, { from: 'Staging', to: 'QA', dryRun: true }, 200);
    expect(dry.outcome).to.equal('DryRun');
    expect(dry.summary).to.deep.equal({ create: 1, update: 1, unchanged: 0 });
    expect(await valuesOf(t, 'QA')).to.deep.equal({
      timeout: ['10', 1],
      same: ['s', 1],
      'qa-only': ['stays', 1],
    });

    const correlation = `promote-${t.tenantId}`;
    const done = await promote(t, { from: 'Staging', to: 'QA' }, 200, correlation);
    expect(done.outcome).to.equal('Applied');
    expect(done.changeSet.status).to.equal('Applied');
    expect(done.changeSet.requiredApprovals).to.equal(0);
    expect(done.items).to.have.deep.members([
      { key: 'timeout', action: 'Update', version: 2 },
      { key: 'flags', action: 'Create', version: 1 },
    ]);
    expect(await valuesOf(t, 'QA')).to.deep.equal({
      timeout: ['30', 2],
      flags: ['{"a":[1,2]}', 1],
      same: ['s', 1],
      'qa-only': ['stays', 1],
    });
    const after = await compare(t, 'Staging', 'QA').expect(200);
    expect(after.body.summary).to.deep.include({ different: 0, onlyInFrom: 0 });

    // Nothing left to promote.
    expect((await promote(t, { from: 'Staging', to: 'QA' }, 200)).outcome).to.equal('Unchanged');

    // Each key has its audit row, all from the one command (the set, the new key's registration).
    const audit = await request(h.url)
      .get('/api/v1/audit-logs')
      .query({ tenantId: t.tenantId, minPosition: t.position, pageSize: 100 })
      .set(auth(t.admin))
      .expect(200);
    const rows = (
      audit.body.items as {
        eventType: string;
        environment: string;
        configKey: string;
        details: { correlationId: string };
      }[]
    ).filter((r) => r.environment === 'QA' && r.details.correlationId === correlation);
    expect(rows.map((r) => `${r.eventType} ${r.configKey}`).sort()).to.deep.equal([
      'ChangeSetRequested null',
      'ConfigurationCreated flags',
      'ConfigurationRegistered flags',
      'ConfigurationUpdated timeout',
    ]);
  });

  it('refuses a key whose type differs in the target, and a key the source lacks, naming them; nothing written', async function () {
    const t = await tenant();
    await config(t, 'Staging', 'port', 'Integer', 8080);
    await config(t, 'Staging', 'ok', 'String', 'v');
    await config(t, 'QA', 'port', 'String', '8080x');
    const retyped = await promote(t, { from: 'Staging', to: 'QA' }, 422);
    expect(retyped.field).to.equal('keys.port');
    expect(retyped.detail).to.match(/never re-typed/);
    const missing = await promote(t, { from: 'Staging', to: 'QA', keys: ['ok', 'nope'] }, 422);
    expect(missing.field).to.equal('keys.nope');
    expect(await valuesOf(t, 'QA')).to.deep.equal({ port: ['8080x', 1] });
  });

  it('into a protected environment: ONE change set for all keys, applied atomically once approved', async function () {
    const t = await tenant();
    await config(t, 'Staging', 'a', 'Integer', 1);
    await config(t, 'Staging', 'b', 'String', 'bee');
    await config(t, 'Staging', 'secret', 'String', 's3cret', { isSensitive: true });
    await config(t, 'Production', 'a', 'Integer', 0);

    const cmp = await compare(t, 'Staging', 'Production').expect(200);
    const expectedVersions = Object.fromEntries(
      (cmp.body.items as { key: string; to: { version: number } | null }[]).map((i) => [
        i.key,
        i.to?.version ?? 0,
      ]),
    );
    const pending = await promote(t, { from: 'Staging', to: 'Production', expectedVersions }, 202);
    expect(pending.outcome).to.equal('Pending');
    const set = pending.changeSet;
    expect(set.items.map((i: { key: string }) => i.key).sort()).to.deep.equal(['a', 'b', 'secret']);
    expect(set.items.find((i: { key: string }) => i.key === 'secret').value).to.equal('********');
    expect(await valuesOf(t, 'Production')).to.deep.equal({ a: ['0', 1] });

    const list = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/change-sets`)
      .query({ minPosition: t.position, status: 'Pending' })
      .set(auth(t.approver))
      .expect(200);
    expect(list.body.total).to.equal(1);
    expect(list.body.items[0].changeSetId).to.equal(set.changeSetId);

    // The requester cannot approve it; an approver applies all three keys at once.
    await request(h.url)
      .post(`/api/v1/tenants/${t.tenantId}/change-sets/${set.changeSetId}/approve`)
      .set(auth(h.token(['editor', 'approver'], t.tenantId, { sub: 'alice' })))
      .send({})
      .expect(403);
    const approved = await request(h.url)
      .post(`/api/v1/tenants/${t.tenantId}/change-sets/${set.changeSetId}/approve`)
      .set(auth(t.approver))
      .send({ comments: 'ship it' })
      .expect(200);
    expect(approved.body.status).to.equal('Applied');
    t.position = approved.body.position;
    const prod = await valuesOf(t, 'Production');
    expect(prod).to.deep.equal({ a: ['1', 2], b: ['bee', 1], secret: ['********', 1] });

    // Each key has its version and history row, saying where it came from.
    const aId = cmp.body.items.find((i: { key: string }) => i.key === 'a').to.configId;
    const versions = await request(h.url)
      .get(`/api/v1/configs/${aId}/versions`)
      .query({ minPosition: t.position })
      .set(auth(t.editor))
      .expect(200);
    expect(versions.body.items[0]).to.deep.include({ version: 2, value: '1' });
    expect(versions.body.items[0].changeDescription).to.equal(
      `Promoted from Staging (change set ${set.changeSetId})`,
    );
    const read = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/change-sets/${set.changeSetId}`)
      .query({ minPosition: t.position })
      .set(auth(t.editor))
      .expect(200);
    expect(read.body).to.deep.include({ status: 'Applied', resolvedBy: 'bob' });
    expect(read.body.approvers.map((a: { userId: string }) => a.userId)).to.deep.equal(['bob']);
    // The audit trail of the set never holds the secret.
    const audit = await request(h.url)
      .get('/api/v1/audit-logs')
      .query({ tenantId: t.tenantId, minPosition: t.position, eventType: 'ChangeSetRequested' })
      .set(auth(t.admin))
      .expect(200);
    expect(audit.body.total).to.equal(1);
    expect(JSON.stringify(audit.body)).not.to.include('s3cret');
    const items = audit.body.items[0].details.items as { key: string; value: string }[];
    expect(items.find((i) => i.key === 'secret')!.value).to.equal('********');
    expect(items.find((i) => i.key === 'b')!.value).to.equal('bee');
  });

  it('refuses a stale promotion with what changed, at request and at approval; nothing is written', async function () {
    const t = await tenant();
    await config(t, 'Staging', 'a', 'Integer', 1);
    await config(t, 'Staging', 'b', 'Integer', 2);
    const aProd = await config(t, 'Production', 'a', 'Integer', 0);
    const cmp = await compare(t, 'Staging', 'Production').expect(200);
    const seen = { a: 1, b: 0 };

    // Someone changes Production's `a` after the comparison.
    await setPolicy(t, 'Production', 0);
    await request(h.url)
      .put(`/api/v1/configs/${aProd}`)
      .set(auth(t.editor))
      .send({ value: 5, expectedVersion: 1 })
      .expect(200);
    await setPolicy(t, 'Production', 1);
    expect(cmp.body.summary.different).to.equal(1);

    const stale = await promote(
      t,
      { from: 'Staging', to: 'Production', expectedVersions: seen },
      409,
    );
    expect(stale.code).to.equal('stale');
    expect(stale.conflicts).to.deep.equal([{ key: 'a', expectedVersion: 1, currentVersion: 2 }]);

    // Requested against the current versions, then `a` moves before the approval.
    const pending = await promote(
      t,
      { from: 'Staging', to: 'Production', expectedVersions: { a: 2, b: 0 } },
      202,
    );
    await setPolicy(t, 'Production', 0);
    await request(h.url)
      .put(`/api/v1/configs/${aProd}`)
      .set(auth(t.editor))
      .send({ value: 6, expectedVersion: 2 })
      .expect(200);
    await setPolicy(t, 'Production', 1);
    const refused = await request(h.url)
      .post(`/api/v1/tenants/${t.tenantId}/change-sets/${pending.changeSet.changeSetId}/approve`)
      .set(auth(t.approver))
      .send({})
      .expect(409);
    expect(refused.body.code).to.equal('stale');
    expect(refused.body.conflicts).to.deep.equal([
      { key: 'a', expectedVersion: 2, currentVersion: 3 },
    ]);
    // Not even `b`, which did not move, was written.
    expect(await valuesOf(t, 'Production')).to.deep.equal({ a: ['6', 3] });
  });
});
