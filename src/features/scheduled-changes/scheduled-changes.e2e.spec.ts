import { expect } from 'chai';
import request from 'supertest';
import { startWorkers } from '../../core/jobs/workers.js';
import { startHarness, uniqueTenant, type Harness, auth } from '../../../test/support/harness.js';
import { until } from '../../../test/support/until.js';

describe('scheduled changes (e2e)', function () {
  this.timeout(90_000);
  let h: Harness;
  before(async function () {
    h = await startHarness({
      runProjector: true,
      overrides: { ConfigService__JobReconcileInterval: 'PT1S' },
    });
  });
  after(async function () {
    await h?.close();
  });

  async function setup() {
    const tenantId = uniqueTenant('sched');
    await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({ tenantId, name: 'S' })
      .expect(201);
    const editor = h.token('editor', tenantId, { sub: 'alice' });
    const { body: config } = await request(h.url)
      .post('/api/v1/configs')
      .set(auth(editor))
      .send({ tenantId, key: 'banner', value: 'old', environment: 'Staging' })
      .expect(201);
    const schedule = async (value: string, inMs: number, status = 201) => {
      const res = await request(h.url)
        .post(`/api/v1/configs/${config.configId}/scheduled-changes`)
        .set(auth(editor))
        .send({ value, applyAt: new Date(Date.now() + inMs).toISOString(), expectedVersion: 1 });
      expect(res.status, JSON.stringify(res.body)).to.equal(status);
      return res.body;
    };
    const read = async () =>
      (await request(h.url).get(`/api/v1/configs/${config.configId}`).set(auth(editor)).expect(200))
        .body as { value: string; version: number };
    const listed = async (status?: string) =>
      (
        await request(h.url)
          .get(`/api/v1/tenants/${tenantId}/scheduled-changes`)
          .query(status ? { status } : {})
          .set(auth(editor))
          .expect(200)
      ).body.items as { scheduleId: string; status: string; failure: string | null }[];
    return { tenantId, editor, configId: config.configId as string, schedule, read, listed };
  }

  it('applies once at its time, after a worker restart in between', async function () {
    const t = await setup();
    let workers = startWorkers(h.services, { idleWaitMs: 50 });
    const scheduled = await t.schedule('new', 4000);
    expect(scheduled).to.deep.include({ status: 'Pending', baseVersion: 1, value: 'new' });
    await until('it to be listed as pending', async () =>
      (await t.listed('Pending')).some((s) => s.scheduleId === scheduled.scheduleId)
        ? true
        : undefined,
    );
    // The worker goes away and comes back before the time.
    await workers.close();
    expect((await t.read()).value).to.equal('old');
    workers = startWorkers(h.services, { idleWaitMs: 50 });
    try {
      const applied = await until('the change to apply', async () => {
        const c = await t.read();
        return c.value === 'new' ? c : undefined;
      });
      expect(applied.version).to.equal(2);
      const item = await until('the schedule to read Applied', async () =>
        (await t.listed()).find(
          (s) => s.scheduleId === scheduled.scheduleId && s.status === 'Applied',
        ),
      );
      expect(item).to.deep.include({ status: 'Applied', failure: null });
      // Exactly once: reconciler runs later add no second version.
      await new Promise((r) => setTimeout(r, 2500));
      expect((await t.read()).version).to.equal(2);
    } finally {
      await workers.close();
    }
  });

  it('fails visibly as stale when the value changed meanwhile, and a cancelled one never applies', async function () {
    const t = await setup();
    const workers = startWorkers(h.services, { idleWaitMs: 50 });
    try {
      const stale = await t.schedule('scheduled', 2500);
      const cancelled = await t.schedule('cancelled', 2500);
      await request(h.url)
        .post(`/api/v1/tenants/${t.tenantId}/scheduled-changes/${cancelled.scheduleId}/cancel`)
        .set(auth(t.editor))
        .expect(200);
      // Someone changes the value before the time.
      await request(h.url)
        .put(`/api/v1/configs/${t.configId}`)
        .set(auth(t.editor))
        .send({ value: 'manual', expectedVersion: 1 })
        .expect(200);
      const failed = await until('the stale schedule to fail', async () =>
        (await t.listed()).find((s) => s.scheduleId === stale.scheduleId && s.status === 'Failed'),
      );
      expect(failed.failure).to.match(/^stale: scheduled against version 1/);
      const c = await t.read();
      expect(c).to.deep.include({ value: 'manual', version: 2 });
      const all = await t.listed();
      expect(all.find((s) => s.scheduleId === cancelled.scheduleId)!.status).to.equal('Cancelled');
      // Cancelling again is refused; so is scheduling against a version that is gone.
      await request(h.url)
        .post(`/api/v1/tenants/${t.tenantId}/scheduled-changes/${cancelled.scheduleId}/cancel`)
        .set(auth(t.editor))
        .expect(409);
      const past = await t.schedule('x', -1000, 409);
      expect(past.field).to.equal('expectedVersion');
    } finally {
      await workers.close();
    }
  });
});
