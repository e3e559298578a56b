import { expect } from 'chai';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness, auth } from '../../../test/support/harness.js';

const inHours = (n: number) => new Date(Date.now() + n * 3_600_000).toISOString();

describe('future preview (e2e)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness({ runProjector: true });
  });
  after(async function () {
    await h?.close();
  });

  async function setup() {
    const tenantId = uniqueTenant('preview');
    const created = await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({ tenantId, name: 'P', tier: 'Enterprise' })
      .expect(201);
    const position = created.body.position as string;
    const editor = h.token('editor', tenantId, { sub: 'alice' });
    const approver = h.token('approver', tenantId, { sub: 'bob' });
    const create = async (key: string, value: string) =>
      (
        await request(h.url)
          .post('/api/v1/configs')
          .set(auth(editor))
          .send({ tenantId, key, value, environment: 'Staging' })
          .expect(201)
      ).body as { configId: string };
    const schedule = async (configId: string, value: string, applyAt: string) =>
      (
        await request(h.url)
          .post(`/api/v1/configs/${configId}/scheduled-changes`)
          .set(auth(editor))
          .send({ value, applyAt, expectedVersion: 1 })
          .expect(201)
      ).body as { scheduleId: string; position: string };
    return { tenantId, editor, approver, create, schedule, position };
  }

  const preview = (tenantId: string, token: string, at: string, minPosition?: string) =>
    request(h.url)
      .get(`/api/v1/tenants/${tenantId}/environments/staging/preview`)
      .query({ at, ...(minPosition ? { minPosition } : {}) })
      .set(auth(token));

  it('applies scheduled changes and pending requests in time order, naming the stale ones', async function () {
    const t = await setup();
    const banner = await t.create('banner', 'none');
    const theme = await t.create('theme', 'plain');
    const sale = await t.schedule(banner.configId, 'sale', inHours(2));
    const light = await t.schedule(theme.configId, 'light', inHours(1));
    // A pending request on theme: as if approved now, it moves theme to version 2 first, so the
    // schedule made against version 1 would fail as stale at its time.
    const cr = await request(h.url)
      .post('/api/v1/approvals')
      .set(auth(t.editor))
      .send({ configId: theme.configId, value: 'dark' })
      .expect(201);
    const { rows } = await h.services.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM es_events WHERE data->>'tenantId' = $1`,
      [t.tenantId],
    );

    const far = await preview(t.tenantId, t.editor, inHours(3), cr.body.position).expect(200);
    expect(far.body).to.include({ tenantId: t.tenantId, environment: 'Staging', later: 0 });
    expect(far.body.configs).to.deep.equal({ banner: 'sale', theme: 'dark' });
    expect(far.body.versions).to.deep.equal({ banner: 2, theme: 2 });
    expect(
      far.body.applied.map((a: Record<string, unknown>) => [
        a.kind,
        a.id,
        a.key,
        a.fromVersion,
        a.toVersion,
        a.assumes,
      ]),
    ).to.deep.equal([
      ['ChangeRequest', cr.body.approvalId, 'theme', 1, 2, 'approval'],
      ['ScheduledChange', sale.scheduleId, 'banner', 1, 2, null],
    ]);
    expect(far.body.notApplied).to.have.length(1);
    expect(far.body.notApplied[0]).to.include({
      kind: 'ScheduledChange',
      id: light.scheduleId,
      key: 'theme',
      reason: 'stale: made against version 1, the configuration is at version 2 by then',
    });

    // Sooner: the banner's change comes later.
    const soon = await preview(t.tenantId, t.editor, inHours(1.5)).expect(200);
    expect(soon.body.configs).to.deep.equal({ banner: 'none', theme: 'dark' });
    expect(soon.body.later).to.equal(1);

    // A preview writes nothing.
    const after = await h.services.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM es_events WHERE data->>'tenantId' = $1`,
      [t.tenantId],
    );
    expect(after.rows[0]!.n).to.equal(rows[0]!.n);
  });

  it('takes the applyAt of change requests: pending (as if approved by then) and approved (its schedule)', async function () {
    const t = await setup();
    const mode = await t.create('mode', 'a');
    const flag = await t.create('flag', 'off');
    const request_ = (configId: string, value: string, applyAt: string) =>
      request(h.url)
        .post('/api/v1/approvals')
        .set(auth(t.editor))
        .send({ configId, value, applyAt })
        .expect(201);
    // Pending, timed: applies at its applyAt if approved by then.
    const timed = await request_(mode.configId, 'b', inHours(1.25));
    // Approved, timed: the approval schedules it; the schedule carries it out at its time.
    const approvedLater = await request_(flag.configId, 'on', inHours(2.5));
    const approved = await request(h.url)
      .post(`/api/v1/approvals/${approvedLater.body.approvalId}/approve`)
      .set(auth(t.approver))
      .send({})
      .expect(200);
    const position = approved.headers['x-event-position'] as string;

    const soon = await preview(t.tenantId, t.editor, inHours(2), position).expect(200);
    expect(soon.body.configs).to.deep.equal({ flag: 'off', mode: 'b' });
    expect(soon.body.applied).to.have.length(1);
    expect(soon.body.applied[0]).to.include({
      kind: 'ChangeRequest',
      id: timed.body.approvalId,
      assumes: 'approval',
    });
    expect(Date.parse(soon.body.applied[0].effectiveAt)).to.be.greaterThan(
      Date.parse(inHours(1.2)),
    );
    expect(soon.body.later).to.equal(1);

    const later = await preview(t.tenantId, t.editor, inHours(3)).expect(200);
    expect(later.body.configs).to.deep.equal({ flag: 'on', mode: 'b' });
    expect(
      later.body.applied.map((a: Record<string, unknown>) => [
        a.kind,
        a.key,
        a.assumes,
        a.strategy,
      ]),
    ).to.deep.equal([
      ['ChangeRequest', 'mode', 'approval', 'Direct'],
      ['ScheduledChange', 'flag', null, 'Direct'],
    ]);
    expect(later.body.notApplied).to.deep.equal([]);
  });

  it('refuses a time not in the future, an undeclared environment, and hides other tenants', async function () {
    const t = await setup();
    const past = await preview(t.tenantId, t.editor, '2020-01-01T00:00:00Z').expect(400);
    expect(past.headers['content-type']).to.match(/problem\+json/);
    expect(past.body.field).to.equal('at');
    const garbage = await preview(t.tenantId, t.editor, 'tomorrow').expect(400);
    expect(garbage.body.field).to.equal('at');
    const env = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/environments/Nowhere/preview`)
      .query({ at: inHours(1), minPosition: t.position })
      .set(auth(t.editor))
      .expect(404);
    expect(env.body.field).to.equal('environment');
    const other = await setup();
    await preview(t.tenantId, other.editor, inHours(1)).expect(404);
  });
});
