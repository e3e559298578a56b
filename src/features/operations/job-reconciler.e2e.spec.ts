import { expect } from 'chai';
import request from 'supertest';
import { Queues } from '../../core/jobs/queues.js';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A tenant, a Staging config and a canary on it (2 s per step). */
async function runningCanary(h: Harness) {
  const tenantId = uniqueTenant('heal');
  await request(h.url)
    .post('/api/v1/tenants')
    .set('Authorization', `Bearer ${h.admin}`)
    .send({ tenantId, name: 'Heal' })
    .expect(201);
  const editor = h.token('editor', tenantId);
  const { body: config } = await request(h.url)
    .post('/api/v1/configs')
    .set('Authorization', `Bearer ${editor}`)
    .send({ tenantId, key: 'k', value: 'old', environment: 'Staging' })
    .expect(201);
  const { body: deployment } = await request(h.url)
    .post('/api/v1/deployments')
    .set('Authorization', `Bearer ${editor}`)
    .send({
      configId: config.configId,
      value: 'new',
      strategy: 'Canary',
      steps: [10, 50, 100],
      bakeTimeSeconds: 2,
    })
    .expect(201);
  const read = async () =>
    (
      await request(h.url)
        .get(`/api/v1/deployments/${deployment.deploymentId}`)
        .set('Authorization', `Bearer ${editor}`)
        .expect(200)
    ).body as { status: string; canaryPercentage: number };
  return { deploymentId: deployment.deploymentId as string, read };
}

describe('job dashboard and reconciler (e2e)', function () {
  this.timeout(90_000);
  let h: Harness;
  let queues: Queues;

  before(async function () {
    h = await startHarness({
      runProjector: true,
      runWorker: true,
      overrides: { ConfigService__JobReconcileInterval: 'PT1S' },
    });
    queues = new Queues(h.settings);
  });
  after(async function () {
    await queues?.close();
    await h?.close();
  });

  it('the dashboard is read-only: its actions are refused, reading works', async function () {
    const cookie = `cfgsvc_admin=${encodeURIComponent(h.admin)}`;
    const clean = await request(h.url)
      .put('/admin/queues/api/queues/deployment-steps/clean/delayed')
      .set('Cookie', cookie)
      .expect(405);
    expect(clean.body.detail).to.equal(
      'The job dashboard is read-only; set ConfigService__QueueDashboardActions=true to allow actions',
    );
    const list = await request(h.url)
      .get('/admin/queues/api/queues')
      .set('Cookie', cookie)
      .expect(200);
    const names = (list.body.queues as { name: string; readOnlyMode: boolean }[]).map((q) => [
      q.name,
      q.readOnlyMode,
    ]);
    expect(names).to.deep.include(['deployment-steps', true]);
    expect(names).to.deep.include(['job-reconciler', true]);
  });

  it('a browser without a token is told how to sign in', async function () {
    const res = await request(h.url)
      .get('/admin/queues')
      .set('Accept', 'text/html,application/xhtml+xml')
      .expect(401)
      .expect('Content-Type', /text\/html/);
    expect(res.text).to.include('/admin/queues?access_token=&lt;token&gt;');
    expect(res.text).to.include('npm run -s token -- --sub ops --role platform-admin');
    // API clients still get problem+json.
    await request(h.url)
      .get('/admin/queues/api/queues')
      .expect(401)
      .expect('Content-Type', /application\/problem\+json/);
  });

  it("a running canary's step job deleted (as 'Clean all delayed' does) comes back and the canary advances", async function () {
    const canary = await runningCanary(h);
    // The scheduler has added the step job (delayed by the bake time).
    let delayed = await queues.steps.getDelayed();
    for (
      let i = 0;
      i < 100 && !delayed.some((j) => j.data.deploymentId === canary.deploymentId);
      i++
    ) {
      await sleep(50);
      delayed = await queues.steps.getDelayed();
    }
    expect(delayed.map((j) => j.data.deploymentId)).to.include(canary.deploymentId);
    const removed = await queues.steps.clean(0, 1000, 'delayed');
    expect(removed.length).to.be.greaterThan(0);
    expect((await queues.steps.getDelayed()).map((j) => j.data.deploymentId)).to.not.include(
      canary.deploymentId,
    );
    expect((await canary.read()).canaryPercentage).to.equal(10);

    // Within a few reconciler runs the job is back and the canary moves on by itself.
    let state = await canary.read();
    const deadline = Date.now() + 60_000;
    while (state.canaryPercentage === 10 && Date.now() < deadline) {
      await sleep(250);
      state = await canary.read();
    }
    expect(state.canaryPercentage).to.equal(50);
    while (state.status === 'InProgress' && Date.now() < deadline) {
      await sleep(250);
      state = await canary.read();
    }
    expect(state.status).to.equal('Completed');
  });
});

describe('job dashboard with actions allowed (e2e)', function () {
  it('ConfigService__QueueDashboardActions=true lets a platform admin act', async function () {
    const h = await startHarness({ overrides: { ConfigService__QueueDashboardActions: 'true' } });
    try {
      await request(h.url)
        .put('/admin/queues/api/queues/deployment-steps/clean/delayed')
        .set('Cookie', `cfgsvc_admin=${encodeURIComponent(h.admin)}`)
        .expect(200);
    } finally {
      await h.close();
    }
  });
});
