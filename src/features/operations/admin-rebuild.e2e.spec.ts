import { expect } from 'chai';
import { snapshotReadTables } from '../../../test/support/snapshot.js';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { rebuildProjections } from '../../core/projections/rebuild.js';

describe('rebuild while serving (e2e)', function () {
  this.timeout(180_000);
  let h: Harness;
  let tenantId: string;
  let editor: string;
  let configIds: string[];

  before(async function () {
    h = await startHarness({ runProjector: true, runWorker: true });
    tenantId = uniqueTenant('rebuild');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'R', tier: 'Enterprise' })
      .expect(201);
    editor = h.token('editor', tenantId);
    configIds = [];
    for (let i = 0; i < 30; i++) {
      const res = await request(h.url)
        .post('/api/v1/configs')
        .set('Authorization', `Bearer ${editor}`)
        .send({ tenantId, key: `k${i}`, value: i, type: 'Integer', environment: 'Development' })
        .expect(201);
      configIds.push(res.body.configId);
    }
    for (let v = 1; v <= 5; v++) {
      for (const id of configIds) {
        await request(h.url)
          .put(`/api/v1/configs/${id}`)
          .set('Authorization', `Bearer ${editor}`)
          .send({ value: v * 100, expectedVersion: v })
          .expect(200);
      }
    }
  });
  after(async function () {
    await h?.close();
  });

  async function caughtUp() {
    const head = (await h.services.store.headPosition()).toString();
    await request(h.url)
      .get(`/api/v1/configs/${configIds[0]}?minPosition=${head}`)
      .set('Authorization', `Bearer ${editor}`)
      .expect(200);
    await request(h.url)
      .get(`/api/v1/audit-logs?tenantId=${tenantId}&pageSize=1&minPosition=${head}`)
      .set('Authorization', `Bearer ${editor}`)
      .expect(200);
  }

  const snapshot = () => snapshotReadTables(h.services.pool);

  it('queues a rebuild for platform admins only, reports progress, and keeps answering meanwhile', async function () {
    await caughtUp();
    const before = await snapshot();
    await request(h.url)
      .post('/api/v1/admin/projections/read-model/rebuild')
      .set('Authorization', `Bearer ${editor}`)
      .expect(403);
    await request(h.url)
      .post('/api/v1/admin/projections/nope/rebuild')
      .set('Authorization', `Bearer ${h.admin}`)
      .expect(404);
    const queued = await request(h.url)
      .post('/api/v1/admin/projections/all/rebuild')
      .set('Authorization', `Bearer ${h.admin}`)
      .expect(202);
    expect(queued.headers.location).to.equal(queued.body.statusUrl);

    // While it runs, the old tables keep answering: never a 404, never a short list.
    // Every projection (blame and tenant-history too) over this run's whole log: a loaded
    // machine needs a while.
    const deadline = Date.now() + 120_000;
    let status: { state: string; progress: unknown } = { state: 'waiting', progress: 0 };
    let reads = 0;
    while (status.state !== 'completed' && status.state !== 'failed' && Date.now() < deadline) {
      const [one, list] = await Promise.all([
        request(h.url)
          .get(`/api/v1/configs/${configIds[7]}`)
          .set('Authorization', `Bearer ${editor}`),
        request(h.url)
          .get(`/api/v1/configs?tenantId=${tenantId}&pageSize=1`)
          .set('Authorization', `Bearer ${editor}`),
      ]);
      expect(one.status).to.equal(200);
      expect(one.body.value).to.equal('500');
      expect(list.body.total).to.equal(30);
      reads++;
      status = (
        await request(h.url)
          .get(queued.body.statusUrl)
          .set('Authorization', `Bearer ${h.admin}`)
          .expect(200)
      ).body;
    }
    expect(status).to.include({ state: 'completed', progress: 100 });
    expect(reads).to.be.greaterThan(0);
    await caughtUp();
    expect(await snapshot()).to.deep.equal(before);

    const projections = await request(h.url)
      .get('/api/v1/admin/projections')
      .set('Authorization', `Bearer ${h.admin}`)
      .expect(200);
    expect(projections.body.projections.map((p: { name: string }) => p.name)).to.deep.equal([
      'read-model',
      'audit-log',
      'blame',
      'tenant-history',
      'redis-cache',
    ]);
  });

  it('clears what a rebuild that died half-way left behind, and never reports it as a projection', async function () {
    const pool = h.services.pool;
    await pool.query('CREATE SCHEMA "rebuild_read_model_dead1"');
    await pool.query(
      `INSERT INTO projection_checkpoints (name, position) VALUES ('read-model@rebuild_read_model_dead1', 3)`,
    );
    const head = await h.services.store.headPosition();
    const lag = await h.services.progress.lag(head);
    expect(lag.map((l) => l.projection)).to.not.include('read-model@rebuild_read_model_dead1');
    await rebuildProjections(h.services, h.projector, ['read-model']);
    const { rows: schemas } = await pool.query(
      `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rebuild\\_%'`,
    );
    expect(schemas).to.deep.equal([]);
    const { rows: checkpoints } = await pool.query(
      `SELECT name FROM projection_checkpoints WHERE name LIKE '%@%'`,
    );
    expect(checkpoints).to.deep.equal([]);
  });

  it('loses no write made during the rebuild, and ends equal to a rebuild from a quiet log', async function () {
    const writes = (async () => {
      for (let i = 0; i < 10; i++) {
        await request(h.url)
          .put(`/api/v1/configs/${configIds[i]}`)
          .set('Authorization', `Bearer ${editor}`)
          .send({ value: 9000 + i, expectedVersion: 6 })
          .expect(200);
      }
    })();
    await Promise.all([
      rebuildProjections(h.services, h.projector, ['read-model', 'audit-log']),
      writes,
    ]);
    await caughtUp();
    const live = await snapshot();
    const rows = (
      live.configurations as { config_id: string; value: string; version: number }[]
    ).filter((r) => configIds.slice(0, 10).includes(r.config_id));
    expect(rows.map((r) => [r.value, r.version]).sort()).to.deep.equal(
      Array.from({ length: 10 }, (_, i) => [`${9000 + i}`, 7]).sort(),
    );
    await rebuildProjections(h.services, h.projector, ['read-model', 'audit-log']);
    await caughtUp();
    expect(await snapshot()).to.deep.equal(live);
  });
});
