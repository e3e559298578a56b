import { expect } from 'chai';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness, auth } from '../../../test/support/harness.js';
import { FORMATS } from './config-formats.js';

describe('import and export of configurations (e2e)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness({ runProjector: true });
  });
  after(async function () {
    await h?.close();
  });

  async function tenant() {
    const tenantId = uniqueTenant('imp');
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
    return {
      tenantId,
      admin: h.token('tenant-admin', tenantId, { sub: 'tadmin' }),
      editor: h.token('editor', tenantId, { sub: 'alice' }),
      approver: h.token('approver', tenantId, { sub: 'bob' }),
      position: '0',
    };
  }
  type Tenant = Awaited<ReturnType<typeof tenant>>;

  async function config(t: Tenant, environment: string, body: Record<string, unknown>) {
    const res = await request(h.url)
      .post('/api/v1/configs')
      .set(auth(t.editor))
      .send({ tenantId: t.tenantId, environment, ...body })
      .expect(201);
    t.position = res.body.position;
  }

  async function exportEnv(t: Tenant, environment: string, format: string, extra = {}) {
    const res = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/environments/${environment}/export`)
      .query({ format, minPosition: t.position, ...extra })
      .set(auth(t.editor))
      .expect(200);
    expect(res.headers['content-type']).to.match(/^text\/plain/);
    return res.text;
  }

  async function importEnv(
    t: Tenant,
    environment: string,
    body: Record<string, unknown>,
    status: number,
  ) {
    const res = await request(h.url)
      .post(`/api/v1/tenants/${t.tenantId}/environments/${environment}/import`)
      .query({ minPosition: t.position })
      .set(auth(t.editor))
      .send(body);
    expect(res.status, JSON.stringify(res.body)).to.equal(status);
    if (res.body.position) t.position = res.body.position;
    return res.body;
  }

  /** What a reader of the environment sees, per key (type, value, tags, description). */
  async function snapshot(t: Tenant, environment: string) {
    const res = await request(h.url)
      .get('/api/v1/configs')
      .query({ tenantId: t.tenantId, environment, minPosition: t.position, pageSize: 500 })
      .set(auth(t.editor))
      .expect(200);
    return Object.fromEntries(
      (
        res.body.items as {
          key: string;
          type: string;
          value: string;
          tags: string[];
          description: string | null;
        }[]
      ).map((c) => [c.key, [c.type, c.value, c.tags, c.description]]),
    );
  }

  async function seed(t: Tenant) {
    await config(t, 'Staging', {
      key: 'http.timeout',
      type: 'Integer',
      value: 30,
      tags: ['http'],
      description: 'seconds',
    });
    await config(t, 'Staging', { key: 'ratio', type: 'Number', value: 0.25 });
    await config(t, 'Staging', { key: 'enabled', type: 'Boolean', value: true });
    await config(t, 'Staging', { key: 'limits', type: 'JSON', value: { a: [1, 2], b: 'x y' } });
    await config(t, 'Staging', {
      key: 'svc/db:banner',
      type: 'String',
      value: 'Hello = "world" # not a comment\nsecond line ünïcode',
    });
    await config(t, 'Staging', { key: 'digits', type: 'String', value: '0042' });
  }

  for (const format of FORMATS) {
    it(`${format}: export → import gives an identical environment`, async function () {
      const t = await tenant();
      await seed(t);
      const file = await exportEnv(t, 'Staging', format);

      const dry = await importEnv(t, 'QA', { format, content: file, dryRun: true }, 200);
      expect(dry.outcome).to.equal('DryRun');
      expect(dry.summary).to.deep.equal({ create: 6, update: 0, unchanged: 0 });
      expect(await snapshot(t, 'QA')).to.deep.equal({});

      const done = await importEnv(t, 'QA', { format, content: file }, 200);
      expect(done.outcome).to.equal('Applied');
      expect(done.changeSet.source).to.equal('Import');
      expect(await snapshot(t, 'QA')).to.deep.equal(await snapshot(t, 'Staging'));
      expect(await exportEnv(t, 'QA', format)).to.equal(file);

      // Again: nothing to do.
      const again = await importEnv(t, 'QA', { format, content: file }, 200);
      expect(again.outcome).to.equal('Unchanged');
    });
  }

  it('exports the keys with a tag, and secrets only masked; the mask imported back keeps the secret', async function () {
    const t = await tenant();
    await seed(t);
    await config(t, 'Staging', {
      key: 'api.key',
      type: 'String',
      value: 's3cret',
      isSensitive: true,
    });
    expect(await exportEnv(t, 'Staging', 'env', { tag: 'http' })).to.equal(
      '# config-service export\n# @type Integer\n# @description "seconds"\n# @tags ["http"]\n' +
        'http.timeout=30\n',
    );
    const file = await exportEnv(t, 'Staging', 'yaml');
    expect(file).not.to.include('s3cret');
    expect(file).to.include('api.key:\n  type: String\n  value: "********"\n  isSensitive: true');
    // Back into Staging: the secret stays as it is, nothing changes.
    expect(
      (await importEnv(t, 'Staging', { format: 'yaml', content: file }, 200)).outcome,
    ).to.equal('Unchanged');
    // Into an environment without the secret: refused naming the key and its line.
    const refused = await importEnv(t, 'QA', { format: 'yaml', content: file }, 422);
    expect(refused.field).to.equal('keys.api.key');
    expect(refused.line).to.equal(1);
    expect(refused.detail).to.match(/^line 1: 'api.key' has the masked value/);
    expect(await snapshot(t, 'QA')).to.deep.equal({});
  });

  it('refuses bad input naming the line and key; nothing is written', async function () {
    const t = await tenant();
    await config(t, 'QA', { key: 'port', type: 'Integer', value: 80 });
    const before = await snapshot(t, 'QA');

    const unreadable = await importEnv(
      t,
      'QA',
      { format: 'env', content: 'a=1\nthis line is wrong\n' },
      422,
    );
    expect(unreadable).to.deep.include({ field: 'content', line: 2 });

    // A key is never re-typed: the value must fit the key's type.
    const retyped = await importEnv(
      t,
      'QA',
      { format: 'properties', content: 'fresh=ok\n# @type String\nport=eighty\n' },
      422,
    );
    expect(retyped).to.deep.include({ field: 'keys.port', line: 3 });
    const wrongValue = await importEnv(
      t,
      'QA',
      { format: 'env', content: 'fresh=ok\nport=eighty\n' },
      422,
    );
    expect(wrongValue).to.deep.include({ field: 'keys.port', line: 2 });
    expect(wrongValue.detail).to.match(/^line 2: 'port'/);

    const badKey = await importEnv(
      t,
      'QA',
      { format: 'json', content: '{\n  "ok": 1,\n  "bad key": 2\n}' },
      422,
    );
    expect(badKey).to.deep.include({ field: 'keys.bad key', line: 3 });
    const unknownFormat = await importEnv(t, 'QA', { format: 'toml', content: 'a = 1' }, 400);
    expect(unknownFormat.field).to.equal('format');
    expect(await snapshot(t, 'QA')).to.deep.equal(before);
  });

  it('into a protected environment: one change set awaiting approval, applied all at once', async function () {
    const t = await tenant();
    await seed(t);
    const file = await exportEnv(t, 'Staging', 'json');
    const pending = await importEnv(t, 'Production', { format: 'json', content: file }, 202);
    expect(pending.outcome).to.equal('Pending');
    expect(pending.changeSet.items).to.have.length(6);
    expect(await snapshot(t, 'Production')).to.deep.equal({});
    const approved = await request(h.url)
      .post(`/api/v1/tenants/${t.tenantId}/change-sets/${pending.changeSet.changeSetId}/approve`)
      .set(auth(t.approver))
      .send({})
      .expect(200);
    t.position = approved.body.position;
    expect(await snapshot(t, 'Production')).to.deep.equal(await snapshot(t, 'Staging'));
  });
});
