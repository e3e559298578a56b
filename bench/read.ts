/**
 * Hot read path benchmark (npm run bench:read -- [--duration 10] [--connections 50]).
 *
 * Measures the API's two hot read routes (one key, whole environment) served from the in-process
 * snapshot, next to a bare node:http server answering the same paths with the same bytes and
 * headers from memory, in the same run, alternately, and prints the ratio app/baseline.
 * Everything it needs (database, Redis keys) is created here and removed at the end. See
 * bench/README.md.
 */
import http from 'node:http';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createHistogram } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import autocannon from 'autocannon';
import {
  buildServices,
  createApi,
  createProjector,
  type ApiServer,
  type Services,
} from '../src/composition.js';
import { loadSettings } from '../src/config/settings.js';
import { signToken } from '../src/api/auth.js';
import type { ConfigType } from '../src/domain/values.js';
import {
  cleanUp,
  createDatabase,
  databaseName,
  deleteRedisKeys,
  integer,
  listen,
  onCleanup,
  redisPrefix,
} from './support.js';

const GOAL = 0.75;
/** Other processes using more than this (cores) during a run make its req/s unreliable. */
const DISTURBED_CORES = 0.25;
const TENANT = 'bench-tenant';
// Not Production: direct writes there need an approval (change requests), which seeding does not do.
const ENVIRONMENT = 'Staging';
const SINGLE_KEY = 'checkout.retry-policy';
const ctx = { userId: 'bench', correlationId: 'bench' };

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

const USAGE = `usage: npm run bench:read -- [options]
  --duration <s>      seconds per measured run (default 10; 3 for a quick look)
  --connections <n>   concurrent connections (default 50)
  --pipelining <n>    requests in flight per connection (default 1)
  --rounds <n>        baseline-then-app pairs per route; the best run per target is reported (default 2)
  --warmup <s>        unmeasured seconds per target and route before measuring (default 1, 0 = none)
  --in-process        run autocannon on the servers' thread instead of a worker thread
  --help`;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      pipelining: { type: 'string', default: '1' },
      rounds: { type: 'string', default: '2' },
      warmup: { type: 'string', default: '1' },
      'in-process': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  return {
    help: values.help,
    duration: integer('duration', values.duration, 1),
    connections: integer('connections', values.connections, 1),
    pipelining: integer('pipelining', values.pipelining, 1),
    rounds: integer('rounds', values.rounds, 1),
    warmup: integer('warmup', values.warmup, 0),
    inProcess: values['in-process'],
  };
}

type Options = ReturnType<typeof parseOptions>;

// ---------------------------------------------------------------------------------------------
// Seed data: one tenant, 50 configs of every type in one environment
// ---------------------------------------------------------------------------------------------

function seedConfigs(): { key: string; type: ConfigType; value: unknown }[] {
  const configs: { key: string; type: ConfigType; value: unknown }[] = [
    {
      key: SINGLE_KEY,
      type: 'JSON',
      value: { maxAttempts: 5, backoffMs: [100, 250, 500, 1000], retryOn: [502, 503, 504] },
    },
  ];
  for (let i = 0; configs.length < 50; i++) {
    switch (i % 5) {
      case 0:
        configs.push({ key: `feature.flag-${i}`, type: 'Boolean', value: i % 2 === 0 });
        break;
      case 1:
        configs.push({ key: `limits.max-items-${i}`, type: 'Integer', value: 100 * i });
        break;
      case 2:
        configs.push({ key: `pricing.rate-${i}`, type: 'Number', value: 0.0125 * i });
        break;
      case 3:
        configs.push({
          key: `service-${i}.endpoint`,
          type: 'String',
          value: `https://service-${i}.internal.example.com/api/v2`,
        });
        break;
      default:
        configs.push({
          key: `ui.banner-${i}`,
          type: 'JSON',
          value: { enabled: true, text: `Banner ${i}`, colors: ['#fff', '#000'], priority: i },
        });
    }
  }
  return configs;
}

async function seed(services: Services): Promise<number> {
  await services.tenantCommands.create(
    { tenantId: TENANT, name: 'Bench tenant', tier: 'Enterprise' },
    ctx,
  );
  const configs = seedConfigs();
  // One at a time: every create also appends to the tenant stream.
  for (const c of configs) {
    await services.configCommands.create(
      { tenantId: TENANT, environment: ENVIRONMENT, key: c.key, type: c.type, value: c.value },
      ctx,
    );
  }
  const projector = createProjector(services);
  try {
    await projector.catchUpOnce();
  } finally {
    await projector.stop();
  }
  return configs.length;
}

// ---------------------------------------------------------------------------------------------
// Baseline: a bare node:http server answering the same paths with the same bytes from memory
// ---------------------------------------------------------------------------------------------

interface Canned {
  body: Buffer;
  headers: Record<string, string | number>;
}

async function fetchCanned(url: string, token: string): Promise<Canned> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) {
    throw new Error(`GET ${url} answered ${res.status}: ${body.toString('utf8').slice(0, 500)}`);
  }
  const header = (name: string) => {
    const v = res.headers.get(name);
    if (v === null) throw new Error(`GET ${url} answered without ${name}`);
    return v;
  };
  return {
    body,
    headers: {
      'Content-Type': header('content-type'),
      'Content-Length': body.length,
      ETag: header('etag'),
      'Cache-Control': header('cache-control'),
    },
  };
}

function createBaseline(routes: Map<string, Canned>, keepAliveTimeout: number): http.Server {
  const notFound = Buffer.from('{"status":404}');
  const server = http.createServer((req, res) => {
    const canned = req.url === undefined ? undefined : routes.get(req.url);
    if (!canned) {
      res.writeHead(404, { 'Content-Type': 'application/json', 'Content-Length': notFound.length });
      res.end(notFound);
      return;
    }
    res.writeHead(200, canned.headers);
    res.end(canned.body);
  });
  // The API's keep-alive, so both send the same Keep-Alive header.
  server.keepAliveTimeout = keepAliveTimeout;
  return server;
}

// ---------------------------------------------------------------------------------------------
// Load: autocannon, in a worker thread (default) or on the main thread (--in-process).
// autocannon's own latency histogram has 1 ms resolution, useless for sub-millisecond answers,
// so each response time is also recorded in microseconds into a perf_hooks histogram.
// ---------------------------------------------------------------------------------------------

interface LoadOptions {
  url: string;
  headers: Record<string, string>;
  duration: number;
  connections: number;
  pipelining: number;
}

interface Measurement {
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  total: number;
}

/** A measured run: autocannon's numbers plus what the CPU did meanwhile (Linux only). */
interface Run extends Measurement {
  /** CPU time of the servers' thread per answered request, in microseconds. */
  cpuUsPerReq: number | undefined;
  /** Share of the run's wall time the servers' thread was on a CPU (1 = a whole core). */
  serverBusy: number | undefined;
  /** CPU used by everything outside this process during the run, in cores. */
  othersCores: number | undefined;
}

/** What autocannon hands back without aggregation (in a worker, or with skipAggregateResult). */
interface RawResult {
  totalCompletedRequests: number;
  duration: number;
  non2xx: number;
  errors: number;
}

/**
 * The worker's code, plain CommonJS (a worker does not get tsx's loader). It must compute
 * exactly what `loadInProcess` computes.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHistogram } = require('node:perf_hooks');
const autocannon = require(workerData.autocannonPath);
const latency = createHistogram();
const instance = autocannon(workerData.options, (error, r) => {
  if (error) return parentPort.postMessage({ error: String((error && error.stack) || error) });
  parentPort.postMessage({
    measurement: {
      reqPerSec: r.totalCompletedRequests / r.duration,
      p50: latency.count ? latency.percentile(50) / 1000 : 0,
      p99: latency.count ? latency.percentile(99) / 1000 : 0,
      non2xx: r.non2xx,
      errors: r.errors,
      total: r.totalCompletedRequests,
    },
  });
});
instance.on('response', (client, status, bytes, ms) => {
  if (status >= 200 && status < 300) latency.record(Math.max(1, Math.round(ms * 1000)));
});
instance.on('start', () => parentPort.postMessage({ started: true }));
parentPort.on('message', (m) => { if (m === 'stop') instance.stop(); });
`;

const autocannonPath = createRequire(import.meta.url).resolve('autocannon');

/** Stops the run in progress (SIGINT, SIGTERM). */
let stopCurrent: (() => void) | undefined;
let signalled = false;

function loadInWorker(options: LoadOptions, onStart: () => void): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { autocannonPath, options },
    });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      stopCurrent = undefined;
      fn();
    };
    stopCurrent = () => {
      void worker.terminate();
      settle(() => reject(new Error('interrupted')));
    };
    worker.on('message', (m: { started?: true; error?: string; measurement?: Measurement }) => {
      if (m.started) return onStart();
      void worker.terminate();
      settle(() => (m.measurement ? resolve(m.measurement) : reject(new Error(m.error))));
    });
    worker.on('error', (e) => settle(() => reject(e)));
    worker.on('exit', (code) =>
      settle(() => reject(new Error(`load worker exited (${code}) without a result`))),
    );
  });
}

function loadInProcess(options: LoadOptions, onStart: () => void): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const latency = createHistogram();
    // The raw (unaggregated) result, as in the worker: same fields, same arithmetic.
    const raw = { ...options, skipAggregateResult: true } as autocannon.Options;
    const instance = autocannon(raw, (error: unknown, result: autocannon.Result) => {
      stopCurrent = undefined;
      if (error) return reject(error instanceof Error ? error : new Error(String(error)));
      const r = result as unknown as RawResult;
      resolve({
        reqPerSec: r.totalCompletedRequests / r.duration,
        p50: latency.count ? latency.percentile(50) / 1000 : 0,
        p99: latency.count ? latency.percentile(99) / 1000 : 0,
        non2xx: r.non2xx,
        errors: r.errors,
        total: r.totalCompletedRequests,
      });
    });
    instance.on('start', onStart);
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latency.record(Math.max(1, Math.round(ms * 1000)));
    });
    stopCurrent = () => {
      instance.stop();
      reject(new Error('interrupted'));
    };
  });
}

// CPU accounting from /proc: the servers' thread (the main thread, tid = pid), this whole process
// (plus the load worker) and the whole machine. Ticks are USER_HZ = 100 per second on Linux.
const TICK_MS = 10;

interface CpuSample {
  at: number;
  server: number;
  process: number;
  machine: number;
}

/** utime + stime of a /proc/<pid>/stat line (fields 14 and 15, after the ')' of the name). */
function statTicks(line: string): number {
  const f = line.slice(line.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function sampleCpu(): CpuSample | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    const [user, nice, system, , , irq, softirq, steal] = cpu.slice(1).map(Number);
    const sample = {
      at: performance.now(),
      server: statTicks(readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')),
      process: statTicks(readFileSync('/proc/self/stat', 'utf8')),
      machine: user! + nice! + system! + irq! + softirq! + (steal ?? 0),
    };
    return Object.values(sample).every(Number.isFinite) ? sample : undefined;
  } catch {
    return undefined;
  }
}

async function load(
  opts: Options,
  label: string,
  url: string,
  headers: Record<string, string>,
  seconds: number,
): Promise<Run> {
  const options: LoadOptions = {
    url,
    headers,
    duration: seconds,
    connections: opts.connections,
    pipelining: opts.pipelining,
  };
  if (signalled) throw new Error('interrupted');
  // From when autocannon starts (not when its worker does) to its result.
  let before: CpuSample | undefined;
  const onStart = () => {
    before = sampleCpu();
  };
  const m = await (opts.inProcess ? loadInProcess : loadInWorker)(options, onStart);
  const after = sampleCpu();
  if (m.non2xx > 0 || m.errors > 0 || m.total === 0) {
    throw new Error(
      `${label}: ${m.non2xx} non-2xx responses and ${m.errors} connection errors ` +
        `out of ${m.total} requests`,
    );
  }
  if (!before || !after) {
    return { ...m, cpuUsPerReq: undefined, serverBusy: undefined, othersCores: undefined };
  }
  const wallMs = after.at - before.at;
  const serverMs = (after.server - before.server) * TICK_MS;
  const othersMs = (after.machine - before.machine - (after.process - before.process)) * TICK_MS;
  return {
    ...m,
    cpuUsPerReq: (serverMs * 1000) / m.total,
    serverBusy: serverMs / wallMs,
    othersCores: Math.max(0, othersMs / wallMs),
  };
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const fmtRate = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number) => n.toFixed(2);
const fmtPct = (n: number) => `${Math.round(n * 100)}%`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)]
    .join('\n')
    .concat('\n');
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(opts: Options): Promise<void> {
  const dbConnection = await createDatabase();
  const settings = loadSettings({
    ...process.env,
    ConnectionStrings__PostgreSQL: dbConnection,
    ConfigService__RedisKeyPrefix: redisPrefix,
    ASPNETCORE_ENVIRONMENT: 'Development',
    // The limiter stays on (its lease costs what it costs in production), with room for the load.
    RateLimiting__ConfigGet: '1000000000',
    Logging__LogLevel__Default: process.env.Logging__LogLevel__Default ?? 'Warning',
  });
  onCleanup('delete Redis keys', () => deleteRedisKeys(settings));

  const services = await buildServices(settings);
  onCleanup('close services', () => services.close());

  process.stdout.write(`database ${databaseName}, Redis prefix '${redisPrefix}', seeding ... `);
  const seeded = await seed(services);
  console.log(`${seeded} configs`);

  const api: ApiServer = createApi(services);
  onCleanup('close API', async () => {
    api.server.closeAllConnections();
    await api.close();
  });
  const apiPort = await listen(api.server);

  // A snapshot cached before the invalidation subscription is up lives 1 s only: wait for it.
  const deadline = Date.now() + 10_000;
  while (!api.cache.isSubscribed) {
    if (Date.now() > deadline) throw new Error('the API never subscribed to cache invalidations');
    await new Promise((r) => setTimeout(r, 20));
  }

  const token = signToken(settings.jwt, { sub: 'bench', roles: ['reader'], tenant_id: TENANT });
  const base = `/api/v1/tenants/${TENANT}/environments/${ENVIRONMENT}/configs`;
  const routes = [
    { name: 'single key', path: `${base}/${SINGLE_KEY}` },
    { name: 'environment', path: base },
  ];
  const canned = new Map<string, Canned>();
  for (const r of routes) {
    canned.set(r.path, await fetchCanned(`http://127.0.0.1:${apiPort}${r.path}`, token));
  }
  if (!api.cache.peek(TENANT, ENVIRONMENT)) throw new Error('the environment is not cached');

  const baseline = createBaseline(canned, api.server.keepAliveTimeout);
  onCleanup('close baseline', async () => {
    baseline.closeAllConnections();
    await new Promise<void>((resolve) => baseline.close(() => resolve()));
  });
  const baselinePort = await listen(baseline);

  const targets = [
    { name: 'baseline', port: baselinePort, headers: {} as Record<string, string> },
    { name: 'app', port: apiPort, headers: { authorization: `Bearer ${token}` } },
  ];

  console.log(
    `\n${opts.duration} s per run, ${opts.connections} connections, pipelining ${opts.pipelining}, ` +
      `${opts.rounds} round(s) of baseline then app per route, ${opts.warmup} s warm-up each; ` +
      `autocannon ${opts.inProcess ? 'on the main thread (--in-process)' : 'in a worker thread'}`,
  );
  for (const r of routes) {
    console.log(`  ${r.name.padEnd(11)}  GET ${r.path}  (${canned.get(r.path)!.body.length} B)`);
  }
  console.log();

  const best = new Map<string, Run>();
  const leastCpu = new Map<string, number>();
  let busiestOthers = 0;
  for (const r of routes) {
    if (opts.warmup > 0) {
      for (const t of targets) {
        const url = `http://127.0.0.1:${t.port}${r.path}`;
        await load(opts, `warm-up ${t.name} ${r.name}`, url, t.headers, opts.warmup);
      }
    }
    for (let round = 1; round <= opts.rounds; round++) {
      for (const t of targets) {
        const url = `http://127.0.0.1:${t.port}${r.path}`;
        const label = `${r.name} ${t.name} round ${round}`;
        const m = await load(opts, label, url, t.headers, opts.duration);
        busiestOthers = Math.max(busiestOthers, m.othersCores ?? 0);
        console.log(
          `  round ${round}  ${r.name.padEnd(11)}  ${t.name.padEnd(8)}  ` +
            `${fmtRate(m.reqPerSec).padStart(7)} req/s  p50 ${fmtMs(m.p50)} ms  ` +
            `p99 ${fmtMs(m.p99)} ms` +
            (m.cpuUsPerReq === undefined
              ? ''
              : `  | server CPU ${m.cpuUsPerReq.toFixed(1)} us/req, busy ` +
                `${fmtPct(m.serverBusy!)}; other processes ${m.othersCores!.toFixed(2)} cores`),
        );
        const key = `${r.name}|${t.name}`;
        const prev = best.get(key);
        if (!prev || m.reqPerSec > prev.reqPerSec) best.set(key, m);
        if (m.cpuUsPerReq !== undefined) {
          leastCpu.set(key, Math.min(m.cpuUsPerReq, leastCpu.get(key) ?? Infinity));
        }
      }
    }
  }
  if (!api.cache.peek(TENANT, ENVIRONMENT)) {
    throw new Error('the environment left the in-process cache during the run');
  }

  const rows = [
    ['route', 'target', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'CPU us/req', 'app/baseline'],
  ];
  const verdicts: string[] = [];
  const cpuChecks: string[] = [];
  for (const r of routes) {
    const b = best.get(`${r.name}|baseline`)!;
    const a = best.get(`${r.name}|app`)!;
    const bCpu = leastCpu.get(`${r.name}|baseline`);
    const aCpu = leastCpu.get(`${r.name}|app`);
    const ratio = a.reqPerSec / b.reqPerSec;
    const row = (t: string, m: Run, cpu: number | undefined, last: string) => [
      r.name,
      t,
      fmtRate(m.reqPerSec),
      fmtMs(m.p50),
      fmtMs(m.p99),
      `${m.non2xx}`,
      cpu === undefined ? '-' : cpu.toFixed(1),
      last,
    ];
    rows.push(row('baseline', b, bCpu, ''), row('app', a, aCpu, ratio.toFixed(2)));
    verdicts.push(
      `  ${r.name.padEnd(11)}  ${ratio.toFixed(2)} ${ratio >= GOAL ? '>=' : '< '} ${GOAL}  ` +
        (ratio >= GOAL ? 'goal met' : 'goal NOT met'),
    );
    if (aCpu !== undefined && bCpu !== undefined) {
      cpuChecks.push(
        `  ${r.name.padEnd(11)}  ${(bCpu / aCpu).toFixed(2)}  ` +
          `(${bCpu.toFixed(1)} / ${aCpu.toFixed(1)} us of server CPU per request)`,
      );
    }
  }
  console.log(
    `\nBest of ${opts.rounds} run(s) per target: req/s, p50 and p99 of the run with the highest ` +
      `req/s; CPU us/req is the lowest of the runs (servers' thread CPU time per request):\n`,
  );
  console.log(table(rows));
  console.log(`Goal: hot read req/s >= ${GOAL} x bare node:http\n${verdicts.join('\n')}`);
  if (cpuChecks.length) {
    console.log(
      `\nCross-check, less sensitive to other load: baseline CPU/req over app CPU/req ` +
        `(${opts.inProcess ? 'includes autocannon, which shares the thread' : "the servers' thread only"})\n` +
        cpuChecks.join('\n'),
    );
  }
  if (busiestOthers > DISTURBED_CORES) {
    console.log(
      `\nWARNING: other processes used up to ${busiestOthers.toFixed(2)} cores during a ` +
        `measured run (this machine has ${availableParallelism()}): req/s and the ratio are ` +
        `unreliable. Re-run on a quiet machine, or trust the CPU cross-check.`,
    );
  }
}

// ---------------------------------------------------------------------------------------------

let opts: Options;
try {
  opts = parseOptions();
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}

const onSignal = (signal: NodeJS.Signals) => {
  if (signalled) return;
  signalled = true;
  console.error(`\n${signal}: stopping and cleaning up ...`);
  stopCurrent?.();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

let failed = false;
try {
  await main(opts);
} catch (error) {
  failed = true;
  console.error(`\nbench:read failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  if (!(await cleanUp())) failed = true;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}
if (failed) process.exitCode = 1;
