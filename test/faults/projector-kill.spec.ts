/**
 * Fault: the projector killed (SIGKILL) at 10 random moments while it rebuilds the read tables
 * from a log of more than 5,000 events. Restarted each time, it ends with every read table equal,
 * row for row, to a clean rebuild: no event lost or applied twice.
 */
import { expect } from 'chai';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness } from '../support/harness.js';
import { scratchDatabase, type ScratchDatabase } from '../support/scratch-db.js';
import { processEnv, startProcess, type Running } from '../support/processes.js';
import { READ_TABLES, snapshotReadTables } from '../support/snapshot.js';
import { rebuildProjections } from '../../src/core/projections/rebuild.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KILLS = 10;
const MIN_EVENTS = 5000;

/** Runs `work` over items, `width` at a time. */
async function pool<T>(items: T[], width: number, work: (item: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

describe('faults: projector killed during a rebuild', function () {
  this.timeout(600_000);
  let db: ScratchDatabase;
  let h: Harness;
  let projector: Running | undefined;

  before(async function () {
    db = await scratchDatabase('kill');
    // The API only: nothing projects while the log is written.
    h = await startHarness({ overrides: { ConnectionStrings__PostgreSQL: db.connectionString } });
  });
  after(async function () {
    await projector?.stop();
    await h?.close();
    await db?.drop();
  });

  const checkpoints = async () => {
    const { rows } = await h.services.pool.query<{ name: string; position: bigint }>(
      `SELECT name, position FROM projection_checkpoints WHERE name IN ('read-model', 'audit-log')`,
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.position]));
  };

  it(`ends equal to a clean rebuild after ${KILLS} kill -9s`, async function () {
    // A log of more than 5,000 events: tenants, configs created, then changed again and again.
    const tenants = Array.from({ length: 5 }, () => uniqueTenant('kill'));
    const configs: { id: string; token: string }[] = [];
    await pool(tenants, 5, async (tenantId) => {
      await request(h.url)
        .post('/api/v1/tenants')
        .set('Authorization', `Bearer ${h.admin}`)
        .send({ tenantId, name: tenantId, tier: 'Enterprise' })
        .expect(201);
    });
    const creates = tenants.flatMap((tenantId) =>
      Array.from({ length: 100 }, (_, i) => ({ tenantId, key: `k${i}` })),
    );
    await pool(creates, 16, async ({ tenantId, key }) => {
      const token = h.token('editor', tenantId);
      const { body } = await request(h.url)
        .post('/api/v1/configs')
        .set('Authorization', `Bearer ${token}`)
        .send({ tenantId, key, value: 0, type: 'Integer', tags: ['fault'] })
        .expect(201);
      configs.push({ id: body.configId, token });
    });
    // Then two direct deployments of each (several events each: the deployment, the new
    // version), in order per config, configs in parallel.
    await pool(configs, 16, async (c) => {
      for (let v = 1; v <= 2; v++) {
        await request(h.url)
          .post('/api/v1/deployments')
          .set('Authorization', `Bearer ${c.token}`)
          .send({ configId: c.id, value: v * 10 })
          .expect(201);
      }
    });
    const head = await h.services.store.headPosition();
    expect(Number(head)).to.be.at.least(MIN_EVENTS);

    // The projector replays it all from position 0 (the read tables are empty): kill it at
    // random moments on the way, each time starting it again.
    const env = processEnv({
      ConnectionStrings__PostgreSQL: db.connectionString,
      ConfigService__RedisKeyPrefix: h.settings.redisKeyPrefix,
      METRICS_PORT: undefined,
    });
    // Kill points: each a random position between where the last kill left the checkpoint and
    // 80 % of the log, leaving room for the kills still to come, so every kill lands inside the
    // replay however fast a restart catches up (a fixed list of targets could fall behind the
    // checkpoint and let a restart run to the end before the kill).
    const end = 0.8 * Number(head);
    const killedAt: string[] = [];
    const replayStarted = Date.now();
    for (let i = 0; i < KILLS; i++) {
      const from = Number((await checkpoints())['read-model'] ?? 0n);
      const room = (end - from) / (KILLS - i);
      const target = BigInt(Math.floor(from + 1 + Math.random() * Math.max(room, 1)));
      projector = startProcess('projector', env);
      await projector.waitFor(/projector started/);
      for (;;) {
        const cp = await checkpoints();
        if ((cp['read-model'] ?? 0n) >= target) break;
        if (projector.child.exitCode !== null) {
          throw new Error(`projector exited:\n${projector.output}`);
        }
        await sleep(5);
      }
      projector.kill('SIGKILL');
      await projector.exited;
      const cp = await checkpoints();
      killedAt.push(`${cp['read-model'] ?? 0n}/${cp['audit-log'] ?? 0n}`);
      // Each kill lands before the rebuild is through.
      expect(
        Math.min(Number(cp['read-model'] ?? 0n), Number(cp['audit-log'] ?? 0n)),
        `kill ${killedAt.length} came after the end`,
      ).to.be.below(Number(head));
    }

    projector = startProcess('projector', env);
    for (;;) {
      const cp = await checkpoints();
      if (cp['read-model'] === head && cp['audit-log'] === head) break;
      await sleep(50);
    }
    await projector.stop();
    const replayMs = Date.now() - replayStarted;
    const afterKills = await snapshotReadTables(h.services.pool);

    await rebuildProjections(h.services, h.projector, ['read-model', 'audit-log']);
    const clean = await snapshotReadTables(h.services.pool);
    const rows = Object.keys(READ_TABLES)
      .map((t) => `${t} ${clean[t]!.length}`)
      .join(', ');
    console.log(
      `      ${head} events replayed in ${replayMs} ms with ${KILLS} kills`,
      `at read-model/audit-log checkpoints ${killedAt.join(', ')}; rows: ${rows}`,
    );
    expect(afterKills).to.deep.equal(clean);
    expect(clean.configurations).to.have.length(500);
    expect(clean.deployments).to.have.length(1000);
  });
});
