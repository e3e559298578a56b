/**
 * Hot read path benchmark (npm run bench:read -- [--duration 10] [--connections 50]).
 *
 * Measures the API's two hot read routes (one key, whole environment) served from the in-process
 * snapshot, next to a bare node:http server answering the same path with the same bytes and
 * headers from memory, in the same run, alternately, and prints the ratio app/baseline.
 * Everything it needs (database, Redis keys) is created here and removed at the end. See
 * bench/README.md.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { buildServices, createApi, createProjector, type ApiServer } from '../src/composition.js';
import type { Services } from '../src/composition.js';
import { loadSettings, type Settings } from '../src/config/settings.js';
import { signToken } from '../src/api/auth.js';
import { migrate } from '../src/infrastructure/migrate.js';
import { createRedis } from '../src/infrastructure/redis.js';
import { parsePostgresConnectionString, type PgConfig } from '../src/infrastructure/postgres.js';
import type { ConfigType } from '../src/domain/values.js';

const GOAL = 0.75;
const TENANT = 'bench-tenant';
const ENVIRONMENT = 'Production';
const SINGLE_KEY = 'checkout.retry-policy';
const ctx = { userId: 'bench', correlationId: 'bench' };

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

const USAGE = `usage: npm run bench:read -- [options]
  --duration <s>      seconds per measured run (default 10; 3 for a quick look)
  --connections <n>   concurrent connections (default 50)
  --pipelining <n>    requests in flight per connection (default 1)
  --rounds <n>        baseline/app pairs per route; the best run of each target is reported (default 2)
  --warmup <s>        seconds of unmeasured load per target and route before measuring (default 1)
  --in-process        run autocannon on the server's thread instead of a worker thread
  --help`;

function positiveInt(name: string, raw: string, min = 1): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer >= ${min}`);
  return n;
}

class UsageError extends Error {}

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
    strict: true,
    allowPositionals: false,
  });
  return {
    help: values.help,
    duration: positiveInt('duration', values.duration),
    connections: positiveInt('connections', values.connections),
    pipelining: positiveInt('pipelining', values.pipelining),
    rounds: positiveInt('rounds', values.rounds),
    warmup: positiveInt('warmup', values.warmup, 0),
    inProcess: values['in-process'],
  };
}

type Options = ReturnType<typeof parseOptions>;

// ---------------------------------------------------------------------------------------------
// Resources: created in order, released in reverse order, always
// ---------------------------------------------------------------------------------------------

const cleanups: { name: string; run: () => Promise<void> }[] = [];
const onCleanup = (name: string, run: () => Promise<void>) => cleanups.push({ name, run });

async function cleanUp(): Promise<boolean> {
  let ok = true;
  for (const { name, run } of cleanups.reverse()) {
    try {
      await run();
    } catch (error) {
      ok = false;
      console.error(`cleanup: ${name} failed: ${(error as Error).message}`);
    }
  }
  cleanups.length = 0;
  return ok;
}

const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const databaseName = `cfgsvc_bench_${runId}`;
const redisPrefix = `cfgsvc-bench:${runId}:`;

const adminConnection =
  process.env.BENCH_POSTGRES_ADMIN ??
  'Host=127.0.0.1;Port=5432;Database=postgres;Username=postgres';

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client(parsePostgresConnectionString(adminConnection));
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function createDatabase(): Promise<string> {
  const admin: PgConfig = parsePostgresConnectionString(adminConnection);
  await adminQuery(`CREATE DATABASE "${databaseName}"`);
  onCleanup(`drop database ${databaseName}`, () =>
    adminQuery(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`),
  );
  await migrate({ ...admin, database: databaseName });
  return (
    `Host=${admin.host ?? '127.0.0.1'};Port=${admin.port ?? 5432};Database=${databaseName};` +
    `Username=${admin.user ?? 'postgres'}${admin.password ? `;Password=${admin.password}` : ''}`
  );
}

async function deleteRedisKeys(settings: Settings): Promise<void> {
  const redis = createRedis(settings.redis, { maxRetriesPerRequest: 1 });
  try {
    const stream = redis.scanStream({ match: `${redisPrefix}*`, count: 500 });
    for await (const keys of stream as AsyncIterable<string[]>) {
      if (keys.length) await redis.unlink(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

// ---------------------------------------------------------------------------------------------
// Seed data: one tenant, ~50 configs of every type in one environment
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

async function seed(services: Services): Promise<void> {
  await services.tenantCommands.create(
    { tenantId: TENANT, name: 'Bench tenant', tier: 'Enterprise' },
    ctx,
  );
  for (const c of seedConfigs()) {
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
    if (v === null) throw new Error(`GET ${url} has no ${name} header`);
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
  // Same keep-alive as the API, so the response headers are byte for byte the same size.
  server.keepAliveTimeout = keepAliveTimeout;
  return server;
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

interface Measurement {
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  total: number;
}

let current: autocannon.Instance | undefined;
let interrupt: (reason: Error) => void = () => undefined;
const interrupted = new Promise<never>((_, reject) => {
  interrupt = reject;
});
interrupted.catch(() => undefined);

async function load(
  opts: Options,
  url: string,
  headers: Record<string, string>,
  seconds: number,
): Promise<Measurement> {
  let instance: autocannon.Instance | undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url,
        headers,
        duration: seconds,
        connections: opts.connections,
        pipelining: opts.pipelining,
        // One worker thread: the load generator gets the second core instead of sharing the
        // server's event loop (see README). --in-process puts it back on the main thread.
        ...(opts.inProcess ? {} : { workers: 1 }),
      },
      (err: unknown, result: autocannon.Result) => (err ? reject(err) : resolve(result)),
    );
  });
  current = instance;
  try {
    const r = await Promise.race([done, interrupted]);
    return {
      reqPerSec: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      non2xx: r.non2xx,
      errors: r.errors,
      total: r.requests.total,
    };
  } finally {
    current = undefined;
  }
}

function check(label: string, m: Measurement): void {
  if (m.non2xx > 0 || m.errors > 0 || m.total === 0) {
    throw new Error(
      `${label}: ${m.non2xx} non-2xx responses and ${m.errors} errors out of ${m.total} requests`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number) => n.toFixed(n < 10 ? 2 : 1);

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
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
    Logging__LogLevel__Default: process.env.Logging__LogLevel__Default ?? 'Warning',
  });
  onCleanup('delete Redis keys', () => deleteRedisKeys(settings));

  const services = await buildServices(settings);
  onCleanup('close services', () => services.close());

  process.stdout.write(`seeding ${databaseName} ... `);
  await seed(services);
  console.log('done');

  const api: ApiServer = createApi(services);
  onCleanup('close API', async () => {
    api.server.closeAllConnections();
    await api.close();
  });
  const apiPort = await listen(api.server);

  // A snapshot cached before the pub/sub subscription is up lives 1 s only: wait for it.
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
  for (const r of routes)
    canned.set(r.path, await fetchCanned(`http://127.0.0.1:${apiPort}${r.path}`, token));
  if (!api.cache.peek(TENANT, ENVIRONMENT))
    throw new Error('the environment is not cached in-process');

  const baseline = createBaseline(canned, api.server.keepAliveTimeout);
  onCleanup('close baseline', () => closeServer(baseline));
  const baselinePort = await listen(baseline);

  const targets = [
    { name: 'baseline', port: baselinePort, headers: {} as Record<string, string> },
    { name: 'app', port: apiPort, headers: { authorization: `Bearer ${token}` } },
  ];

  console.log(
    `\n${opts.duration} s per run, ${opts.connections} connections, pipelining ${opts.pipelining}, ` +
      `${opts.rounds} round(s) of baseline then app per route, ${opts.warmup} s warm-up; ` +
      `autocannon ${opts.inProcess ? 'in-process (main thread)' : 'in a worker thread'}`,
  );
  for (const r of routes) {
    console.log(`  ${r.name.padEnd(11)} GET ${r.path}  (${canned.get(r.path)!.body.length} bytes)`);
  }
  console.log();

  const best = new Map<string, Measurement>();
  for (const r of routes) {
    for (const t of targets) {
      if (opts.warmup > 0) {
        const m = await load(opts, `http://127.0.0.1:${t.port}${r.path}`, t.headers, opts.warmup);
        check(`warm-up ${t.name} ${r.name}`, m);
      }
    }
    for (let round = 1; round <= opts.rounds; round++) {
      for (const t of targets) {
        const label = `${t.name} ${r.name} (round ${round})`;
        const m = await load(opts, `http://127.0.0.1:${t.port}${r.path}`, t.headers, opts.duration);
        check(label, m);
        console.log(
          `  round ${round}  ${r.name.padEnd(11)}  ${t.name.padEnd(8)}  ${fmtInt(m.reqPerSec).padStart(7)} req/s  ` +
            `p50 ${fmtMs(m.p50)} ms  p99 ${fmtMs(m.p99)} ms`,
        );
        const key = `${r.name}|${t.name}`;
        const prev = best.get(key);
        if (!prev || m.reqPerSec > prev.reqPerSec) best.set(key, m);
      }
    }
  }
  if (!api.cache.peek(TENANT, ENVIRONMENT)) {
    throw new Error('the environment fell out of the in-process cache during the run');
  }

  const rows: string[][] = [
    ['route', 'target', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'app/baseline'],
  ];
  const verdicts: string[] = [];
  for (const r of routes) {
    const b = best.get(`${r.name}|baseline`)!;
    const a = best.get(`${r.name}|app`)!;
    const ratio = a.reqPerSec / b.reqPerSec;
    rows.push([
      r.name,
      'baseline',
      fmtInt(b.reqPerSec),
      fmtMs(b.p50),
      fmtMs(b.p99),
      String(b.non2xx),
      '',
    ]);
    rows.push([
      r.name,
      'app',
      fmtInt(a.reqPerSec),
      fmtMs(a.p50),
      fmtMs(a.p99),
      String(a.non2xx),
      ratio.toFixed(2),
    ]);
    verdicts.push(
      `  ${r.name}: app/baseline = ${ratio.toFixed(2)} ${ratio >= GOAL ? '>=' : '<'} ${GOAL}: ` +
        (ratio >= GOAL ? 'goal met' : 'goal NOT met'),
    );
  }
  console.log(
    `\nBest run of ${opts.rounds} per target (highest req/s; its p50/p99 shown), ` +
      `${opts.duration} s each, ${opts.connections} connections:\n`,
  );
  console.log(table(rows));
  console.log(`Goal: hot read >= ${GOAL} x bare node:http\n${verdicts.join('\n')}`);
}

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

let signalled = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (signalled) return;
  signalled = true;
  console.error(`\n${signal}: stopping and cleaning up ...`);
  current?.stop();
  interrupt(new Error(`interrupted by ${signal}`));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

let failed = false;
try {
  await main(opts);
} catch (error) {
  failed = true;
  console.error(
    `\nbench:read failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
} finally {
  if (!(await cleanUp())) failed = true;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}
if (failed) process.exitCode = 1;
