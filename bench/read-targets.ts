/**
 * bench:read's targets: the seeded API (in this process, or the built service's processes with
 * --production) and the bare node:http baseline answering the same paths with the same bytes.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  buildServices,
  createApi,
  createProjector,
  type ApiServer,
  type Services,
} from '../src/composition.js';
import { loadSettings } from '../src/core/settings/settings.js';
import { signToken } from '../src/core/auth/auth.js';
import type { ConfigType } from '../src/features/configs/config-values.js';
import {
  createDatabase,
  databaseName,
  deleteRedisKeys,
  listen,
  onCleanup,
  redisPrefix,
} from './support.js';
import {
  build,
  callgrind,
  freePort,
  scriptCommand,
  startBaselineProcess,
  startService,
  type Child,
} from './processes.js';
import { IN_PROCESS_SERVER, type ServerCpu } from './load.js';
import { sourceApiCommand, startClusterTargets, type ClusterTargets } from './read-cluster.js';
import {
  ctx,
  ENVIRONMENT,
  ROUTES,
  SECRET_KEY,
  SINGLE_KEY,
  TENANT,
  type Options,
} from './read-options.js';

// ---------------------------------------------------------------------------------------------
// Seed data: one tenant, 50 configs of every type in one environment
// ---------------------------------------------------------------------------------------------

export function seedConfigs(count: number): { key: string; type: ConfigType; value: unknown }[] {
  const configs: { key: string; type: ConfigType; value: unknown }[] = [
    {
      key: SINGLE_KEY,
      type: 'JSON',
      value: { maxAttempts: 5, backoffMs: [100, 250, 500, 1000], retryOn: [502, 503, 504] },
    },
  ];
  for (let i = 0; configs.length < count; i++) {
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

export async function seed(
  services: Services,
  count: number,
  project: boolean,
  encrypted = false,
): Promise<number> {
  await services.tenantCommands.create(
    { tenantId: TENANT, name: 'Bench tenant', tier: 'Enterprise' },
    ctx,
  );
  const configs = seedConfigs(count);
  // One at a time: every create also appends to the tenant stream.
  for (const c of configs) {
    await services.configCommands.create(
      { tenantId: TENANT, environment: ENVIRONMENT, key: c.key, type: c.type, value: c.value },
      ctx,
    );
  }
  if (encrypted) {
    await services.configCommands.create(
      {
        tenantId: TENANT,
        environment: ENVIRONMENT,
        key: SECRET_KEY,
        type: 'String',
        value: 'correct horse battery staple',
        isEncrypted: true,
      },
      ctx,
    );
  }
  // --production: the projector process does it.
  if (!project) return configs.length;
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

export interface Canned {
  body: Buffer;
  headers: Record<string, string | number>;
}

async function fetchCanned(url: string, token: string): Promise<Canned> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) {
    throw new Error(`GET ${url} answered ${res.status}: ${body.toString('utf8').slice(0, 500)}`);
  }
  // The baseline serves these bytes: make sure they are the real answer (a whole environment or
  // one key of the bench tenant), whichever way the API served it (fast lane or Node's HTTP).
  const answer = JSON.parse(body.toString('utf8')) as {
    tenantId?: string;
    key?: string;
    configs?: Record<string, unknown>;
  };
  if (answer.tenantId !== TENANT || (answer.key === undefined && !answer.configs)) {
    throw new Error(
      `GET ${url} answered 200 with an unexpected body: ${body.toString('utf8').slice(0, 200)}`,
    );
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
/** What the rounds need from either way of running the API. */
export interface Setup {
  port: number;
  token: string;
  /** --api-key: an API key with the read scope. */
  apiKey?: string;
  server: ServerCpu;
  baseline: { port: number; server: ServerCpu; pid?: number };
  /** --instructions: the API's pid and where callgrind writes. */
  callgrind?: { apiPid: number; outDir: string };
  /** Throws when the app no longer serves from its in-process snapshot (in-process mode only). */
  check(): void;
  describe: string;
  /** --cluster: the API and the baseline on n workers each. */
  cluster?: ClusterTargets;
}
/** A reader; with --encrypted a tenant admin, who may reveal encrypted values. */
const benchToken = (jwt: Parameters<typeof signToken>[0], encrypted: boolean) =>
  signToken(jwt, {
    sub: 'bench',
    roles: [encrypted ? 'tenant-admin' : 'reader'],
    tenant_id: TENANT,
  });

async function cannedRoutes(port: number, token: string): Promise<Map<string, Canned>> {
  const canned = new Map<string, Canned>();
  for (const r of ROUTES) {
    canned.set(r.path, await fetchCanned(`http://127.0.0.1:${port}${r.path}`, token));
  }
  return canned;
}

export async function inProcessSetup(
  opts: Options,
): Promise<Setup & { canned: Map<string, Canned> }> {
  const dbConnection = await createDatabase();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ConnectionStrings__PostgreSQL: dbConnection,
    ConfigService__RedisKeyPrefix: redisPrefix,
    ASPNETCORE_ENVIRONMENT: 'Development',
    // The limiter stays on (its lease costs what it costs in production), with room for the load.
    RateLimiting__ConfigGet: '1000000000',
    Logging__LogLevel__Default: process.env.Logging__LogLevel__Default ?? 'Warning',
  };
  const settings = loadSettings(env);
  onCleanup('delete Redis keys', () => deleteRedisKeys(settings));

  const services = await buildServices(settings);
  onCleanup('close services', () => services.close());

  process.stdout.write(`database ${databaseName}, Redis prefix '${redisPrefix}', seeding ... `);
  const seeded = await seed(services, opts.configs, true, opts.encrypted);
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

  const token = benchToken(settings.jwt, opts.encrypted);
  const canned = await cannedRoutes(apiPort, token);
  const check = () => {
    if (!api.cache.peek(TENANT, ENVIRONMENT)) {
      throw new Error('the environment is not in the in-process cache');
    }
  };
  check();

  const baseline = createBaseline(canned, api.server.keepAliveTimeout);
  onCleanup('close baseline', async () => {
    baseline.closeAllConnections();
    await new Promise<void>((resolve) => baseline.close(() => resolve()));
  });
  const baselinePort = await listen(baseline);
  // An app with an API key: checked once, then served from memory like a cached JWT.
  const apiKey = opts.apiKey
    ? (
        await services.apiKeyCommands.create(
          { tenantId: TENANT, name: 'bench', scopes: ['read'], environments: [ENVIRONMENT] },
          ctx,
        )
      ).token
    : undefined;
  return {
    port: apiPort,
    token,
    ...(apiKey ? { apiKey } : {}),
    server: IN_PROCESS_SERVER,
    baseline: { port: baselinePort, server: IN_PROCESS_SERVER },
    check,
    canned,
    ...(opts.cluster > 1
      ? {
          cluster: await startClusterTargets(
            opts.cluster,
            env,
            canned,
            token,
            api.server.keepAliveTimeout,
            sourceApiCommand,
          ),
        }
      : {}),
    describe:
      "API (createApi, from source) and baseline on this process's main thread; CPU is that thread's",
  };
}

export async function productionSetup(
  opts: Options,
): Promise<Setup & { canned: Map<string, Canned> }> {
  if (!opts.skipBuild) {
    process.stdout.write('npm run build ... ');
    build();
    console.log('done');
  }
  const dbConnection = await createDatabase();
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ConnectionStrings__PostgreSQL: dbConnection,
    ConfigService__RedisKeyPrefix: redisPrefix,
    ASPNETCORE_ENVIRONMENT: 'Production',
    ASPNETCORE_URLS: `http://127.0.0.1:${port}`,
    JWT__Secret: randomBytes(48).toString('base64'),
    // The limiter stays on, with room for the load (a 429 would end the run).
    RateLimiting__ConfigGet: '1000000000',
  };
  if (opts.tracing) {
    // Spans are made and exported in the background to nobody, as with a collector that is down.
    env.OpenTelemetry__JaegerEndpoint = `http://127.0.0.1:${await freePort()}/v1/traces`;
    env.OpenTelemetry__SamplingRate = '0.1';
  }
  const settings = loadSettings(env);
  onCleanup('delete Redis keys', () => deleteRedisKeys(settings));

  process.stdout.write(`database ${databaseName}, Redis prefix '${redisPrefix}', seeding ... `);
  const services = await buildServices(settings);
  try {
    console.log(`${await seed(services, opts.configs, false, opts.encrypted)} configs`);
  } finally {
    await services.close();
  }

  let outDir: string | undefined;
  if (opts.instructions > 0) {
    outDir = mkdtempSync(path.join(tmpdir(), 'bench-callgrind-'));
    onCleanup('remove callgrind dumps', async () =>
      rmSync(outDir!, { recursive: true, force: true }),
    );
  }
  const { api, others } = startService(env, {
    wrapApi: outDir ? callgrind(outDir, 'api') : [],
    apiNodeFlags: opts.apiFlags,
    apiLog: opts.apiLog,
  });
  const token = benchToken(settings.jwt, opts.encrypted);
  // Up when the projector has projected the seed and the API answers both routes.
  process.stdout.write('starting API, projector and worker (dist/) ... ');
  const deadline = Date.now() + (outDir ? 600_000 : 120_000);
  for (let ready = false; !ready;) {
    for (const c of [api, ...others]) {
      try {
        process.kill(c.pid, 0);
      } catch {
        throw new Error(`${c.name} exited:\n${c.tail()}`);
      }
    }
    if (Date.now() > deadline) throw new Error(`the service never answered:\n${api.tail()}`);
    try {
      const answers = await Promise.all(
        ROUTES.map((r) =>
          fetch(`http://127.0.0.1:${port}${r.path}`, {
            headers: { authorization: `Bearer ${token}` },
          }).then(async (res) => (await res.arrayBuffer(), res.status)),
        ),
      );
      ready = answers.every((s) => s === 200);
    } catch {
      // not listening yet
    }
    if (!ready) await new Promise((r) => setTimeout(r, 200));
  }
  console.log(`pids ${[api, ...others].map((c: Child) => `${c.name} ${c.pid}`).join(', ')}`);

  const canned = await cannedRoutes(port, token);
  const baseline = await startBaselineProcess(
    canned,
    65_000,
    outDir ? callgrind(outDir, 'baseline') : [],
  );
  const cpuOf = (pid: number): ServerCpu => ({ statPath: `/proc/${pid}/stat`, separate: true });
  return {
    port,
    token,
    server: cpuOf(api.pid),
    baseline: { port: baseline.port, server: cpuOf(baseline.child.pid), pid: baseline.child.pid },
    ...(outDir ? { callgrind: { apiPid: api.pid, outDir } } : {}),
    check: () => undefined,
    canned,
    ...(opts.cluster > 1 && opts.instructions === 0
      ? {
          cluster: await startClusterTargets(
            opts.cluster,
            env,
            canned,
            token,
            65_000,
            scriptCommand('start'),
          ),
        }
      : {}),
    describe:
      'API from dist/ (npm start, ASPNETCORE_ENVIRONMENT=Production' +
      (opts.tracing ? ', tracing on, sampling 0.1' : '') +
      ') with projector and worker; baseline in a process of its own; CPU is each server ' +
      "process's (all its threads)",
  };
}
