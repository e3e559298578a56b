import { expect } from 'chai';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness, auth } from '../../../test/support/harness.js';

const schemaOf = (max: number) => ({
  type: 'object',
  required: ['maxAttempts'],
  properties: { maxAttempts: { type: 'integer', minimum: 1, maximum: max } },
});

describe('schema what-if (e2e)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness({ runProjector: true });
  });
  after(async function () {
    await h?.close();
  });

  async function tenant() {
    const tenantId = uniqueTenant('whatif');
    const created = await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({ tenantId, name: 'W', tier: 'Enterprise' })
      .expect(201);
    return {
      tenantId,
      position: created.body.position as string,
      editor: h.token('editor', tenantId, { sub: 'alice' }),
      reader: h.token('reader', tenantId),
    };
  }
  type Tenant = Awaited<ReturnType<typeof tenant>>;

  const create = (t: Tenant, body: Record<string, unknown>) =>
    request(h.url)
      .post('/api/v1/configs')
      .set(auth(t.editor))
      .send({ tenantId: t.tenantId, environment: 'Staging', type: 'JSON', ...body })
      .expect(201);
  const update = (t: Tenant, configId: string, version: number, value: unknown) =>
    request(h.url)
      .put(`/api/v1/configs/${configId}`)
      .set(auth(t.editor))
      .set('If-Match', `"${version}"`)
      .send({ value })
      .expect(200);
  const whatIf = (t: Tenant, body: unknown, token = t.editor, minPosition = t.position) =>
    request(h.url)
      .post(`/api/v1/tenants/${t.tenantId}/schemas/retry/what-if?minPosition=${minPosition}`)
      .set(auth(token))
      .send(body as object);
  async function events(t: Tenant): Promise<number> {
    const { rows } = await h.services.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM es_events WHERE data->>'tenantId' = $1`,
      [t.tenantId],
    );
    return rows[0]!.n;
  }

  it('replays every version of the configs using the schema and names the ones that would fail', async function () {
    const t = await tenant();
    await request(h.url)
      .put(`/api/v1/tenants/${t.tenantId}/schemas/retry`)
      .set(auth(t.editor))
      .send({ schema: schemaOf(10) })
      .expect(201);
    // `retry` names the schema: versions 3, 9, 4 (and a default of 2).
    const retry = await create(t, {
      key: 'retry',
      value: { maxAttempts: 3 },
      defaultValue: { maxAttempts: 2 },
      schemaId: 'retry',
    });
    const id = retry.body.configId as string;
    await update(t, id, 1, { maxAttempts: 9 });
    await update(t, id, 2, { maxAttempts: 4 });
    // `other` does not name it yet; it would be given it (configIds): one bad version, current.
    const other = await create(t, { key: 'other', value: { maxAttempts: 7 } });
    const last = await update(t, other.body.configId, 1, { attempts: 7 });
    // Untouched: a config of another key that names no schema.
    await create(t, { key: 'unrelated', value: { maxAttempts: 99 } });
    const before = await events(t);

    const r = await whatIf(
      t,
      { schema: schemaOf(5), configIds: [other.body.configId] },
      t.editor,
      last.body.position,
    ).expect(200);
    expect(r.body).to.include({ tenantId: t.tenantId, schemaId: 'retry', currentVersion: 1 });
    expect(r.body.counts).to.deep.equal({
      configs: 2,
      versionsChecked: 5,
      valuesChecked: 6,
      failedValues: 3,
      failedVersions: 3,
      failedConfigs: 2,
    });
    expect(
      r.body.configs.map((c: { key: string; failedVersions: number[] }) => [
        c.key,
        c.failedVersions,
      ]),
    ).to.deep.equal([
      ['retry', [2]],
      ['other', [1, 2]],
    ]);
    const failures = r.body.failures.map(
      (f: {
        key: string;
        version: number;
        field: string;
        current: boolean;
        userId: string;
        errors: unknown;
      }) => [f.key, f.version, f.field, f.current, f.userId, f.errors],
    );
    expect(failures).to.deep.equal([
      ['retry', 2, 'value', false, 'alice', [{ path: '/maxAttempts', message: 'must be <= 5' }]],
      ['other', 1, 'value', false, 'alice', [{ path: '/maxAttempts', message: 'must be <= 5' }]],
      [
        'other',
        2,
        'value',
        true,
        'alice',
        [{ path: '/', message: "must have required property 'maxAttempts'" }],
      ],
    ]);
    expect(r.body.wouldBeRefused).to.equal(true);
    expect(r.body.failures[0].position).to.match(/^\d+$/);
    // A dry run: nothing appended.
    expect(await events(t)).to.equal(before);

    // Without `other`, nothing in use fails: the version could be defined as it is.
    const alone = await whatIf(t, { schema: schemaOf(5) }).expect(200);
    expect(alone.body.counts).to.include({ configs: 1, failedVersions: 1 });
    expect(alone.body.wouldBeRefused).to.equal(false);
    await request(h.url)
      .put(`/api/v1/tenants/${t.tenantId}/schemas/retry`)
      .set(auth(t.editor))
      .send({ schema: schemaOf(5) })
      .expect(200);
  });

  it('answers bad input with a problem naming the field, and readers with 403', async function () {
    const t = await tenant();
    const badDoc = await whatIf(t, { schema: { type: 'no-such-type' } }).expect(422);
    expect(badDoc.headers['content-type']).to.match(/problem\+json/);
    expect(badDoc.body.field).to.equal('schema');
    const noDoc = await whatIf(t, {}).expect(400);
    expect(noDoc.body.field).to.equal('schema');
    const badLimit = await whatIf(t, { schema: true, limit: -1 }).expect(400);
    expect(badLimit.body.field).to.equal('limit');
    const stranger = await whatIf(t, {
      schema: true,
      configIds: ['cfg_00000000000000000000000000000000'],
    }).expect(422);
    expect(stranger.body.field).to.equal('configIds.0');
    // Another tenant's configuration is not this tenant's.
    const u = await tenant();
    const theirs = await create(u, { key: 'x', value: { maxAttempts: 1 } });
    const foreign = await whatIf(t, { schema: true, configIds: [theirs.body.configId] }).expect(
      422,
    );
    expect(foreign.body.field).to.equal('configIds.0');
    await whatIf(t, { schema: true }, t.reader).expect(403);
    const empty = await whatIf(t, { schema: true }).expect(200);
    expect(empty.body).to.include({ currentVersion: null, wouldBeRefused: false });
    expect(empty.body.counts.configs).to.equal(0);
  });
});
