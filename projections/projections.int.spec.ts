import { expect } from 'chai';
import { snapshotReadTables } from '../test/support/snapshot.js';
import pg from 'pg';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness } from '../test/support/harness.js';
import { PostgresProjectionRunner, lockKey, readCheckpoint } from './runner.js';
import { auditLogProjection } from './audit-log.js';
import { rebuildProjections } from './rebuild.js';
import type { PostgresProjection } from './projection.js';
import { testDbConfig } from '../test/support/test-env.js';

const snapshot = (pool: pg.Pool) => snapshotReadTables(pool);

/** A varied history: tenants, creates, updates, rollbacks, deletes, restores, a suspended tenant. */
async function history(h: Harness) {
  const auth = (t: string) => ({ Authorization: `Bearer ${t}` });
  for (let n = 0; n < 3; n++) {
    const tenantId = uniqueTenant('rb');
    await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({ tenantId, name: `T${n}`, tier: 'Professional', metadata: { n } })
      .expect(201);
    const editor = h.token('editor', tenantId);
    for (let i = 0; i < 6; i++) {
      const { body } = await request(h.url)
        .post('/api/v1/configs')
        .set(auth(editor))
        .send({
          tenantId,
          key: `k${i}`,
          value: i,
          type: 'Integer',
          environment: i % 2 ? 'Staging' : 'Development',
          tags: ['a', `t${i}`],
          isSensitive: i === 5,
        })
        .expect(201);
      await request(h.url)
        .put(`/api/v1/configs/${body.configId}`)
        .set(auth(editor))
        .send({ value: i * 10, expectedVersion: 1, description: 'd' })
        .expect(200);
      if (i % 3 === 0)
        await request(h.url)
          .post(`/api/v1/configs/${body.configId}/rollback`)
          .set(auth(editor))
          .send({ version: 1 })
          .expect(200);
      if (i === 4) {
        await request(h.url)
          .delete(`/api/v1/configs/${body.configId}`)
          .set(auth(editor))
          .expect(200);
        await request(h.url)
          .post(`/api/v1/configs/${body.configId}/restore`)
          .set(auth(editor))
          .expect(200);
      }
    }
    await request(h.url)
      .patch(`/api/v1/tenants/${tenantId}`)
      .set(auth(h.admin))
      .send({ status: n === 2 ? 'Suspended' : 'Active', contactEmail: 'ops@example.com' })
      .expect(200);
  }
}

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
