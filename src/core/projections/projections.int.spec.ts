import { expect } from 'chai';
import { history } from '../../../test/support/history.js';
import { READ_TABLES, snapshotReadTables } from '../../../test/support/snapshot.js';
import pg from 'pg';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { PostgresProjectionRunner, lockKey, readCheckpoint } from './runner.js';
import { auditLogProjection } from '../../features/audit/audit.projection.js';
import { rebuildProjections } from './rebuild.js';
import type { PostgresProjection } from './projection.js';
import { testDbConfig } from '../../../test/support/test-env.js';

const snapshot = (pool: pg.Pool) => snapshotReadTables(pool);
/** The read tables and the blame projection's: what the one-batch tests below compare. */
const withBlame = (pool: pg.Pool) =>
  snapshotReadTables(pool, {
    ...READ_TABLES,
    blame_versions: 'config_id, version',
    blame_approvals: 'approval_id',
    blame_approval_decisions: 'approval_id, position',
    blame_deployments: 'deployment_id',
    blame_deployment_steps: 'deployment_id, position',
    blame_step_metrics: 'deployment_id, step_index, side',
  });

describe('projections (integration)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness();
  });
  after(async function () {
    await h?.close();
  });

  it('rebuilt from position zero, reproduces the live tables row for row', async function () {
    this.timeout(60_000);
    await history(h);
    await h.project();
    const live = await snapshot(h.services.pool);
    expect(live.configurations!.length).to.be.greaterThan(10);
    expect(live.audit_logs!.length).to.be.greaterThan(50);
    const logs: string[] = [];
    await rebuildProjections(h.services, h.projector, [], (m) => logs.push(m));
    expect(logs.some((l) => l.includes('read-model: rebuilt'))).to.equal(true);
    const rebuilt = await snapshot(h.services.pool);
    expect(rebuilt).to.deep.equal(live);
  });

  it('writes a batch of updates to one configuration as the same row as one batch per update', async function () {
    this.timeout(60_000);
    const tenantId = uniqueTenant('merge');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'Merge', tier: 'Enterprise' })
      .expect(201);
    const editor = `Bearer ${h.token('editor', tenantId, { sub: 'alice' })}`;
    const { body } = await request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', editor)
      .send({
        tenantId,
        environment: 'Staging',
        key: 'k',
        type: 'String',
        value: 'v1',
        description: 'first',
        tags: ['a'],
      })
      .expect(201);
    const updates = [
      { value: 'v2', tags: ['x', "it's", 'back\\slash', '{"json"}'] },
      { value: 'v3', isSensitive: true, description: 'second' },
      { value: 'v4', isSensitive: false },
      { value: 'v5', description: null },
      { value: 'v6', tags: [] },
      { value: 'v7' },
    ];
    for (const [i, u] of updates.entries()) {
      await request(h.url)
        .put(`/api/v1/configs/${body.configId}`)
        .set('Authorization', editor)
        .set('If-Match', `"${i + 1}"`)
        .send(u)
        .expect(200);
      await h.project(); // one batch per update: each written on its own
    }
    const live = await withBlame(h.services.pool);
    const row = (live.configurations as Record<string, unknown>[]).find(
      (r) => r.config_id === body.configId,
    )!;
    expect(row).to.deep.include({ value: 'v7', version: 7, description: null, tags: [] });
    expect(row).to.deep.include({ is_sensitive: false, ever_sensitive: true });
    // The rebuild applies them in one batch: merged into one row write.
    await rebuildProjections(h.services, h.projector, ['read-model', 'blame'], () => undefined);
    expect(await withBlame(h.services.pool)).to.deep.equal(live);
  });

  it("writes a deployment's metrics in one batch as in one batch per event", async function () {
    this.timeout(60_000);
    const tenantId = uniqueTenant('canary');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'Canary', tier: 'Enterprise' })
      .expect(201);
    const auth = `Bearer ${h.token('editor', tenantId, { sub: 'alice' })}`;
    const send = async (method: 'post' | 'put', path: string, body: object, status = 200) => {
      const res = await request(h.url)[method](path).set('Authorization', auth).send(body);
      expect(res.status, JSON.stringify(res.body)).to.equal(status);
      await h.project(); // one batch per event: each written on its own
      return res.body as { configId: string; deploymentId: string };
    };
    const { configId } = await send(
      'post',
      '/api/v1/configs',
      { tenantId, environment: 'Staging', key: 'k', type: 'String', value: 'v1' },
      201,
    );
    const canary = { strategy: 'Canary', steps: [10, 50, 100], bakeTimeSeconds: 3600 };
    const first = await send(
      'post',
      '/api/v1/deployments',
      { configId, value: 'v2', ...canary },
      201,
    );
    const metrics = `/api/v1/deployments/${first.deploymentId}/metrics`;
    await send('post', metrics, { requests: 100, errors: 1 });
    await send('post', metrics, { requests: 50, errors: 0, side: 'stable' });
    await send('post', `/api/v1/deployments/${first.deploymentId}/pause`, {});
    await send('post', `/api/v1/deployments/${first.deploymentId}/resume`, {});
    await send('post', metrics, { requests: 30, errors: 2 });
    await send('post', `/api/v1/deployments/${first.deploymentId}/promote`, {});
    const second = await send(
      'post',
      '/api/v1/deployments',
      { configId, value: 'v3', ...canary },
      201,
    );
    await send('post', `/api/v1/deployments/${second.deploymentId}/metrics`, {
      requests: 9,
      errors: 9,
    });
    await send('post', `/api/v1/deployments/${second.deploymentId}/rollback`, { reason: 'errors' });
    const live = await withBlame(h.services.pool);
    const rows = (live.deployments as Record<string, unknown>[]).filter(
      (r) => r.config_id === configId,
    );
    expect(rows.map((r) => r.status)).to.have.members(['Completed', 'RolledBack']);
    await rebuildProjections(h.services, h.projector, ['read-model', 'blame'], () => undefined);
    expect(await withBlame(h.services.pool)).to.deep.equal(live);
  });

  it('writes change requests made and resolved in one batch as in one batch per event', async function () {
    this.timeout(60_000);
    const tenantId = uniqueTenant('review');
    const as = (role: 'editor' | 'approver' | 'tenant-admin', sub: string) =>
      `Bearer ${h.token(role, tenantId, { sub })}`;
    const send = async (auth: string, path: string, body: object, status: number) => {
      const res = await request(h.url).post(path).set('Authorization', auth).send(body);
      expect(res.status, JSON.stringify(res.body)).to.equal(status);
      await h.project(); // one batch per event: each written on its own
      return res.body as { approvalId: string };
    };
    await send(
      `Bearer ${h.admin}`,
      '/api/v1/tenants',
      { tenantId, name: 'R', tier: 'Enterprise' },
      201,
    );
    await request(h.url)
      .put(`/api/v1/tenants/${tenantId}/approval-policies/Production`)
      .set('Authorization', as('tenant-admin', 'tadmin'))
      .send({ requiredApprovals: 2 })
      .expect(200);
    const editor = as('editor', 'alice');
    const created = await send(
      editor,
      '/api/v1/approvals',
      { tenantId, key: 'k', environment: 'Production', type: 'String', value: 'v1' },
      201,
    );
    const review = (id: string, action: string, sub: string, body: object = {}) =>
      send(as('approver', sub), `/api/v1/approvals/${id}/${action}`, body, 200);
    await review(created.approvalId, 'approve', 'bob', { comments: "it's fine" });
    await review(created.approvalId, 'approve', 'carol'); // no comment: null in approvers
    const { body: config } = await request(h.url)
      .get(`/api/v1/configs?tenantId=${tenantId}&environment=Production&key=k`)
      .set('Authorization', editor)
      .expect(200);
    const configId = (config as { items: { configId: string }[] }).items[0]!.configId;
    const rejected = await send(editor, '/api/v1/approvals', { configId, value: 'v2' }, 201);
    await review(rejected.approvalId, 'approve', 'bob');
    await review(rejected.approvalId, 'reject', 'carol', { comments: 'not now' });
    const cancelled = await send(editor, '/api/v1/approvals', { configId, value: 'v3' }, 201);
    await send(
      editor,
      `/api/v1/approvals/${cancelled.approvalId}/cancel`,
      { comments: 'oops' },
      200,
    );
    const live = await withBlame(h.services.pool);
    const rows = (live.approval_requests as Record<string, unknown>[]).filter(
      (r) => r.tenant_id === tenantId,
    );
    expect(rows.map((r) => r.status)).to.have.members(['Approved', 'Rejected', 'Cancelled']);
    await rebuildProjections(h.services, h.projector, ['read-model', 'blame'], () => undefined);
    expect(await withBlame(h.services.pool)).to.deep.equal(live);
  });

  it('never applies an event twice, even with two runners racing on one projection', async function () {
    await history(h);
    const a = new PostgresProjectionRunner(h.services.pool, h.services.store, auditLogProjection, {
      batchSize: 7,
    });
    const b = new PostgresProjectionRunner(h.services.pool, h.services.store, auditLogProjection, {
      batchSize: 5,
    });
    await Promise.all([a.catchUpOnce(), b.catchUpOnce(), a.catchUpOnce()]);
    const { rows } = await h.services.pool.query<{ events: number; logs: number }>(
      'SELECT (SELECT count(*)::int FROM es_events) AS events, (SELECT count(*)::int FROM audit_logs) AS logs',
    );
    expect(rows[0]!.logs).to.equal(rows[0]!.events);
  });

  it('rolls a failed batch back whole: no partial rows, checkpoint unchanged, resumes from it', async function () {
    let failAt = 3;
    const seen: string[] = [];
    const flaky: PostgresProjection = {
      name: `flaky-${Date.now()}`,
      streamPrefixes: [],
      tables: ['flaky_rows'],
      async apply(client, events) {
        for (const e of events) {
          if (seen.length === failAt) {
            failAt = -1;
            throw new Error('crash in the middle of a batch');
          }
          seen.push(e.id);
          await client.query('INSERT INTO flaky_rows (id) VALUES ($1)', [e.id]);
        }
      },
    };
    await h.services.pool.query('CREATE TABLE IF NOT EXISTS flaky_rows (id uuid PRIMARY KEY)');
    const runner = new PostgresProjectionRunner(h.services.pool, h.services.store, flaky, {
      batchSize: 10,
    });
    let error: unknown;
    try {
      await runner.catchUpOnce();
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).to.equal('crash in the middle of a batch');
    const { rows: none } = await h.services.pool.query('SELECT count(*)::int AS n FROM flaky_rows');
    expect(none[0].n).to.equal(0);
    expect(await readCheckpoint(h.services.pool, flaky.name)).to.equal(0n);
    seen.length = 0;
    await runner.catchUpOnce();
    const { rows } = await h.services.pool.query('SELECT count(*)::int AS n FROM flaky_rows');
    const { rows: events } = await h.services.pool.query(
      'SELECT count(*)::int AS n FROM es_events',
    );
    expect(rows[0].n).to.equal(events[0].n);
  });

  it('runs one instance of a projection at a time; the other stands by', async function () {
    const projection: PostgresProjection = {
      ...auditLogProjection,
      name: `single-${Date.now()}`,
      apply: async () => undefined,
    };
    const first = new PostgresProjectionRunner(h.services.pool, h.services.store, projection, {
      idleWaitMs: 50,
    });
    const second = new PostgresProjectionRunner(h.services.pool, h.services.store, projection, {
      idleWaitMs: 50,
    });
    const c1 = new AbortController();
    const c2 = new AbortController();
    const r1 = first.run(c1.signal);
    await new Promise((r) => setTimeout(r, 200));
    const r2 = second.run(c2.signal);
    await new Promise((r) => setTimeout(r, 200));
    const client = new pg.Client(testDbConfig);
    await client.connect();
    const holders = async () =>
      (
        await client.query(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted
              AND ((classid::bigint << 32) | objid::bigint) = $1::bigint`,
          [lockKey(projection.name)],
        )
      ).rows[0].n as number;
    try {
      expect(await holders()).to.equal(1);
      // The first stops: the second takes over within its standby interval.
      c1.abort();
      await r1;
      const deadline = Date.now() + 5000;
      while ((await holders()) !== 1 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(await holders()).to.equal(1);
      const { rows } = await h.services.pool.query(
        'SELECT position FROM projection_checkpoints WHERE name = $1',
        [projection.name],
      );
      expect(rows[0].position).to.equal(await h.services.store.headPosition());
    } finally {
      c2.abort();
      await r2;
      await client.end();
    }
  });
});
