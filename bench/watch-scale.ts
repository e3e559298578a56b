/**
 * bench:watch --scale: many event streams and a sustained write rate (issue 14).
 *
 * Processes, as in production: a projector, the primary API instance and a second API instance
 * (the replica fan-out: it learns of changes the same way, through Redis), each its own process
 * (bench/watch-instance.ts). This process seeds the data, holds the watchers (plain `node:http`
 * in a worker thread) and makes the writes (PUT /api/v1/configs/{id} with expectedVersion, at a
 * fixed rate over random keys of random environments).
 *
 * For every change and every watcher of its environment: the time from the write's HTTP answer
 * to the first event on that stream whose id (the environment's ETag, the position of its last
 * change) is at or past the change. A stream may skip an id (several changes between two reads
 * are sent as one snapshot); the change then counts as delivered by that snapshot. A change a
 * watcher had before its answer arrived counts as 0 ms. RSS per open stream: the primary's RSS
 * after all streams opened minus before, over the streams it holds.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { buildServices } from '../src/composition.js';
import { loadSettings } from '../src/core/settings/settings.js';
import { signToken } from '../src/core/auth/auth.js';
import {
  createDatabase,
  databaseName,
  deleteRedisKeys,
  onCleanup,
  redisPrefix,
} from './support.js';
import { stopAtCleanup } from './processes.js';

export interface ScaleOptions {
  streams: number;
  replicaStreams: number;
  rate: number;
  seconds: number;
  environments: number;
  keys: number;
  /** Writes waiting for their answer, at most: beyond it the rate is what the service keeps. */
  inFlight: number;
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;

/** The watchers: CommonJS in a worker thread (no tsx loader there). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { targets } = workerData; // [{ url, token, env, instance }]
const now = () => performance.timeOrigin + performance.now();
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
// Latency histograms per instance, 0.1 ms bins up to 60 s.
const BINS = 600000;
const hist = [new Uint32Array(BINS + 1), new Uint32Array(BINS + 1)];
const record = (instance, ms) => { hist[instance][Math.min(BINS, Math.max(0, Math.round(ms * 10)))]++; };
// Per environment: the changes answered so far, sorted by position, with their answer times.
const changes = new Map(); // env -> { pos: number[], at: number[] }
const watchers = []; // { env, instance, last, ready }
const byEnv = new Map(); // env -> watcher[]
let ready = 0, failures = 0, lastError = '', early = 0;
function covered(list, from, to) { // indexes i with from < pos[i] <= to
  let lo = 0, hi = list.pos.length;
  while (lo < hi) { const m = (lo + hi) >> 1; if (list.pos[m] <= from) lo = m + 1; else hi = m; }
  return lo;
}
function onEvent(w, id, at) {
  if (!w.ready) { w.ready = true; w.last = id; ready++; return; }
  if (id <= w.last) return;
  const list = changes.get(w.env);
  if (list) {
    for (let i = covered(list, w.last, id); i < list.pos.length && list.pos[i] <= id; i++) {
      record(w.instance, at - list.at[i]);
    }
  }
  w.last = id;
}
function open(i) {
  const t = targets[i];
  const w = { env: t.env, instance: t.instance, last: 0, ready: false };
  watchers.push(w);
  let list = byEnv.get(t.env); if (!list) byEnv.set(t.env, (list = [])); list.push(w);
  let buffer = '';
  const req = http.get(t.url, { agent, headers: { Authorization: 'Bearer ' + t.token, Accept: 'text/event-stream' } }, (res) => {
    if (res.statusCode !== 200) { failures++; lastError = 'stream answered ' + res.statusCode; res.resume(); return; }
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      const at = now();
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf('\\n\\n')) >= 0) {
        if (buffer.startsWith('id: ')) onEvent(w, Number(buffer.slice(4, buffer.indexOf('\\n'))), at);
        buffer = buffer.slice(end + 2);
      }
    });
    res.on('close', () => { if (!stopping) { failures++; lastError = 'stream closed by the server'; } });
  });
  req.on('error', (e) => { if (!stopping) { failures++; lastError = String(e); } });
}
let stopping = false;
function quantile(h, q) {
  let total = 0; for (let i = 0; i <= BINS; i++) total += h[i];
  if (!total) return { n: 0 };
  const want = [0.5, 0.99, 1].map((p) => Math.max(1, Math.ceil(p * total)));
  const out = []; let seen = 0, k = 0;
  for (let i = 0; i <= BINS && k < want.length; i++) { seen += h[i]; while (k < want.length && seen >= want[k]) { out.push(i / 10); k++; } }
  return { n: total, p50: out[0], p99: out[1], max: out[2] };
}
parentPort.on('message', (m) => {
  if (m.type === 'open') {
    for (let i = m.from; i < m.to; i++) open(i);
  } else if (m.type === 'answer') {
    let list = changes.get(m.env); if (!list) changes.set(m.env, (list = { pos: [], at: [] }));
    let i = list.pos.length; while (i > 0 && list.pos[i - 1] > m.pos) i--;
    list.pos.splice(i, 0, m.pos); list.at.splice(i, 0, m.at);
    // Watchers that already had it (their event came before the answer reached us): 0 ms.
    for (const w of byEnv.get(m.env) || []) if (w.ready && w.last >= m.pos) { record(w.instance, 0); early++; }
  } else if (m.type === 'status') {
    let behind = 0;
    for (const w of watchers) { const l = changes.get(w.env); if (!w.ready || (l && w.last < l.pos[l.pos.length - 1])) behind++; }
    parentPort.postMessage({ type: 'status', ready, failures, lastError, behind });
  } else if (m.type === 'report') {
    parentPort.postMessage({ type: 'report', primary: quantile(hist[0]), replica: quantile(hist[1]), early });
  } else if (m.type === 'stop') {
    stopping = true; agent.destroy(); process.exit(0);
  }
});
parentPort.postMessage({ type: 'started' });
`;

interface Quantiles {
  n: number;
  p50?: number;
  p99?: number;
  max?: number;
}

interface Child {
  pid: number;
  port?: number;
  /** What it wrote last (to explain a failure). */
  tail(): string;
}

/** Starts bench/watch-instance.ts; stopped (SIGTERM, then SIGKILL) at cleanup. */
async function startInstance(
  role: 'api' | 'projector',
  env: NodeJS.ProcessEnv,
  name: string,
): Promise<Child> {
  const script = path.join(import.meta.dirname, 'watch-instance.ts');
  // The same node and loader (tsx) as this process.
  const child = spawn(process.execPath, [...process.execArgv, script, role], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const exited = stopAtCleanup(name, child, 15_000);
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited()) throw new Error(`${name} exited:\n${output}`);
    const port = /PORT (\d+)/.exec(output);
    const tail = () => output;
    if (role === 'api' && port) return { pid: child.pid!, port: Number(port[1]), tail };
    if (role === 'projector' && output.includes('READY')) return { pid: child.pid!, tail };
    if (Date.now() > deadline) throw new Error(`${name} did not start:\n${output}`);
    await sleep(50);
  }
}

/** CPU seconds of the run database's PostgreSQL backends (those connected now). */
async function pgCpuSeconds(db: { query: (sql: string) => Promise<{ rows: { pid: number }[] }> }) {
  const { rows } = await db.query(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
  );
  let total = 0;
  for (const { pid } of rows) {
    try {
      total += cpuSeconds(pid);
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

const rssKb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
/** CPU seconds (user + system) a process has used. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

export async function scale(o: ScaleOptions): Promise<void> {
  const jwtSecret = `bench-${Math.random().toString(36).slice(2)}-${'x'.repeat(32)}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ConnectionStrings__PostgreSQL: await createDatabase(),
    ConfigService__RedisKeyPrefix: redisPrefix,
    ASPNETCORE_ENVIRONMENT: 'Development',
    JWT__Secret: jwtSecret,
    RateLimiting__ConfigGet: '1000000000',
    RateLimiting__ConfigCreate: '1000000000',
    ConfigService__MaxWatchers: String(Math.max(o.streams, o.replicaStreams) + 100),
    Logging__LogLevel__Default: process.env.Logging__LogLevel__Default ?? 'Warning',
  };
  const settings = loadSettings(env);
  onCleanup('delete Redis keys', () => deleteRedisKeys(settings));
  const services = await buildServices(settings);
  onCleanup('close services', () => services.close());
  console.log(`database ${databaseName}, Redis prefix '${redisPrefix}'`);

  // Seed: one tenant per environment followed, `keys` configurations in its Staging.
  const ctx = { userId: 'bench', correlationId: 'bench' };
  const configs: { env: number; configId: string; version: number; busy: boolean }[] = [];
  process.stdout.write(`seeding ${o.environments} environments × ${o.keys} keys ... `);
  await Promise.all(
    Array.from({ length: o.environments }, async (_, e) => {
      const tenantId = `watch-${e}`;
      await services.tenantCommands.create(
        { tenantId, name: `Watch ${e}`, tier: 'Enterprise' },
        ctx,
      );
      for (let k = 0; k < o.keys; k++) {
        const { state } = await services.configCommands.create(
          { tenantId, environment: 'Staging', key: `key-${k}`, type: 'String', value: 'v0' },
          ctx,
        );
        if (state.exists)
          configs.push({ env: e, configId: state.configId, version: state.version, busy: false });
      }
    }),
  );
  console.log(`${configs.length} configurations`);

  const projector = await startInstance('projector', env, 'projector');
  const primary = await startInstance('api', env, 'primary API');
  const replica = await startInstance('api', env, 'replica API');
  console.log(
    `processes: projector ${projector.pid}, primary API ${primary.pid} (port ${primary.port}), ` +
      `replica API ${replica.pid} (port ${replica.port})`,
  );

  const writer = signToken(settings.jwt, { sub: 'bench-writer', roles: ['platform-admin'] });
  const readers = Array.from({ length: o.environments }, (_, e) =>
    signToken(settings.jwt, { sub: 'bench-reader', roles: ['reader'], tenant_id: `watch-${e}` }),
  );
  const targets = [
    ...Array.from({ length: o.streams }, (_, i) => ({ i, port: primary.port!, instance: 0 })),
    ...Array.from({ length: o.replicaStreams }, (_, i) => ({
      i,
      port: replica.port!,
      instance: 1,
    })),
  ].map(({ i, port, instance }) => {
    const e = i % o.environments;
    return {
      url: `http://127.0.0.1:${port}/api/v1/tenants/watch-${e}/environments/Staging/configs`,
      token: readers[e],
      env: e,
      instance,
    };
  });

  // The seed must be projected before the streams' first snapshots mean anything.
  const seedHead = await services.store.headPosition();
  await services.progress.waitFor(seedHead, ['read-model'], ['redis-cache']).catch(async () => {
    for (let i = 0; i < 600; i++) {
      if ((await services.progress.redisCheckpoint('redis-cache')) >= seedHead) return;
      await sleep(100);
    }
    throw new Error('the projector did not project the seed in 60 s');
  });

  await sleep(1000);
  const rssBefore = rssKb(primary.pid);
  const replicaRssBefore = rssKb(replica.pid);
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { targets } });
  onCleanup('stop watchers', async () => {
    worker.postMessage({ type: 'stop' });
    await worker.terminate();
  });
  let status = { ready: 0, failures: 0, lastError: '', behind: 0 };
  let report: { primary: Quantiles; replica: Quantiles; early: number } | undefined;
  worker.on('message', (m: { type: string } & typeof status) => {
    if (m.type === 'status') status = m;
    if (m.type === 'report') report = m as unknown as typeof report;
  });
  const poll = async () => {
    worker.postMessage({ type: 'status' });
    await sleep(200);
    if (status.failures) {
      throw new Error(
        `${status.failures} watcher failures; last: ${status.lastError}\n` +
          `primary API said:\n${primary.tail()}\nreplica API said:\n${replica.tail()}`,
      );
    }
  };

  // Open the streams in steps (the accept backlog is finite).
  const opening = Date.now();
  for (let from = 0; from < targets.length; from += 500) {
    const to = Math.min(targets.length, from + 500);
    worker.postMessage({ type: 'open', from, to });
    const deadline = Date.now() + 60_000;
    do {
      await poll();
      if (Date.now() > deadline) throw new Error(`only ${status.ready}/${to} streams opened`);
    } while (status.ready < to);
    process.stdout.write(`\rstreams open: ${status.ready}/${targets.length}`);
  }
  await sleep(2000);
  const rssOpen = rssKb(primary.pid);
  const replicaRssOpen = rssKb(replica.pid);
  console.log(
    ` in ${((Date.now() - opening) / 1000).toFixed(1)} s; primary RSS ${mb(rssBefore)} → ${mb(rssOpen)}` +
      ` (${(((rssOpen - rssBefore) * 1024) / o.streams / 1024).toFixed(1)} KB per stream), replica ` +
      `${mb(replicaRssBefore)} → ${mb(replicaRssOpen)}`,
  );

  // Sustained writes: one every 1000/rate ms, whatever the answers' latency (open loop).
  const answers: number[] = [];
  const answeredEnvs: number[] = [];
  let errors = 0;
  let skipped = 0;
  /** Writes that waited for a free slot: the service answered slower than the rate. */
  let late = 0;
  let lastError = '';
  const inFlight = new Set<Promise<void>>();
  const cpu0 = {
    primary: cpuSeconds(primary.pid),
    replica: cpuSeconds(replica.pid),
    projector: cpuSeconds(projector.pid),
    postgres: await pgCpuSeconds(services.pool),
  };
  const start = now();
  const total = Math.round(o.rate * o.seconds);
  let peakRss = rssOpen;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, rssKb(primary.pid))), 1000);
  for (let n = 0; n < total; n++) {
    const due = start + (n * 1000) / o.rate;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    while (inFlight.size >= o.inFlight) {
      late++;
      await Promise.race(inFlight);
    }
    if (n % o.rate === 0) process.stdout.write(`\rwriting: ${n}/${total}, ${errors} errors`);
    let c = configs[Math.floor(Math.random() * configs.length)]!;
    for (let tries = 0; c.busy && tries < 10; tries++)
      c = configs[Math.floor(Math.random() * configs.length)]!;
    if (c.busy) {
      skipped++;
      continue;
    }
    const config = c;
    config.busy = true;
    const p = (async () => {
      const sent = now();
      try {
        const res = await fetch(
          `http://127.0.0.1:${primary.port}/api/v1/configs/${config.configId}`,
          {
            method: 'PUT',
            headers: { Authorization: `Bearer ${writer}`, 'Content-Type': 'application/json' },
            body: JSON.stringify({
              value: `v${n}-${Math.random().toString(36).slice(2, 8)}`,
              expectedVersion: config.version,
            }),
          },
        );
        const body = (await res.json()) as { version?: number; position?: string; detail?: string };
        const at = now();
        if (res.status !== 200 || !body.position) {
          errors++;
          lastError = `${res.status} ${body.detail ?? ''}`;
          return;
        }
        config.version = body.version!;
        answers.push(at - sent);
        answeredEnvs.push(config.env);
        worker.postMessage({ type: 'answer', env: config.env, pos: Number(body.position), at });
      } catch (error) {
        errors++;
        lastError = String(error);
      } finally {
        config.busy = false;
      }
    })();
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }
  await Promise.all(inFlight);
  const wroteMs = now() - start;
  clearInterval(rssTimer);
  const cpu1 = {
    primary: cpuSeconds(primary.pid),
    replica: cpuSeconds(replica.pid),
    projector: cpuSeconds(projector.pid),
    postgres: await pgCpuSeconds(services.pool),
  };
  console.log(
    `\rwrote ${answers.length} changes in ${(wroteMs / 1000).toFixed(1)} s ` +
      `(${((answers.length * 1000) / wroteMs).toFixed(0)}/s; ${errors} errors${errors ? `, last: ${lastError}` : ''}, ` +
      `${skipped} skipped: every key busy; ${late} sent late: ${o.inFlight} writes were waiting)`,
  );

  // Every watcher must end with its environment's last change.
  const settle = Date.now();
  do {
    await poll();
    if (Date.now() - settle > 30_000) break;
  } while (status.behind > 0);
  worker.postMessage({ type: 'report' });
  while (!report) await sleep(20);
  const watchersOf = new Map<number, number>();
  for (const t of targets) watchersOf.set(t.env, (watchersOf.get(t.env) ?? 0) + 1);
  const expected = answeredEnvs.reduce((n, e) => n + (watchersOf.get(e) ?? 0), 0);
  const w = (q: Quantiles) =>
    q.n
      ? `p50 ${q.p50!.toFixed(1).padStart(7)} ms  p99 ${q.p99!.toFixed(1).padStart(7)} ms  max ${q.max!.toFixed(1).padStart(7)} ms`
      : 'none';
  const sorted = [...answers].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const cores = (k: keyof typeof cpu0) => ((cpu1[k] - cpu0[k]) / (wroteMs / 1000)).toFixed(2);
  console.log(
    `\n${o.streams} streams on the primary, ${o.replicaStreams} on the replica, ${o.environments} environments ` +
      `of ${o.keys} keys; ${o.rate} writes/s for ${o.seconds} s; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores\n`,
  );
  console.log(
    `  write answer (PUT)                 p50 ${at(0.5).toFixed(1).padStart(7)} ms  p99 ${at(0.99).toFixed(1).padStart(7)} ms`,
  );
  console.log(
    `  answer → every watcher, primary    ${w(report.primary)}  (${report.primary.n} deliveries)`,
  );
  console.log(
    `  answer → every watcher, replica    ${w(report.replica)}  (${report.replica.n} deliveries)`,
  );
  console.log(
    `  deliveries ${report.primary.n + report.replica.n} of ${expected} expected` +
      `${status.behind ? `; ${status.behind} watchers still behind after 30 s` : ''}; ${report.early} before the answer (0 ms)`,
  );
  console.log(
    `  RSS per open stream (primary): ${(((rssOpen - rssBefore) * 1024) / o.streams / 1024).toFixed(1)} KB; ` +
      `primary peak RSS ${mb(peakRss)} under load`,
  );
  console.log(
    `  CPU during the writes (cores): primary ${cores('primary')}, replica ${cores('replica')}, ` +
      `projector ${cores('projector')}, PostgreSQL (this database) ${cores('postgres')}`,
  );
  const p99 = Math.max(report.primary.p99 ?? Infinity, report.replica.p99 ?? 0);
  console.log(`  goal p99 < 100 ms: ${p99 < 100 ? 'met' : 'not met'} (${p99.toFixed(1)} ms)`);
}
