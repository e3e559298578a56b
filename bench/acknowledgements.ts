/**
 * npm run bench:acknowledgements: what the acknowledgement ledger costs. INSTANCES app instances
 * of one environment each report KEYS applied values (one report each, as the client sends them
 * after its first snapshot), CONCURRENCY at a time; then every instance sends heartbeats (empty
 * reports); then the counts a canary step decides on (the live canary-side instances of one
 * deployment) are read, as the step job and every canary-side report do. Prints figures; times
 * nothing against a limit. Its own database, dropped at the end.
 *
 *   npm run bench:acknowledgements [-- --instances 2000 --keys 50 --concurrency 16]
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { migrate } from '../src/core/postgres/migrate.js';
import { createPool, parsePostgresConnectionString } from '../src/core/postgres/postgres.js';
import { AcknowledgementLedger } from '../src/features/acknowledgements/acknowledgement-ledger.js';
import { configIdFor } from '../src/features/configs/config.events.js';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '2000' },
    keys: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '16' },
  },
});
const instances = Number(values.instances);
const keys = Number(values.keys);
const concurrency = Number(values.concurrency);

const admin = parsePostgresConnectionString(
  process.env.BENCH_POSTGRES_ADMIN ??
    'Host=127.0.0.1;Port=5432;Database=postgres;Username=postgres',
);
const database = `cfgsvc_bench_ack_${randomBytes(4).toString('hex')}`;
const adminClient = new pg.Client(admin);
await adminClient.connect();
await adminClient.query(`CREATE DATABASE "${database}"`);
const config = { ...admin, database };
const pool = createPool(config, concurrency + 2);
const ledger = new AcknowledgementLedger(pool, { instanceTtlMs: 300_000, retentionMs: 86_400_000 });
const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const deploymentId = 'dep_bench';

/** Runs `work(i)` for i < n, `concurrency` at a time; the latency of each, sorted. */
async function run(n: number, work: (i: number) => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        await work(i);
        times.push(performance.now() - t);
      }
    }),
  );
  return times.sort((a, b) => a - b);
}

function report(what: string, n: number, wall: number, times: number[]) {
  console.log(
    `${what}: ${n} in ${(wall / 1000).toFixed(1)} s = ${Math.round((n * 1000) / wall)}/s, ` +
      `p50 ${q(times, 0.5).toFixed(1)} ms, p99 ${q(times, 0.99).toFixed(1)} ms`,
  );
}

try {
  await migrate(config);
  const acks = (i: number) =>
    Array.from({ length: keys }, (_, k) => ({
      key: `key-${k}`,
      version: 3,
      status: 'applied' as const,
      // key-0 runs a canary; one instance in ten is on its canary side.
      ...(k === 0
        ? { deploymentId, side: i % 10 === 0 ? ('canary' as const) : ('stable' as const) }
        : {}),
    }));
  const instance = (i: number) => `pod-${i}`;
  const base = { tenantId: 'bench', environment: 'Production' };

  let t = performance.now();
  let times = await run(instances, (i) =>
    ledger.record({ ...base, instanceId: instance(i), acknowledgements: acks(i) }),
  );
  report(`first reports (${keys} keys each)`, instances, performance.now() - t, times);

  t = performance.now();
  times = await run(instances, (i) =>
    ledger.record({ ...base, instanceId: instance(i), acknowledgements: [] }),
  );
  report('heartbeats (empty reports)', instances, performance.now() - t, times);

  const key0 = configIdFor(base.tenantId, base.environment, 'key-0');
  const reads: number[] = [];
  let counts = { applied: 0, rejected: 0 };
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    counts = await ledger.canaryCounts(deploymentId, key0);
    reads.push(performance.now() - t0);
  }
  reads.sort((a, b) => a - b);
  console.log(
    `canary counts of one deployment (${counts.applied} canary instances applied, ` +
      `${instances} reporting): p50 ${q(reads, 0.5).toFixed(1)} ms, p99 ${q(reads, 0.99).toFixed(1)} ms`,
  );
  const { rows } = await pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM client_acknowledgements',
  );
  console.log(`rows: ${rows[0]!.n} acknowledgements, ${instances} instances`);
  console.log(
    `concurrency ${concurrency}; machine load average (1 min) at the end: ${loadavg()[0]!.toFixed(1)}`,
  );
} finally {
  await pool.end();
  await adminClient.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await adminClient.end();
}
