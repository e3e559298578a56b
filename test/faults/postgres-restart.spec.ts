/**
 * Fault: PostgreSQL crashes and restarts under writes. The API recovers without a restart of its
 * own, and every write it answered with a 2xx is in the event log: none lost.
 */
import { expect } from 'chai';
import pg from 'pg';
import request from 'supertest';
import { migrate } from '../../src/core/postgres/migrate.js';
import { PrivatePostgres } from '../support/private-servers.js';
import { startHarness, uniqueTenant, type Harness } from '../support/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('faults: PostgreSQL restarted under writes', function () {
  this.timeout(180_000);
  let server: PrivatePostgres;
  let h: Harness;

  before(async function () {
    server = await PrivatePostgres.start();
    await server.createDatabase('config_service');
    await migrate(server.config('config_service'));
    h = await startHarness({
      runProjector: true,
      overrides: { ConnectionStrings__PostgreSQL: server.connectionString('config_service') },
    });
  });
  after(async function () {
    await h?.close();
    await server?.destroy();
  });

  it('recovers by itself and loses no acknowledged write', async function () {
    const tenantId = uniqueTenant('pg');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'PG', tier: 'Enterprise' })
      .expect(201);
    const editor = h.token('editor', tenantId);

    /** Every write answered 2xx: the config and the version it made. */
    const acknowledged: { configId: string; version: number; phase: string }[] = [];
    const statuses = new Map<string, number>();
    let phase = 'before';
    let stop = false;
    const writer = async (w: number) => {
      for (let n = 0; !stop; n++) {
        const created = await request(h.url)
          .post('/api/v1/configs')
          .set('Authorization', `Bearer ${editor}`)
          .send({ tenantId, key: `w${w}.k${n}`, value: 0, type: 'Integer' })
          .catch(() => undefined);
        const key = `${phase} ${created?.status ?? 'no answer'}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        if (created?.status !== 201) {
          await sleep(50);
          continue;
        }
        acknowledged.push({ configId: created.body.configId, version: 1, phase });
        for (let v = 1; v <= 3 && !stop; v++) {
          const updated = await request(h.url)
            .put(`/api/v1/configs/${created.body.configId}`)
            .set('Authorization', `Bearer ${editor}`)
            .set('If-Match', `"${v}"`)
            .send({ value: v })
            .catch(() => undefined);
          const k = `${phase} ${updated?.status ?? 'no answer'}`;
          statuses.set(k, (statuses.get(k) ?? 0) + 1);
          if (updated?.status !== 200) break; // its version is unknown now: next config
          acknowledged.push({ configId: created.body.configId, version: v + 1, phase });
        }
      }
    };
    const writers = Array.from({ length: 4 }, (_, w) => writer(w));
    await sleep(1500);

    await server.stop('immediate'); // a crash: recovery at the next start
    phase = 'down';
    await sleep(1000);
    const ready = await request(h.url).get('/health/ready');
    expect(ready.status).to.equal(503);
    expect(ready.body.checks.postgres.status).to.equal('Unhealthy');
    await sleep(1000);
    await server.startServer();
    phase = 'after';
    // Until writes go through again (the same API process, its pools reconnecting).
    for (let i = 0; i < 300 && !acknowledged.some((a) => a.phase === 'after'); i++) await sleep(50);
    await sleep(2000);
    stop = true;
    await Promise.all(writers);

    const client = new pg.Client(server.config('config_service'));
    await client.connect();
    let stored: Set<string>;
    try {
      const { rows } = await client.query<{ id: string; version: number }>(
        `SELECT data->>'configId' AS id, (data->>'version')::int AS version FROM es_events
          WHERE event_type IN ('ConfigurationCreated', 'ConfigurationUpdated')`,
      );
      stored = new Set(rows.map((r) => `${r.id}@${r.version}`));
    } finally {
      await client.end();
    }
    const lost = acknowledged.filter((a) => !stored.has(`${a.configId}@${a.version}`));
    const byPhase = (p: string) => acknowledged.filter((a) => a.phase === p).length;
    console.log(
      `      writes answered 2xx: ${acknowledged.length} (${byPhase('before')} before the crash, ` +
        `${byPhase('down')} while down, ${byPhase('after')} after the restart); lost: ${lost.length}; ` +
        `answers: ${[...statuses].map(([k, n]) => `${k}×${n}`).join(', ')}`,
    );
    expect(lost).to.deep.equal([]);
    expect(byPhase('before')).to.be.greaterThan(0);
    expect(byPhase('after'), 'the API writes again without a restart').to.be.greaterThan(0);
    // No 500s: while the database is away the answer is 503 (retry), not an internal error.
    expect([...statuses.keys()].filter((k) => k.endsWith(' 500'))).to.deep.equal([]);
    expect((await request(h.url).get('/health/ready')).body.checks.postgres.status).to.equal(
      'Healthy',
    );
  });
});
