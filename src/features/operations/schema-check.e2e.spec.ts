import { expect } from 'chai';
import request from 'supertest';
import { migrate } from '../../core/postgres/migrate.js';
import { startHarness, type Harness } from '../../../test/support/harness.js';
import { scratchDatabase, type ScratchDatabase } from '../../../test/support/scratch-db.js';
import { processEnv, runProcess } from '../../../test/support/processes.js';

/** Started before `npm run migrate`: say so, and do nothing harmful. */
describe('schema check at start-up (e2e)', function () {
  this.timeout(120_000);
  let db: ScratchDatabase;
  let h: Harness | undefined;

  before(async function () {
    db = await scratchDatabase('unmigrated', { migrated: false });
  });
  after(async function () {
    await h?.close();
    await db?.drop();
  });

  it('the projector, the worker and `npm run dev` refuse to start: one line, exit 1', async function () {
    const env = processEnv({ ConnectionStrings__PostgreSQL: db.connectionString });
    const results = await Promise.all(
      ['projector', 'worker', 'all'].map((name) => runProcess(name, env)),
    );
    for (const [i, r] of results.entries()) {
      const name = ['projector', 'worker', 'all'][i];
      expect(r.code, `${name}: ${r.stdout}${r.stderr}`).to.equal(1);
      expect(r.stderr.trim(), name).to.equal(
        'the database has no schema yet: run `npm run migrate` (in a container: node dist/src/main/migrate.js)',
      );
      // It never started: no projection or job errors in its log.
      expect(r.stdout, name).to.not.match(/"level":50/);
    }
  });

  it('the API stays not ready with that message, answers 503 instead of 500, and is ready once migrated', async function () {
    h = await startHarness({ overrides: { ConnectionStrings__PostgreSQL: db.connectionString } });
    const ready = await request(h.url).get('/health/ready').expect(503);
    expect(ready.body.status).to.equal('Unhealthy');
    expect(ready.body.checks.schema).to.deep.equal({
      status: 'Unhealthy',
      error:
        'the database has no schema yet: run `npm run migrate` (in a container: node dist/src/main/migrate.js)',
    });
    const created = await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId: 'early', name: 'Early' })
      .expect(503);
    expect(created.body.detail).to.match(/run `npm run migrate`/);
    expect(created.headers['retry-after']).to.equal('30');

    await migrate(db.config);
    const after = await request(h.url).get('/health/ready');
    // Ready now (degraded only because this test runs no worker or projector).
    expect(after.status, JSON.stringify(after.body)).to.equal(200);
    expect(after.body.checks.schema.status).to.equal('Healthy');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId: 'early', name: 'Early' })
      .expect(201);
  });
});
