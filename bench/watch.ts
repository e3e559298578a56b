/**
 * Live update benchmark (npm run bench:watch -- [--watchers 1000] [--changes 20]).
 *
 * Opens many watchers of one environment (event streams, then long polls) from a worker thread,
 * makes changes through the command API one after another, and measures how long after each
 * change's HTTP answer every watcher has it. Baseline, measured for the same changes in the same
 * run: how long after the answer a read with `?minPosition=` (read-your-writes, the earliest a
 * polling app could see the change) returns. Prints both, their ratio, and the fan-out spread.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { buildServices, createApi, createProjector } from '../src/composition.js';
import { loadSettings } from '../src/core/settings/settings.js';
import { signToken } from '../src/core/auth/auth.js';
import {
  UsageError,
  cleanUp,
  createDatabase,
  databaseName,
  deleteRedisKeys,
  integer,
  listen,
  onCleanup,
  redisPrefix,
} from './support.js';
import { cleanUpOnSignal } from './interrupt.js';
import { scale, type ScaleOptions } from './watch-scale.js';

const TENANT = 'bench-tenant';
const ENVIRONMENT = 'Staging';
const ctx = { userId: 'bench', correlationId: 'bench' };
const USAGE = `usage: npm run bench:watch -- [options]
  --watchers <n>   clients following the environment (default 1000)
  --changes <n>    changes measured per mode (default 20)
  --help

  --scale          many streams under sustained writes, with a second API instance
                   (npm run bench:watch:scale); then:
  --streams <n>            event streams on the primary API instance (default 10000)
  --replica-streams <n>    event streams on the second instance (default 1000)
  --rate <n>               writes per second (default 200)
  --seconds <n>            how long to write (default 60)
  --environments <n>       environments followed, streams spread evenly (default 100)
  --keys <n>               configurations per environment (default 20)
  --in-flight <n>          writes waiting for their answer, at most (default 64)
  quick look: npm run bench:watch:scale -- --streams 1000 --replica-streams 100 --rate 50 --seconds 10`;

/** Milliseconds since the epoch, sub-millisecond, comparable across threads. */
const now = () => performance.timeOrigin + performance.now();

/**
 * The watchers, plain CommonJS in a worker thread (no tsx loader there), so that parsing their
 * answers does not compete with the server for the main thread. For every body it receives it
 * posts { etag, at }.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { url, token, watchers, mode } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const now = () => performance.timeOrigin + performance.now();
const auth = { Authorization: 'Bearer ' + token };
let ready = 0;
const seen = () => { if (++ready === watchers) parentPort.postMessage({ ready: true }); };

function stream() {
  let buffer = '';
  let first = true;
  const req = http.get(url, { agent, headers: { ...auth, Accept: 'text/event-stream' } }, (res) => {
    if (res.statusCode !== 200) return parentPort.postMessage({ error: 'stream answered ' + res.statusCode });
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf('\\n\\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const id = /^id: (.*)$/m.exec(block);
        if (!id) continue;
        if (first) { first = false; seen(); }
        else parentPort.postMessage({ etag: id[1], at: now() });
      }
    });
  });
  req.on('error', (e) => parentPort.postMessage({ error: String(e) }));
}

function poll(etag) {
  const headers = etag ? { ...auth, 'If-None-Match': '"' + etag + '"' } : auth;
  const req = http.get(etag ? url + '?wait=30' : url, { agent, headers }, (res) => {
    res.resume();
    res.on('end', () => {
      if (res.statusCode === 200) {
        const next = String(res.headers.etag).slice(1, -1);
        if (!etag) seen();
        else parentPort.postMessage({ etag: next, at: now() });
        poll(next);
      } else if (res.statusCode === 304) poll(etag);
      else parentPort.postMessage({ error: 'long poll answered ' + res.statusCode });
    });
  });
  req.on('error', (e) => parentPort.postMessage({ error: String(e) }));
}

for (let i = 0; i < watchers; i++) (mode === 'stream' ? stream() : poll());
parentPort.on('message', (m) => { if (m === 'stop') { agent.destroy(); process.exit(0); } });
`;

interface Stats {
  p50: number;
  p99: number;
  max: number;
}

function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

const fmt = (s: Stats) =>
  `p50 ${s.p50.toFixed(1).padStart(6)} ms  p99 ${s.p99.toFixed(1).padStart(6)} ms  max ${s.max.toFixed(1).padStart(6)} ms`;

async function main(watchers: number, changes: number) {
  const settings = loadSettings({
    ...process.env,
    ConnectionStrings__PostgreSQL: await createDatabase(),
    ConfigService__RedisKeyPrefix: redisPrefix,
    ASPNETCORE_ENVIRONMENT: 'Development',
    RateLimiting__ConfigGet: '1000000000',
    ConfigService__MaxWatchers: String(watchers + 10),
    Logging__LogLevel__Default: process.env.Logging__LogLevel__Default ?? 'Warning',
  });
  onCleanup('delete Redis keys', () => deleteRedisKeys(settings));
  const services = await buildServices(settings);
  onCleanup('close services', () => services.close());

  process.stdout.write(`database ${databaseName}, Redis prefix '${redisPrefix}', seeding ... `);
  await services.tenantCommands.create(
    { tenantId: TENANT, name: 'Bench', tier: 'Enterprise' },
    ctx,
  );
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    const { state } = await services.configCommands.create(
      { tenantId: TENANT, environment: ENVIRONMENT, key: `key-${i}`, type: 'String', value: 'v0' },
      ctx,
    );
    if (state.exists) ids.push(state.configId);
  }
  console.log('20 configs');

  // The projector follows the log as in production: it is what announces the changes.
  const projector = createProjector(services, { idleWaitMs: 1000 });
  projector.start();
  onCleanup('stop projector', () => projector.stop());
  const api = createApi(services);
  onCleanup('close API', () => api.close());
  const port = await listen(api.server);
  while (!api.cache.isSubscribed) await new Promise((r) => setTimeout(r, 20));

  const token = signToken(settings.jwt, { sub: 'bench', roles: ['reader'], tenant_id: TENANT });
  const path = `/api/v1/tenants/${TENANT}/environments/${ENVIRONMENT}/configs`;
  const url = `http://127.0.0.1:${port}${path}`;
  const versions = new Map(ids.map((id) => [id, 1]));
  let round = 0;

  /** One change through the service, timed from its answer. */
  async function change(): Promise<{ position: bigint; answeredAt: number }> {
    const id = ids[round++ % ids.length]!;
    const version = versions.get(id)!;
    const result = await services.configCommands.update(
      { configId: id, value: `v${round}-${randomUUID().slice(0, 8)}`, expectedVersion: version },
      ctx,
    );
    const answeredAt = now();
    versions.set(id, version + 1);
    return { position: result.position!, answeredAt };
  }

  // Baseline: the earliest a change can be read (read-your-writes waits for the projections).
  const baseline: number[] = [];
  for (let i = 0; i < changes; i++) {
    const { position, answeredAt } = await change();
    const res = await fetch(`${url}?minPosition=${position}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`read-your-writes answered ${res.status}`);
    baseline.push(now() - answeredAt);
    await new Promise((r) => setTimeout(r, 20));
  }
  const base = stats(baseline);
  console.log(`\n${watchers} watchers, ${changes} changes per mode, one change at a time\n`);
  console.log(`  read-your-writes GET (baseline)   ${fmt(base)}`);

  for (const mode of ['stream', 'long_poll'] as const) {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { url, token, watchers, mode },
    });
    const received = new Map<string, number[]>();
    let failure: string | undefined;
    const ready = new Promise<void>((resolve) => {
      worker.on('message', (m: { ready?: true; etag?: string; at?: number; error?: string }) => {
        if (m.ready) resolve();
        else if (m.error) failure ??= m.error;
        else if (m.etag !== undefined) {
          let list = received.get(m.etag);
          if (!list) received.set(m.etag, (list = []));
          list.push(m.at!);
        }
      });
    });
    await Promise.race([
      ready,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`${mode}: not ready`)), 60_000)),
    ]);
    const delays: number[] = [];
    const spreads: number[] = [];
    for (let i = 0; i < changes; i++) {
      const { position, answeredAt } = await change();
      const etag = position.toString();
      const deadline = Date.now() + 30_000;
      while ((received.get(etag)?.length ?? 0) < watchers) {
        if (failure) throw new Error(`${mode}: ${failure}`);
        if (Date.now() > deadline) {
          throw new Error(`${mode}: ${received.get(etag)?.length ?? 0}/${watchers} got ${etag}`);
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      const times = received.get(etag)!;
      for (const t of times) delays.push(t - answeredAt);
      spreads.push(Math.max(...times) - Math.min(...times));
      await new Promise((r) => setTimeout(r, 20));
    }
    worker.postMessage('stop');
    await worker.terminate();
    await new Promise((r) => setTimeout(r, 200)); // let the server see the clients go
    const s = stats(delays);
    const label = mode === 'stream' ? 'event stream, every watcher' : 'long poll, every watcher';
    console.log(`  ${label.padEnd(33)} ${fmt(s)}   p50 ${(s.p50 / base.p50).toFixed(2)}x baseline`);
    console.log(`  ${'  first to last watcher'.padEnd(33)} ${fmt(stats(spreads))}`);
  }
}

let watchers = 1000;
let changes = 20;
let scaleOptions: ScaleOptions | undefined;
try {
  const { values } = parseArgs({
    options: {
      watchers: { type: 'string', default: '1000' },
      changes: { type: 'string', default: '20' },
      scale: { type: 'boolean', default: false },
      streams: { type: 'string', default: '10000' },
      'replica-streams': { type: 'string', default: '1000' },
      rate: { type: 'string', default: '200' },
      seconds: { type: 'string', default: '60' },
      environments: { type: 'string', default: '100' },
      keys: { type: 'string', default: '20' },
      'in-flight': { type: 'string', default: '64' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  watchers = integer('watchers', values.watchers, 1);
  changes = integer('changes', values.changes, 1);
  if (values.scale) {
    scaleOptions = {
      streams: integer('streams', values.streams, 1),
      replicaStreams: integer('replica-streams', values['replica-streams'], 0),
      rate: integer('rate', values.rate, 1),
      seconds: integer('seconds', values.seconds, 1),
      environments: integer('environments', values.environments, 1),
      keys: integer('keys', values.keys, 1),
      inFlight: integer('in-flight', values['in-flight'], 1),
    };
  }
} catch (error) {
  console.error(error instanceof UsageError ? error.message : String(error));
  console.error(USAGE);
  process.exit(2);
}

cleanUpOnSignal('bench:watch');
let failed = false;
try {
  if (scaleOptions) await scale(scaleOptions);
  else await main(watchers, changes);
} catch (error) {
  failed = true;
  console.error(`\nbench:watch failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  if (!(await cleanUp())) failed = true;
}
if (failed) process.exitCode = 1;
