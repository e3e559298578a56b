/**
 * Rebuild benchmark (npm run bench:rebuild -- [--events 1000000] [--concurrency 32]).
 *
 * Writes a realistic log through the command layer (bench/generate.ts) into a fresh database,
 * then rebuilds every projection from position zero the way `npm run projections:rebuild` does
 * (shadow tables, then the switch), one after the other, and prints events/s per projection and
 * the process's RSS, sampled every 100 ms during the rebuild (flat memory: the peak should not
 * grow with the number of events).
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { buildServices, createProjector } from '../src/composition.js';
import { loadSettings } from '../src/core/settings/settings.js';
import { rebuildWhileServing, REBUILD_CONNECTIONS } from '../src/core/projections/rebuild.js';
import { PostgresEventStore } from '../src/core/event-store/postgres/postgres-event-store.js';
import { guardPool } from '../src/core/postgres/postgres.js';
import { generate } from './generate.js';
import {
  commandLine,
  cleanUp,
  createDatabase,
  databaseName,
  deleteRedisKeys,
  integer,
  onCleanup,
  redisPrefix,
} from './support.js';
import { cleanUpOnSignal } from './interrupt.js';

const GOAL = 20_000;
const USAGE = `usage: npm run bench:rebuild -- [options]
  --events <n>       events to generate (default 1000000; 50000 for a quick look)
  --concurrency <n>  concurrent writers while generating (default 32)
  --help`;

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`;
const rate = (n: number, ms: number) => Math.round((n * 1000) / ms);
const fmtRate = (n: number) => n.toLocaleString('en').padStart(8);

/** RSS and heap every 100 ms; `mark()` starts a new window and returns the last one's peaks. */
function memorySampler() {
  let rss = 0;
  let heap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  };
  const timer = setInterval(sample, 100);
  timer.unref();
  return {
    mark() {
      sample();
      const peaks = { rss, heap };
      const now = process.memoryUsage();
      rss = now.rss;
      heap = now.heapUsed;
      return peaks;
    },
    stop: () => clearInterval(timer),
  };
}

/** CPU ticks (10 ms) a process has used; undefined once it is gone. */
function ticksOf(pid: number): number | undefined {
  try {
    // utime and stime, fields 14 and 15 (after the command name in parentheses).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined; // gone, or PostgreSQL runs elsewhere: not counted
  }
}

/**
 * CPU (ms) of this process and of the database's PostgreSQL backends while `work` runs. Backends
 * are looked at every 250 ms, so one that connects and ends in between is counted up to its last
 * look (a pool closes idle connections).
 */
async function cpuDuring(db: pg.Pool, work: () => Promise<void>) {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const look = async () => {
    const { rows } = await db.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
    );
    for (const { pid } of rows) {
      const ticks = ticksOf(pid);
      if (ticks === undefined) continue;
      // A backend first seen now started during the work: all its CPU counts.
      if (!first.has(pid)) first.set(pid, looked ? 0 : ticks);
      last.set(pid, ticks);
    }
  };
  let looked = false;
  await look();
  looked = true;
  const node0 = process.cpuUsage();
  const timer = setInterval(() => void look().catch(() => undefined), 250);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  const node = process.cpuUsage(node0);
  await look();
  let ticks = 0;
  for (const [pid, t] of last) ticks += t - first.get(pid)!;
  return { node: (node.user + node.system) / 1000, pg: ticks * 10 };
}

async function main(events: number, concurrency: number) {
  const settings = loadSettings({
    ...process.env,
    ConnectionStrings__PostgreSQL: await createDatabase(),
    ConfigService__RedisKeyPrefix: redisPrefix,
    ASPNETCORE_ENVIRONMENT: 'Development',
    Logging__LogLevel__Default: process.env.Logging__LogLevel__Default ?? 'Warning',
  });
  onCleanup('delete Redis keys', () => deleteRedisKeys(settings));
  const services = await buildServices(settings, { poolSize: concurrency + 4 });
  onCleanup('close services', () => services.close());
  console.log(`database ${databaseName}, Redis prefix '${redisPrefix}'`);

  // 1. The log, through the command layer.
  const started = Date.now();
  const written = await generate(services.store, {
    events,
    concurrency,
    onProgress: (n) =>
      process.stdout.write(
        `\rgenerating: ${n.toLocaleString('en')} events, ${fmtRate(rate(n, Date.now() - started))}/s`,
      ),
  });
  const generatedMs = Date.now() - started;
  console.log(
    `\rgenerated ${written.toLocaleString('en')} events in ${(generatedMs / 1000).toFixed(1)} s ` +
      `(${rate(written, generatedMs).toLocaleString('en')} events/s through the command layer)`,
  );
  const { rows: mix } = await services.pool.query<{ event_type: string; n: string }>(
    'SELECT event_type, count(*) AS n FROM es_events GROUP BY 1 ORDER BY 2 DESC',
  );
  console.log(`mix: ${mix.map((m) => `${m.event_type} ${m.n}`).join(', ')}`);
  const { rows: sizes } = await services.pool.query<{ streams: string; bytes: string }>(
    `SELECT count(DISTINCT stream_id) AS streams, pg_total_relation_size('es_events') AS bytes
       FROM es_events`,
  );
  console.log(`streams: ${sizes[0]!.streams}, es_events ${mb(Number(sizes[0]!.bytes))}`);

  // 2. Rebuild every projection from zero, as `npm run projections:rebuild` does.
  (globalThis as { gc?: () => void }).gc?.();
  const projector = createProjector(services);
  onCleanup('stop projector', () => projector.stop());
  const head = await services.store.headPosition();
  const memory = memorySampler();
  const before = memory.mark();
  console.log(
    `\nrebuilding from zero, ${head.toLocaleString('en')} events in the log; ` +
      `RSS at start ${mb(process.memoryUsage().rss)}\n`,
  );
  console.log(
    `  ${'projection'.padEnd(15)} ${'its events'.padStart(10)} ${'s'.padStart(6)} ` +
      `${'events/s'.padStart(8)} ${'log ev/s'.padStart(8)} ${'node µs/ev'.padStart(10)} ` +
      `${'pg µs/ev'.padStart(8)} ${'ev/CPU-s'.padStart(8)} ${'peak RSS'.padStart(8)} ${'heap'.padStart(6)}`,
  );
  const pool = guardPool(new pg.Pool({ ...settings.postgres.config, max: REBUILD_CONNECTIONS }));
  onCleanup('close rebuild pool', () => pool.end());
  const reader = new PostgresEventStore(pool, settings.postgres.config);
  const results: { name: string; own: number; ms: number; cpu: number }[] = [];
  let peakRss = 0;
  const measure = async (name: string, own: number, work: () => Promise<void>) => {
    const t = Date.now();
    const cpu = await cpuDuring(services.pool, work);
    const ms = Date.now() - t;
    const peaks = memory.mark();
    peakRss = Math.max(peakRss, peaks.rss);
    const { node, pg: db } = cpu;
    results.push({ name, own, ms, cpu: node + db });
    const perEvent = (cpuMs: number) => ((cpuMs * 1000) / own).toFixed(0).padStart(10);
    console.log(
      `  ${name.padEnd(15)} ${own.toLocaleString('en').padStart(10)} ${(ms / 1000).toFixed(1).padStart(6)} ` +
        `${fmtRate(rate(own, ms))} ${fmtRate(rate(Number(head), ms))} ${perEvent(node)} ` +
        `${perEvent(db).slice(2)} ${fmtRate(rate(own, node + db))} ${mb(peaks.rss).padStart(8)} ` +
        `${mb(peaks.heap).padStart(6)}`,
    );
  };
  const totalStart = Date.now();
  for (const runner of projector.runners) {
    const { name, streamPrefixes } = runner.projection;
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM es_events
        WHERE $1::text[] IS NULL OR EXISTS (SELECT 1 FROM unnest($1::text[]) p
                                             WHERE starts_with(stream_id, p))`,
      [streamPrefixes.length ? [...streamPrefixes] : null],
    );
    await measure(name, Number(rows[0]!.n), () =>
      rebuildWhileServing(pool, reader, runner.projection, () => undefined),
    );
  }
  await measure(projector.redisCache.name, Number(head), async () => {
    await projector.redisCache.reset();
    await projector.redisCache.catchUpOnce(1000);
  });
  const totalMs = Date.now() - totalStart;
  memory.stop();
  const overall = rate(Number(head), totalMs);
  const slowest = results.reduce((a, b) => (rate(a.own, a.ms) < rate(b.own, b.ms) ? a : b));
  const load = loadavg()[0]!.toFixed(1);
  console.log(
    `\n  all projections: ${(totalMs / 1000).toFixed(1)} s, ${overall.toLocaleString('en')} log events/s ` +
      `(each event through every projection that reads it); load average ${load} on ${cpus().length} cores`,
  );
  console.log(`  RSS: ${mb(before.rss)} before the rebuild, peak ${mb(peakRss)} during it`);
  const met = results.every((r) => rate(r.own, r.ms) >= GOAL);
  const cpuMet = results.every((r) => rate(r.own, r.cpu) >= GOAL);
  console.log(
    `  goal >= ${GOAL.toLocaleString('en')} events/s per projection: ` +
      `${met ? 'met' : `not met (slowest: ${slowest.name})`}; per CPU-second (node + PostgreSQL, ` +
      `what a machine with a free core for each would approach): ${cpuMet ? 'met' : 'not met'}`,
  );
  console.log(
    `  ev/CPU-s = its events ÷ (CPU of this process + of the database's PostgreSQL backends), ` +
      `not inflated by other processes' load the way wall-clock events/s is.`,
  );
}

const { events, concurrency } = commandLine(USAGE, () => {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '1000000' },
      concurrency: { type: 'string', default: '32' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return { help: true, options: { events: 0, concurrency: 0 } };
  return {
    options: {
      events: integer('events', values.events, 100),
      concurrency: integer('concurrency', values.concurrency, 1),
    },
  };
});

cleanUpOnSignal('bench:rebuild');
let failed = false;
try {
  await main(events, concurrency);
} catch (error) {
  failed = true;
  console.error(`\nbench:rebuild failed: ${error instanceof Error ? error.stack : String(error)}`);
} finally {
  if (!(await cleanUp())) failed = true;
}
if (failed) process.exitCode = 1;
