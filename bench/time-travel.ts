/**
 * npm run bench:time-travel: how fast a whole tenant is read as of a point in a long history.
 * One tenant, 100k configuration changes (1000 keys over 3 environments), projected by the
 * `tenant-history` projection (snapshots every SNAPSHOT_EVERY changes); then the tenant as of
 * random positions, timed, each checked against the state folded here. For comparison, the same
 * read by folding the log from the start (what a read without snapshots costs).
 *
 *   npm run bench:time-travel [-- --events 100000 --keys 1000 --reads 50]
 */
import pg from 'pg';
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { migrate } from '../src/core/postgres/migrate.js';
import { PostgresEventStore } from '../src/core/event-store/postgres/postgres-event-store.js';
import { createPool, parsePostgresConnectionString } from '../src/core/postgres/postgres.js';
import { PostgresProjectionRunner } from '../src/core/projections/runner.js';
import {
  SNAPSHOT_EVERY,
  tenantHistoryProjection,
} from '../src/features/time-travel/time-travel.projection.js';
import {
  TimeTravelQueries,
  diffStates,
  type TenantAt,
} from '../src/features/time-travel/time-travel.queries.js';
import { configIdFor } from '../src/features/configs/config.decider.js';
import { configStream } from '../src/core/streams.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    keys: { type: 'string', default: '1000' },
    reads: { type: 'string', default: '50' },
  },
});
const total = Number(values.events);
const keyCount = Number(values.keys);
const reads = Number(values.reads);
const ENVS = ['Development', 'Staging', 'Production'];

const admin = parsePostgresConnectionString(
  process.env.BENCH_POSTGRES_ADMIN ??
    'Host=127.0.0.1;Port=5432;Database=postgres;Username=postgres',
);
const database = `cfgsvc_bench_tt_${randomBytes(4).toString('hex')}`;
const adminClient = new pg.Client(admin);
await adminClient.connect();
await adminClient.query(`CREATE DATABASE "${database}"`);
const config = { ...admin, database };
const pool = createPool(config, 4);
const store = new PostgresEventStore(pool, config);
const tenantId = 'bench-tenant';
const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

try {
  await migrate(config);
  const started = performance.now();
  const versions = new Map<string, number>();
  const state: TenantAt = {};
  // Expected states at some positions, to check the answers.
  const truth = new Map<bigint, TenantAt>();
  const checkEvery = Math.max(1, Math.floor(total / 500 / 20));
  let batch: { streamId: string; expected: 'any'; events: never[] }[] = [];
  let appends = 0;
  for (let i = 0; i < total; i++) {
    const key = `key-${i % keyCount}`;
    const environment = ENVS[Math.floor(i / keyCount) % ENVS.length]!;
    const configId = configIdFor(tenantId, environment, key);
    const version = (versions.get(configId) ?? 0) + 1;
    versions.set(configId, version);
    const value = `value-${i}-${'x'.repeat(40)}`;
    batch.push({
      streamId: configStream(configId),
      expected: 'any',
      events: [
        {
          id: randomUUID(),
          type: version === 1 ? 'ConfigurationCreated' : 'ConfigurationUpdated',
          data: {
            tenantId,
            configId,
            key,
            environment,
            type: 'String',
            version,
            value,
            previousValue: null,
            changeDescription: null,
            isSensitive: false,
            description: null,
            tags: [],
            defaultValue: null,
            schemaId: null,
          },
          metadata: { userId: 'bench', timestamp: new Date().toISOString(), schemaVersion: 1 },
        } as never,
      ],
    });
    (state[environment] ??= {})[key] = { configId, type: 'String', version, value };
    if (batch.length === 500 || i === total - 1) {
      const { position } = await store.append(batch);
      batch = [];
      if (++appends % checkEvery === 0 || i === total - 1) {
        truth.set(position, structuredClone(state));
      }
    }
  }
  const appended = performance.now();
  console.log(`appended ${total} changes in ${((appended - started) / 1000).toFixed(1)} s`);
  const runner = new PostgresProjectionRunner(pool, store, tenantHistoryProjection, {
    batchSize: 2000,
  });
  await runner.catchUpOnce();
  const projected = performance.now();
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM tenant_snapshots',
  );
  console.log(
    `projected in ${((projected - appended) / 1000).toFixed(1)} s: ${rows[0]!.n} snapshots (every ${SNAPSHOT_EVERY} changes)`,
  );

  const queries = new TimeTravelQueries(pool);
  const head = await store.headPosition();
  // Warm up (connections, plans).
  await queries.tenantAt(tenantId, head);
  const times: number[] = [];
  const cpu: number[] = [];
  const points = [...truth.keys()];
  let checked = 0;
  for (let r = 0; r < reads; r++) {
    const exact = r % 2 === 0 && points.length > 0;
    const position = exact
      ? points[r % points.length]!
      : 1n + BigInt(Math.floor(Math.random() * Number(head)));
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const got = await queries.tenantAt(tenantId, position);
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    if (exact) {
      const diff = diffStates(truth.get(position)!, got);
      if (diff.length) throw new Error(`as of ${position}: ${diff.length} differences`);
      checked += 1;
    }
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  console.log(
    `as-of read of the whole tenant (${keyCount * Math.min(ENVS.length, Math.ceil(total / keyCount))} configs), ${reads} random points: ` +
      `p50 ${q(times, 0.5).toFixed(1)} ms  p95 ${q(times, 0.95).toFixed(1)} ms  max ${times.at(-1)!.toFixed(1)} ms ` +
      `(${checked} checked against the state folded here); ` +
      `this process's CPU per read: p50 ${q(cpu, 0.5).toFixed(1)} ms`,
  );
  const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
  console.log(`machine load average (1 min) at the end: ${load}`);

  // Without snapshots: fold the whole log up to the head.
  const t0 = performance.now();
  let after = 0n;
  let n = 0;
  for (;;) {
    const page = await store.readAll({ after, limit: 5000, streamPrefixes: ['config-'] });
    if (!page.length) break;
    n += page.length;
    after = page.at(-1)!.position;
  }
  console.log(
    `for comparison, reading the ${n} events from the log to fold them: ${(performance.now() - t0).toFixed(0)} ms`,
  );
} finally {
  await store.close();
  await pool.end();
  await adminClient.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await adminClient.end();
}
