import { expect } from 'chai';
import request from 'supertest';
import { startWorkers } from '../../core/jobs/workers.js';
import { Queues, scheduledChangeJobId } from '../../core/jobs/queues.js';
import { startHarness, uniqueTenant, type Harness, auth } from '../../../test/support/harness.js';
import { until } from '../../../test/support/until.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ChangeRequest {
  approvalId: string;
  status: string;
  applyAt: string | null;
  expiresAt: string;
  schedule: { scheduleId: string; status: string | null; failure: string | null } | null;
}

describe('change requests with applyAt (e2e)', function () {
  this.timeout(120_000);
  let h: Harness;
  before(async function () {
    h = await startHarness({
      runProjector: true,
      overrides: {
        ConfigService__JobReconcileInterval: 'PT1S',
        ConfigService__ApprovalMinExpiry: 'PT0.1S',
      },
    });
  });
  after(async function () {
    await h?.close();
  });

  /** A tenant with `banner` = old in Production (which needs one approval). */
  async function setup() {
    const tenantId = uniqueTenant('tcr');
    await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({ tenantId, name: 'T' })
      .expect(201);
    const admin = h.token('tenant-admin', tenantId, { sub: 'tadmin' });
    const editor = h.token('editor', tenantId, { sub: 'alice' });
    const editor2 = h.token('editor', tenantId, { sub: 'erin' });
    const approver = h.token('approver', tenantId, { sub: 'bob' });
    const policy = (n: number) =>
      request(h.url)
        .put(`/api/v1/tenants/${tenantId}/approval-policies/Production`)
        .set(auth(admin))
        .send({ requiredApprovals: n })
        .expect(200);
    await policy(0);
    const { body: config } = await request(h.url)
      .post('/api/v1/configs')
      .set(auth(editor))
      .send({ tenantId, key: 'banner', value: 'old', environment: 'Production' })
      .expect(201);
    await policy(1);
    const configId = config.configId as string;
    const head = async () => (await h.services.store.headPosition()).toString();
    const ask = async (body: Record<string, unknown>, status = 201) => {
      const res = await request(h.url)
        .post('/api/v1/approvals')
        .set(auth(editor))
        .send({ configId, ...body });
      expect(res.status, JSON.stringify(res.body)).to.equal(status);
      return res.body;
    };
    const act = (token: string, id: string, action: 'approve' | 'cancel') =>
      request(h.url).post(`/api/v1/approvals/${id}/${action}`).set(auth(token)).send({});
    const changeRequest = async (id: string) =>
      (
        await request(h.url)
          .get(`/api/v1/approvals/${id}?minPosition=${await head()}`)
          .set(auth(editor))
          .expect(200)
      ).body as ChangeRequest;
    const read = async () =>
      (
        await request(h.url)
          .get(`/api/v1/configs/${configId}?minPosition=${await head()}`)
          .set(auth(editor))
          .expect(200)
      ).body as { value: string; version: number };
    const history = async () =>
      (
        await request(h.url)
          .get(`/api/v1/configs/${configId}/versions?minPosition=${await head()}`)
          .set(auth(editor))
          .expect(200)
      ).body as {
        items: { version: number }[];
        pending: { scheduleId: string; approvalId: string | null; value: string }[];
      };
    const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();
    return {
      tenantId,
      configId,
      editor,
      editor2,
      approver,
      ask,
      act,
      changeRequest,
      read,
      history,
      inMs,
    };
  }

  it('approved, it waits for its time, shows as pending, then applies once, across a worker restart', async function () {
    const t = await setup();
    let workers = startWorkers(h.services, { idleWaitMs: 50 });
    try {
      const applyAt = t.inMs(8000);
      const asked = await t.ask({ value: 'new', applyAt });
      expect(asked).to.deep.include({ status: 'Pending', applyAt, schedule: null });
      // Unapproved, it expires at applyAt at the latest.
      expect(asked.expiresAt).to.equal(applyAt);
      const approved = await t.act(t.approver, asked.approvalId, 'approve').expect(200);
      expect(approved.body).to.deep.include({ status: 'Approved' });
      expect(approved.body.schedule).to.deep.include({ status: 'Pending' });
      const scheduleId = approved.body.schedule.scheduleId as string;
      // Approved is not applied: the value stays, the change is pending in the history read.
      expect(await t.read()).to.include({ value: 'old', version: 1 });
      const history = await t.history();
      expect(history.items.map((v) => v.version)).to.deep.equal([1]);
      expect(history.pending).to.have.length(1);
      expect(history.pending[0]).to.include({
        scheduleId,
        approvalId: asked.approvalId,
        value: 'new',
      });
      const listed = await request(h.url)
        .get(`/api/v1/tenants/${t.tenantId}/scheduled-changes?status=Pending`)
        .set(auth(t.editor))
        .expect(200);
      expect(listed.body.items.map((s: { scheduleId: string }) => s.scheduleId)).to.include(
        scheduleId,
      );
      // The worker goes away and comes back before the time.
      await workers.close();
      workers = startWorkers(h.services, { idleWaitMs: 50 });
      const applied = await until('the change to apply', async () => {
        const c = await t.read();
        return c.value === 'new' ? c : undefined;
      });
      expect(Date.now()).to.be.at.least(Date.parse(applyAt));
      expect(applied.version).to.equal(2);
      const cr = await until('the request to show it applied', async () => {
        const r = await t.changeRequest(asked.approvalId);
        return r.schedule?.status === 'Applied' ? r : undefined;
      });
      expect(cr).to.deep.include({ status: 'Approved' });
      expect((await t.history()).pending).to.deep.equal([]);
      // Its deployment (the one the request named) ran and completed.
      const dep = await request(h.url)
        .get(`/api/v1/deployments/dep_${asked.approvalId.slice(4)}`)
        .set(auth(t.editor))
        .expect(200);
      expect(dep.body).to.include({ status: 'Completed' });
      // Exactly once: later reconciler runs add no second version.
      await sleep(2500);
      expect((await t.read()).version).to.equal(2);
    } finally {
      await workers.close();
    }
  });

  it('fails as stale, saying so, when the configuration moved before its time', async function () {
    const t = await setup();
    const workers = startWorkers(h.services, { idleWaitMs: 50 });
    try {
      // Time enough (on a loaded machine) to approve both before it is due.
      const timed = await t.ask({ value: 'timed', applyAt: t.inMs(8000) });
      await t.act(t.approver, timed.approvalId, 'approve').expect(200);
      // Another change gets approved and applied meanwhile.
      const other = await t.ask({ value: 'manual' });
      await t.act(t.approver, other.approvalId, 'approve').expect(200);
      const cr = await until('the timed request to fail', async () => {
        const r = await t.changeRequest(timed.approvalId);
        return r.schedule?.status === 'Failed' ? r : undefined;
      });
      expect(cr.schedule!.failure).to.equal(
        'stale: scheduled against version 1, the configuration is now at version 2',
      );
      expect(await t.read()).to.include({ value: 'manual', version: 2 });
    } finally {
      await workers.close();
    }
  });

  it('can be cancelled until its time, by any writer, from either side; never applies then', async function () {
    const t = await setup();
    const workers = startWorkers(h.services, { idleWaitMs: 50 });
    try {
      const applyAt = t.inMs(8000);
      const a = await t.ask({ value: 'a', applyAt });
      const b = await t.ask({ value: 'b', applyAt });
      // Pending: only its requester may cancel (as before); approved and timed: any writer.
      await t.act(t.editor2, a.approvalId, 'cancel').expect(403);
      await t.act(t.approver, a.approvalId, 'approve').expect(200);
      const approvedB = await t.act(t.approver, b.approvalId, 'approve').expect(200);
      const cancelled = await t.act(t.editor2, a.approvalId, 'cancel').expect(200);
      expect(cancelled.body).to.deep.include({ status: 'Cancelled' });
      expect(cancelled.body.schedule).to.deep.include({ status: 'Cancelled' });
      // Through the scheduled change: the request ends with it.
      await request(h.url)
        .post(
          `/api/v1/tenants/${t.tenantId}/scheduled-changes/${approvedB.body.schedule.scheduleId}/cancel`,
        )
        .set(auth(t.editor2))
        .expect(200);
      const rb = await t.changeRequest(b.approvalId);
      expect(rb).to.deep.include({ status: 'Cancelled' });
      expect(rb.schedule).to.deep.include({ status: 'Cancelled' });
      expect((await t.history()).pending).to.deep.equal([]);
      // Past its time (and a reconciler run or two), nothing was applied.
      await sleep(Math.max(0, Date.parse(applyAt) - Date.now()) + 2500);
      expect(await t.read()).to.include({ value: 'old', version: 1 });
      // Once cancelled, neither side can cancel again.
      await t.act(t.editor2, a.approvalId, 'cancel').expect(409);
    } finally {
      await workers.close();
    }
  });

  it('is refused as expired when approved after its time', async function () {
    const t = await setup();
    const late = await t.ask({ value: 'late', applyAt: t.inMs(1000) });
    await sleep(1200);
    const refused = await t.act(t.approver, late.approvalId, 'approve').expect(409);
    expect(refused.body).to.include({ code: 'invalid_state', state: 'Expired' });
    expect(await t.read()).to.include({ value: 'old', version: 1 });
    // applyAt must be a time (and in the future), named as the field.
    const bad = await t.ask({ value: 'x', applyAt: t.inMs(-1000) }, 422);
    expect(bad).to.include({ code: 'validation', field: 'applyAt' });
    const garbage = await t.ask({ value: 'x', applyAt: 'tomorrow' }, 400);
    expect(garbage.field).to.equal('applyAt');
    // A direct schedule in a protected environment is told to use a change request.
    const direct = await request(h.url)
      .post(`/api/v1/configs/${t.configId}/scheduled-changes`)
      .set(auth(t.editor))
      .send({ value: 'x', applyAt: t.inMs(60_000) })
      .expect(409);
    expect(direct.body).to.include({ code: 'approval_required' });
    expect(direct.body.detail).to.match(/change request.*applyAt/);
  });

  it('heals a lost job: the reconciler adds it again and the change applies once', async function () {
    const t = await setup();
    const queues = new Queues(h.settings);
    let workers = startWorkers(h.services, { idleWaitMs: 50 });
    try {
      const asked = await t.ask({ value: 'healed', applyAt: t.inMs(8000) });
      const approved = await t.act(t.approver, asked.approvalId, 'approve').expect(200);
      const jobId = scheduledChangeJobId(approved.body.schedule.scheduleId);
      await until('the job to be added', async () =>
        (await queues.scheduledChanges.getJob(jobId)) ? true : undefined,
      );
      // Lost: the worker is stopped and the job removed (a Redis without AOF, "Clean"...).
      await workers.close();
      await (await queues.scheduledChanges.getJob(jobId))!.remove();
      workers = startWorkers(h.services, { idleWaitMs: 50 });
      const applied = await until('the change to apply', async () => {
        const c = await t.read();
        return c.value === 'healed' ? c : undefined;
      });
      expect(applied.version).to.equal(2);
      await sleep(2000);
      expect((await t.read()).version).to.equal(2);
    } finally {
      await workers.close();
      await queues.close();
    }
  });
});
