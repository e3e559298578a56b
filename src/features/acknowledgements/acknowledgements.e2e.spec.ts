/**
 * The acknowledgement ledger end to end: apps' reports through the API, a canary step held
 * until enough canary instances applied it and then advancing, a canary rolled back by
 * rejections, blame listing who acknowledged a version, the instances of a config and their
 * expiry, and the refusals.
 */
import { expect } from 'chai';
import request from 'supertest';
import { deploymentStream } from '../../core/streams.js';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { onCanary } from '../deployments/deployment.decider.js';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';

const ENV = 'Staging';
const TTL_SECONDS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pollUntil<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      expect.fail(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    }
    await sleep(30);
  }
}

interface Seeded {
  tenantId: string;
  editor: string;
  reader: string;
  configId: string;
}

describe('client acknowledgements (e2e)', function () {
  this.timeout(40_000);
  let h: Harness;
  before(async function () {
    h = await startHarness({
      runProjector: true,
      runWorker: true,
      overrides: { ConfigService__Acknowledgements__InstanceTtl: `PT${TTL_SECONDS}S` },
    });
  });
  after(async function () {
    await h?.close();
  });

  async function seed(key = 'checkout.timeout', value: unknown = 30): Promise<Seeded> {
    const tenantId = uniqueTenant('ack');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'Acks', tier: 'Free' })
      .expect(201);
    const editor = h.token('editor', tenantId, { sub: 'alice' });
    const reader = h.token('reader', tenantId, { sub: 'app' });
    const res = await request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', `Bearer ${editor}`)
      .send({ tenantId, key, type: 'Integer', value, environment: ENV })
      .expect(201);
    return { tenantId, editor, reader, configId: res.body.configId };
  }

  const report = (
    s: Seeded,
    instanceId: string,
    acknowledgements: object[],
    token = s.reader,
    environment = ENV,
  ) =>
    request(h.url)
      .post(`/api/v1/tenants/${s.tenantId}/environments/${environment}/acknowledgements`)
      .set('Authorization', `Bearer ${token}`)
      .send({ instanceId, acknowledgements });

  const deployment = async (s: Seeded, id: string) => {
    const head = (await h.services.store.headPosition()).toString();
    return (
      await request(h.url)
        .get(`/api/v1/deployments/${id}?minPosition=${head}`)
        .set('Authorization', `Bearer ${s.reader}`)
        .expect(200)
    ).body;
  };

  const events = async (id: string): Promise<RecordedEvent[]> =>
    (await h.services.store.readStream(deploymentStream(id))).events;
  const dataOf = (e: RecordedEvent) => e.data as Record<string, unknown>;

  /** Instance ids on the canary (or stable) side of a deployment at `percentage`. */
  const instancesOn = (id: string, percentage: number, canary: boolean, n: number) =>
    Array.from({ length: 500 }, (_, i) => `pod-${i}`)
      .filter((c) => onCanary(c, id, percentage) === canary)
      .slice(0, n);

  it('holds a canary step until enough canary instances applied it, then advances and completes', async function () {
    const s = await seed();
    const started = await request(h.url)
      .post('/api/v1/deployments')
      .set('Authorization', `Bearer ${s.editor}`)
      .send({
        configId: s.configId,
        value: 45,
        strategy: 'Canary',
        steps: [10, 50, 100],
        bakeTimeSeconds: 0.3,
        errorThreshold: 0.5,
        minRequests: 1000,
        minAppliedInstances: 2,
      })
      .expect(201);
    const id = started.body.deploymentId as string;
    expect(started.body).to.include({ minAppliedInstances: 2, canaryPercentage: 10 });

    // The bake ends with nobody having applied it: held, visibly, and it stays held.
    const held = await pollUntil(
      'the step to be held',
      () => deployment(s, id),
      (d) => d.metrics.held !== undefined,
    );
    expect(held).to.include({ status: 'InProgress', canaryPercentage: 10 });
    expect(held.metrics.held).to.deep.equal({ stepIndex: 0, applied: 0, rejected: 0, required: 2 });
    await sleep(600);
    expect((await deployment(s, id)).canaryPercentage).to.equal(10);

    const [first, second] = instancesOn(id, 10, true, 2);
    const [stable] = instancesOn(id, 10, false, 1);
    const canaryAck = { key: 'checkout.timeout', version: 1, status: 'applied' };
    const r1 = await report(s, first!, [{ ...canaryAck, deploymentId: id, side: 'canary' }]).expect(
      200,
    );
    expect(r1.body).to.deep.equal({ recorded: 1, resend: true, heartbeatSeconds: 1 });
    await report(s, stable!, [{ ...canaryAck, deploymentId: id, side: 'stable' }]).expect(200);
    // One of two: still held, now on the new counts.
    const still = await pollUntil(
      'the hold to record one instance',
      () => deployment(s, id),
      (d) => d.metrics.held?.applied === 1,
    );
    expect(still.canaryPercentage).to.equal(10);
    expect(still.acknowledgements).to.deep.equal({
      canary: { applied: 1, rejected: 0 },
      stable: { applied: 1, rejected: 0 },
    });

    // The second: the held step moves on at once (no bake to wait for).
    await report(s, second!, [{ ...canaryAck, deploymentId: id, side: 'canary' }]).expect(200);
    // Keep the instances alive while the next steps bake (their reports are heartbeats).
    const done = await pollUntil(
      'the canary to complete',
      async () => {
        await Promise.all([first!, second!].map((i) => report(s, i, []).expect(200)));
        return deployment(s, id);
      },
      (d) => d.status === 'Completed',
    );
    expect(done.acknowledgements.canary).to.deep.equal({ applied: 2, rejected: 0 });

    const log = await events(id);
    expect(log.map((e) => e.type)).to.deep.equal([
      'DeploymentStarted',
      'DeploymentStepHeld',
      'DeploymentStepHeld',
      'DeploymentStepAdvanced',
      'DeploymentStepAdvanced',
      'DeploymentCompleted',
    ]);
    expect(dataOf(log[2]!)).to.include({ applied: 1, rejected: 0, required: 2 });
    expect(dataOf(log[3]!)).to.deep.include({
      stepIndex: 1,
      acknowledgements: { applied: 2, rejected: 0 },
    });
    // The held step moved on when the second report arrived, not at a later bake.
    expect(log[3]!.metadata.userId).to.equal('app');

    // Blame of the version the canary produced: the instances that ran it on the canary side.
    await h.services.progress.waitFor(await h.services.store.headPosition(), ['blame']);
    const blame = await request(h.url)
      .get(`/api/v1/configs/${s.configId}/blame`)
      .set('Authorization', `Bearer ${s.reader}`)
      .expect(200);
    expect(blame.body.blame.version).to.equal(2);
    expect(blame.body.blame.acknowledgements).to.include({ applied: 2, rejected: 0 });
    expect(
      blame.body.blame.acknowledgements.instances.map((i: { instanceId: string }) => i.instanceId),
    ).to.have.members([first, second]);
    const steps = blame.body.blame.deployment.steps.map((x: { event: string }) => x.event);
    expect(steps).to.include('DeploymentStepHeld');
  });

  it('rolls a canary back when its canary instances reject it, saying why', async function () {
    const s = await seed();
    const started = await request(h.url)
      .post('/api/v1/deployments')
      .set('Authorization', `Bearer ${s.editor}`)
      .send({
        configId: s.configId,
        value: 99,
        strategy: 'Canary',
        steps: [10, 100],
        bakeTimeSeconds: 3600,
        errorThreshold: 0.2,
      })
      .expect(201);
    const id = started.body.deploymentId as string;
    const [a, b] = instancesOn(id, 10, true, 2);
    const ack = { key: 'checkout.timeout', version: 1, deploymentId: id, side: 'canary' };
    await report(s, a!, [{ ...ack, status: 'applied' }]).expect(200);
    expect((await deployment(s, id)).status).to.equal('InProgress');
    // Rejections on the stable side are the old value's business: no rollback.
    const [stable] = instancesOn(id, 10, false, 1);
    await report(s, stable!, [
      { ...ack, side: 'stable', status: 'rejected', reason: 'meh' },
    ]).expect(200);
    expect((await deployment(s, id)).status).to.equal('InProgress');

    await report(s, b!, [
      { ...ack, status: 'rejected', reason: 'timeout must be below 60' },
    ]).expect(200);
    const reason =
      'Canary rejection rate 50.00% exceeded the 20.00% threshold at 10% ' +
      '(1/2 instances rejected; one said: timeout must be below 60)';
    const row = await deployment(s, id);
    expect(row).to.include({
      status: 'RolledBack',
      wasRolledBack: true,
      rollbackReason: reason,
      errorMessage: reason,
    });
    expect(row.metrics.automatic).to.equal(true);
    expect(row.acknowledgements).to.deep.equal({
      canary: { applied: 1, rejected: 1 },
      stable: { applied: 0, rejected: 1 },
    });
    const last = (await events(id)).pop()!;
    expect(last.type).to.equal('DeploymentRolledBack');
    expect(dataOf(last)).to.include({ reason, automatic: true, errorRate: null });
    expect(dataOf(last).rejectionRate).to.equal(0.5);
    // The config is free again, at its old version.
    const head = (await h.services.store.headPosition()).toString();
    const config = await request(h.url)
      .get(`/api/v1/configs/${s.configId}?minPosition=${head}`)
      .set('Authorization', `Bearer ${s.reader}`)
      .expect(200);
    expect(config.body).to.include({ version: 1, value: '30' });
    // Late reports of it change nothing and are still answered.
    await report(s, a!, [{ ...ack, status: 'rejected', reason: 'late' }]).expect(200);
    expect((await events(id)).filter((e) => e.type === 'DeploymentRolledBack')).to.have.length(1);
  });

  it('blames a version with the instances that applied or rejected it; lists live instances', async function () {
    const s = await seed('retry.limit', 3);
    await request(h.url)
      .put(`/api/v1/configs/${s.configId}`)
      .set('Authorization', `Bearer ${s.editor}`)
      .send({ value: 5, expectedVersion: 1 })
      .expect(200);
    const key = 'retry.limit';
    await report(s, 'old-pod', [{ key, version: 1, status: 'applied' }]).expect(200);
    await report(s, 'pod-a', [{ key, version: 2, status: 'applied' }]).expect(200);
    await report(s, 'pod-b', [
      { key, version: 2, status: 'rejected', reason: 'limit above 4 is unsafe' },
    ]).expect(200);
    // A second report of the same instance is not a new one.
    const again = await report(s, 'pod-a', []).expect(200);
    expect(again.body.resend).to.equal(false);

    await h.services.progress.waitFor(await h.services.store.headPosition(), ['blame']);
    const blame = await request(h.url)
      .get(`/api/v1/tenants/${s.tenantId}/environments/${ENV}/blame?key=${key}`)
      .set('Authorization', `Bearer ${s.reader}`)
      .expect(200);
    const acks = blame.body.blame.acknowledgements;
    expect(acks).to.include({ applied: 1, rejected: 1 });
    const byId = Object.fromEntries(
      acks.instances.map((i: { instanceId: string }) => [i.instanceId, i]),
    );
    expect(Object.keys(byId)).to.have.members(['pod-a', 'pod-b']);
    expect(byId['pod-a']).to.include({ status: 'applied', reason: null, side: null, live: true });
    expect(byId['pod-b']).to.include({ status: 'rejected', reason: 'limit above 4 is unsafe' });
    expect(byId['pod-b'].acknowledgedAt).to.be.a('string');
    const v1 = await request(h.url)
      .get(`/api/v1/configs/${s.configId}/blame?version=1`)
      .set('Authorization', `Bearer ${s.reader}`)
      .expect(200);
    expect(
      v1.body.blame.acknowledgements.instances.map((i: { instanceId: string }) => i.instanceId),
    ).to.deep.equal(['old-pod']);

    const instances = await request(h.url)
      .get(`/api/v1/configs/${s.configId}/instances`)
      .set('Authorization', `Bearer ${s.reader}`)
      .expect(200);
    expect(instances.body).to.include({ key, environment: ENV, instanceTtlSeconds: TTL_SECONDS });
    expect(
      instances.body.instances.map((i: { instanceId: string; version: number; status: string }) => [
        i.instanceId,
        i.version,
        i.status,
      ]),
    ).to.deep.equal([
      ['old-pod', 1, 'applied'],
      ['pod-a', 2, 'applied'],
      ['pod-b', 2, 'rejected'],
    ]);

    // Instances that stop reporting expire: only the one that keeps reporting is listed.
    const deadline = Date.now() + (TTL_SECONDS + 1) * 1000;
    while (Date.now() < deadline) {
      await report(s, 'pod-a', []).expect(200);
      await sleep(500);
    }
    const later = await request(h.url)
      .get(`/api/v1/configs/${s.configId}/instances`)
      .set('Authorization', `Bearer ${s.reader}`)
      .expect(200);
    expect(later.body.instances.map((i: { instanceId: string }) => i.instanceId)).to.deep.equal([
      'pod-a',
    ]);
    // ...and an expired one is asked to report everything again when it comes back.
    expect((await report(s, 'pod-b', []).expect(200)).body.resend).to.equal(true);
    // Blame still shows the expired instance's report, as no longer live.
    const after = await request(h.url)
      .get(`/api/v1/configs/${s.configId}/blame?version=1`)
      .set('Authorization', `Bearer ${s.reader}`)
      .expect(200);
    expect(after.body.blame.acknowledgements.instances[0]).to.include({
      instanceId: 'old-pod',
      live: false,
    });
  });

  it('takes API keys with the report-metrics scope and refuses bad reports naming the field', async function () {
    const s = await seed('feature.x', 1);
    const admin = h.token('tenant-admin', s.tenantId);
    const key = async (scopes: string[]) =>
      (
        await request(h.url)
          .post(`/api/v1/tenants/${s.tenantId}/api-keys`)
          .set('Authorization', `Bearer ${admin}`)
          .send({ name: `k-${scopes.join('-')}`, scopes })
          .expect(201)
      ).body.secret as string;
    const ack = [{ key: 'feature.x', version: 1, status: 'applied' }];
    await report(s, 'k-pod', ack, await key(['read', 'report-metrics'])).expect(200);
    await report(s, 'k-pod', ack, await key(['read'])).expect(403);
    // Another tenant's token may not report here (its tenant is hidden: 404).
    const other = h.token('reader', uniqueTenant('other'));
    await report(s, 'k-pod', ack, other).expect(404);
    // The environment: any case, the declared spelling; an undeclared one is 404.
    await report(s, 'k-pod', ack, s.reader, 'STAGING').expect(200);
    const unknown = await report(s, 'k-pod', ack, s.reader, 'Nowhere').expect(404);
    expect(unknown.body.field).to.equal('environment');

    const bad = async (body: object, field: string) => {
      const res = await request(h.url)
        .post(`/api/v1/tenants/${s.tenantId}/environments/${ENV}/acknowledgements`)
        .set('Authorization', `Bearer ${s.reader}`)
        .send(body)
        .expect(400);
      expect(JSON.stringify(res.body), field).to.contain(field);
    };
    await bad({ acknowledgements: ack }, 'instanceId');
    await bad({ instanceId: ' ', acknowledgements: ack }, 'instanceId');
    await bad({ instanceId: 'p', acknowledgements: [{ ...ack[0], status: 'maybe' }] }, 'status');
    await bad(
      { instanceId: 'p', acknowledgements: [{ ...ack[0], deploymentId: 'dep_1' }] },
      'side',
    );
    await bad(
      { instanceId: 'p', acknowledgements: [{ ...ack[0], reason: 'fine really' }] },
      'reason',
    );
    await bad({ instanceId: 'p', acknowledgements: [{ ...ack[0], extra: 1 }] }, 'extra');
    // Nothing of the refused reports was recorded.
    const { rows } = await h.services.pool.query(
      `SELECT instance_id FROM client_instances WHERE tenant_id = $1 ORDER BY 1`,
      [s.tenantId],
    );
    expect(rows.map((r) => r.instance_id)).to.deep.equal(['k-pod']);
  });
});
