import { expect } from 'chai';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness, auth } from '../../../test/support/harness.js';
import { rebuildProjections } from '../../core/projections/rebuild.js';

const TABLES = [
  'blame_versions',
  'blame_approvals',
  'blame_approval_decisions',
  'blame_deployments',
  'blame_deployment_steps',
  'blame_step_metrics',
];

async function snapshotTables(pool: Harness['services']['pool']) {
  const out: Record<string, unknown[]> = {};
  for (const t of TABLES) out[t] = (await pool.query(`SELECT * FROM ${t} ORDER BY 1, 2`)).rows;
  return out;
}

describe('blame: value lineage (e2e)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness({ runProjector: true });
  });
  after(async function () {
    await h?.close();
  });

  const head = async () => (await h.services.store.headPosition()).toString();

  async function scenario() {
    const tenantId = uniqueTenant('blame');
    await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({ tenantId, name: 'T', tier: 'Free' })
      .expect(201);
    const t = {
      tenantId,
      tenantAdmin: h.token('tenant-admin', tenantId, { sub: 'tadmin' }),
      editor: h.token('editor', tenantId, { sub: 'alice' }),
      editor2: h.token('editor', tenantId, { sub: 'erin' }),
      approver: h.token('approver', tenantId, { sub: 'bob' }),
      approver2: h.token('approver', tenantId, { sub: 'carol' }),
      reader: h.token('reader', tenantId, { sub: 'rita' }),
    };
    const policy = (n: number) =>
      request(h.url)
        .put(`/api/v1/tenants/${tenantId}/approval-policies/Production`)
        .set(auth(t.tenantAdmin))
        .send({ requiredApprovals: n })
        .expect(200);
    await policy(0);
    const created = await request(h.url)
      .post('/api/v1/configs')
      .set(auth(t.editor))
      .set('X-Forwarded-For', '203.0.113.7')
      .send({ tenantId, key: 'checkout.limit', value: 'v1', environment: 'Production' })
      .expect(201);
    const configId = created.body.configId as string;
    await policy(2);

    const canary = {
      strategy: 'Canary',
      steps: [10, 50, 100],
      bakeTimeSeconds: 3600,
      errorThreshold: 0.1,
      minRequests: 10,
    };
    const propose = async (value: string) => {
      const cr = await request(h.url)
        .post('/api/v1/approvals')
        .set(auth(t.editor))
        .send({ configId, value, description: `to ${value}`, rollout: canary })
        .expect(201);
      const id = cr.body.approvalId as string;
      await request(h.url)
        .post(`/api/v1/approvals/${id}/approve`)
        .set(auth(t.approver))
        .send({ comments: `bob ok ${value}` })
        .expect(200);
      const last = await request(h.url)
        .post(`/api/v1/approvals/${id}/approve`)
        .set(auth(t.approver2))
        .send({ comments: `carol ok ${value}` })
        .expect(200);
      return { approvalId: id, deploymentId: last.body.deploymentId as string };
    };
    // First attempt: two approvals, a canary, errors on the canary side → automatic rollback.
    const first = await propose('v2');
    const bad = await request(h.url)
      .post(`/api/v1/deployments/${first.deploymentId}/metrics`)
      .set(auth(t.reader))
      .send({ requests: 20, errors: 5 })
      .expect(200);
    expect(bad.body.rolledBack).to.equal(true);
    // Second attempt: two approvals, healthy canary, promoted to 100 %.
    const second = await propose('v2-fixed');
    await request(h.url)
      .post(`/api/v1/deployments/${second.deploymentId}/metrics`)
      .set(auth(t.reader))
      .send({ requests: 50, errors: 0 })
      .expect(200);
    await request(h.url)
      .post(`/api/v1/deployments/${second.deploymentId}/promote`)
      .set(auth(t.editor2))
      .expect(200);
    return { t, configId, first, second };
  }

  it('answers who approved what Production serves, through which canary, and the rollback before it', async function () {
    const { t, configId, first, second } = await scenario();
    const res = await request(h.url)
      .get(`/api/v1/configs/${configId}/blame?minPosition=${await head()}`)
      .set(auth(t.reader))
      .expect(200);
    expect(res.body).to.include({
      configId,
      tenantId: t.tenantId,
      environment: 'Production',
      key: 'checkout.limit',
      currentVersion: 2,
    });
    const b = res.body.blame;
    expect(b).to.include({ version: 2, changeType: 'Updated', value: 'v2-fixed' });
    expect(b.change.by).to.equal('erin'); // the promotion made the version
    const d = b.deployment;
    expect(d).to.include({
      deploymentId: second.deploymentId,
      strategy: 'Canary',
      status: 'Completed',
      baseVersion: 1,
      startedBy: 'carol', // the final approval started it
    });
    expect(d.plan).to.deep.equal({
      steps: [10, 50, 100],
      bakeTimeSeconds: 3600,
      errorThreshold: 0.1,
      minRequests: 10,
    });
    expect(
      d.steps.map((s: { event: string; percentage: number }) => [s.event, s.percentage]),
    ).to.deep.equal([
      ['DeploymentStarted', 10],
      ['DeploymentStepAdvanced', 100],
      ['DeploymentCompleted', 100],
    ]);
    expect(d.metrics).to.deep.equal([
      { stepIndex: 0, side: 'canary', requests: 50, errors: 0, errorRate: 0 },
    ]);
    const cr = d.changeRequest;
    expect(cr).to.include({
      approvalId: second.approvalId,
      status: 'Approved',
      requiredApprovals: 2,
      proposedValue: 'v2-fixed',
      description: 'to v2-fixed',
    });
    expect(cr.requested.by).to.equal('alice');
    expect(cr.proposedValueSha256).to.match(/^[0-9a-f]{64}$/);
    expect(
      cr.decisions.map((x: { decision: string; by: string; comments: string | null }) => [
        x.decision,
        x.by,
        x.comments,
      ]),
    ).to.deep.equal([
      ['Granted', 'bob', 'bob ok v2-fixed'],
      ['Granted', 'carol', 'carol ok v2-fixed'],
      ['Approved', 'carol', null],
    ]);
    expect(b.laterAttempts).to.deep.equal([]);

    // Version 1: typed in directly, and the canary from it that was rolled back.
    const v1 = await request(h.url)
      .get(`/api/v1/configs/${configId}/blame?version=1`)
      .set(auth(t.reader))
      .expect(200);
    expect(v1.body.blame).to.include({ version: 1, changeType: 'Created', value: 'v1' });
    expect(v1.body.blame.change.by).to.equal('alice');
    expect(v1.body.blame.change.ipAddress).to.be.a('string');
    expect(v1.body.blame.deployment).to.equal(null);
    const [attempt] = v1.body.blame.laterAttempts;
    expect(v1.body.blame.laterAttempts).to.have.length(1);
    expect(attempt).to.include({
      deploymentId: first.deploymentId,
      status: 'RolledBack',
      automaticRollback: true,
    });
    expect(attempt.rollbackReason).to.match(/^Canary error rate 25\.00% exceeded/);
    expect(attempt.metrics).to.deep.equal([
      { stepIndex: 0, side: 'canary', requests: 20, errors: 5, errorRate: 0.25 },
    ]);
    expect(attempt.changeRequest.approvalId).to.equal(first.approvalId);
    expect(attempt.steps.at(-1).event).to.equal('DeploymentRolledBack');

    // The same, by key and environment.
    const byKey = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/environments/Production/blame?key=checkout.limit`)
      .set(auth(t.reader))
      .expect(200);
    expect(byKey.body).to.deep.equal(res.body);
  });

  it('answers 404 naming the field for an unknown version or key, and 404 to other tenants', async function () {
    const { t, configId } = await scenario();
    await h.services.progress.waitFor(await h.services.store.headPosition(), ['blame']);
    const noVersion = await request(h.url)
      .get(`/api/v1/configs/${configId}/blame?version=9`)
      .set(auth(t.reader))
      .expect(404);
    expect(noVersion.body.field).to.equal('version');
    const noKey = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/environments/Production/blame?key=nope`)
      .set(auth(t.reader))
      .expect(404);
    expect(noKey.body.field).to.equal('key');
    const bad = await request(h.url)
      .get(`/api/v1/configs/${configId}/blame?version=zero`)
      .set(auth(t.reader))
      .expect(400);
    expect(JSON.stringify(bad.body)).to.contain('version');
    const other = h.token('reader', uniqueTenant('other'), { sub: 'eve' });
    await request(h.url).get(`/api/v1/configs/${configId}/blame`).set(auth(other)).expect(404);
  });

  it('rebuilds the blame tables row for row', async function () {
    await scenario();
    await h.services.progress.waitFor(await h.services.store.headPosition(), ['blame']);
    const before = await snapshotTables(h.services.pool);
    await rebuildProjections(h.services, h.projector, ['blame']);
    expect(await snapshotTables(h.services.pool)).to.deep.equal(before);
  });
});
