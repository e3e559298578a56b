import { expect } from 'chai';
import request from 'supertest';
import { startWorkers } from '../../core/jobs/workers.js';
import { Queues, expiryJobId } from '../../core/jobs/queues.js';
import { startHarness, uniqueTenant, type Harness, auth } from '../../../test/support/harness.js';
import { until } from '../../../test/support/until.js';

describe('change set expiry (e2e)', function () {
  this.timeout(90_000);
  let h: Harness;
  before(async function () {
    // Sets awaiting approval expire after ConfigService__ApprovalExpiry, as change requests do.
    h = await startHarness({
      runProjector: true,
      overrides: {
        ConfigService__ApprovalExpiry: 'PT2S',
        ConfigService__ApprovalMinExpiry: 'PT0.1S',
        ConfigService__JobReconcileInterval: 'PT1S',
      },
    });
  });
  after(async function () {
    await h?.close();
  });

  /** A promotion of two keys from Staging to Production, awaiting one approval. */
  async function pendingPromotion() {
    const tenantId = uniqueTenant('csx');
    await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({ tenantId, name: 'T' })
      .expect(201);
    const editor = h.token('editor', tenantId, { sub: 'alice' });
    const approver = h.token('approver', tenantId, { sub: 'bob' });
    for (const key of ['a', 'b']) {
      await request(h.url)
        .post('/api/v1/configs')
        .set(auth(editor))
        .send({ tenantId, environment: 'Staging', key, type: 'String', value: `staged-${key}` })
        .expect(201);
    }
    const res = await request(h.url)
      .post(`/api/v1/tenants/${tenantId}/promote`)
      .query({ minPosition: (await h.services.store.headPosition()).toString() })
      .set(auth(editor))
      .send({ from: 'Staging', to: 'Production', keys: ['a', 'b'] });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const changeSetId = res.body.changeSet.changeSetId as string;
    const read = async () =>
      (
        await request(h.url)
          .get(`/api/v1/tenants/${tenantId}/change-sets/${changeSetId}`)
          .query({ minPosition: (await h.services.store.headPosition()).toString() })
          .set(auth(editor))
          .expect(200)
      ).body as { status: string; resolvedBy: string | null; expiresAt: string };
    const production = async () =>
      (
        await request(h.url)
          .get('/api/v1/configs')
          .query({
            tenantId,
            environment: 'Production',
            minPosition: (await h.services.store.headPosition()).toString(),
          })
          .set(auth(editor))
          .expect(200)
      ).body.items as unknown[];
    const expiries = async () =>
      (
        await h.services.pool.query(
          `SELECT count(*)::int AS n FROM es_events WHERE event_type = 'ChangeSetExpired' AND data->>'changeSetId' = $1`,
          [changeSetId],
        )
      ).rows[0].n as number;
    return { tenantId, editor, approver, changeSetId, read, production, expiries };
  }

  it('expires a pending promotion at its deadline, once; it can no longer be approved', async function () {
    const workers = startWorkers(h.services, { idleWaitMs: 50 });
    try {
      const p = await pendingPromotion();
      expect((await p.read()).status).to.equal('Pending');
      const expired = await until('the set to expire', async () => {
        const s = await p.read();
        return s.status === 'Expired' ? s : undefined;
      });
      expect(Date.now()).to.be.at.least(Date.parse(expired.expiresAt));
      expect(expired.resolvedBy).to.equal(null);
      const approve = await request(h.url)
        .post(`/api/v1/tenants/${p.tenantId}/change-sets/${p.changeSetId}/approve`)
        .set(auth(p.approver))
        .send({})
        .expect(409);
      expect(approve.body).to.include({ code: 'invalid_state' });
      expect(await p.production()).to.deep.equal([]);
      // The job (or the reconciler) running again appends nothing more.
      const again = await h.services.changeSetCommands.expire(
        { tenantId: p.tenantId, changeSetId: p.changeSetId },
        { userId: 'system', correlationId: 'csx' },
      );
      expect(again.position).to.equal(undefined);
      expect(await p.expiries()).to.equal(1);
      const listed = await request(h.url)
        .get(`/api/v1/tenants/${p.tenantId}/change-sets?status=Expired`)
        .set(auth(p.editor))
        .expect(200);
      expect(listed.body.items.map((s: { changeSetId: string }) => s.changeSetId)).to.deep.equal([
        p.changeSetId,
      ]);
    } finally {
      await workers.close();
    }
  });

  it('an approved set never expires; a lost expiry job is added again by the reconciler', async function () {
    const queues = new Queues(h.settings);
    let workers = startWorkers(h.services, { idleWaitMs: 50 });
    try {
      const approved = await pendingPromotion();
      await request(h.url)
        .post(`/api/v1/tenants/${approved.tenantId}/change-sets/${approved.changeSetId}/approve`)
        .set(auth(approved.approver))
        .send({})
        .expect(200);
      const lost = await pendingPromotion();
      const jobId = expiryJobId(lost.changeSetId);
      await until('the expiry job to be added', async () =>
        (await queues.expiry.getJob(jobId)) ? true : undefined,
      );
      await workers.close();
      await (await queues.expiry.getJob(jobId))!.remove();
      workers = startWorkers(h.services, { idleWaitMs: 50 });
      await until('the lost set to expire', async () =>
        (await lost.read()).status === 'Expired' ? true : undefined,
      );
      expect((await approved.read()).status).to.equal('Applied');
      expect(await approved.expiries()).to.equal(0);
    } finally {
      await workers.close();
      await queues.close();
    }
  });
});
