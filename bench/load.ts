/**
 * Load generators for the HTTP benchmarks and the CPU accounting around each run: autocannon in
 * a worker thread (default) or on the main thread (--in-process), or wrk as its own process.
 * A run ends early on SIGINT/SIGTERM (`interrupt`).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createHistogram } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import autocannon from 'autocannon';
import { runWrk } from './wrk.js';

// ---------------------------------------------------------------------------------------------
// Load: autocannon, in a worker thread (default) or on the main thread (--in-process).
// autocannon's own latency histogram has 1 ms resolution, useless for sub-millisecond answers,
// so each response time is also recorded in microseconds into a perf_hooks histogram.
// ---------------------------------------------------------------------------------------------

export interface LoadOptions {
  url: string;
  headers: Record<string, string>;
  duration: number;
  /** A fixed number of requests instead of a duration. */
  amount?: number;
  /** Seconds before a request counts as an error (autocannon's default: 10). */
  timeout?: number;
  connections: number;
  pipelining: number;
}

export interface Measurement {
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  total: number;
}

/** A measured run: autocannon's numbers plus what the CPU did meanwhile (Linux only). */
export interface Run extends Measurement {
  /** CPU time of the servers' thread per answered request, in microseconds. */
  cpuUsPerReq: number | undefined;
  /** Share of the run's wall time the servers' thread was on a CPU (1 = a whole core). */
  serverBusy: number | undefined;
  /** CPU used by everything outside this process during the run, in cores. */
  othersCores: number | undefined;
}

/** What autocannon hands back without aggregation (in a worker, or with skipAggregateResult). */
export interface RawResult {
  totalCompletedRequests: number;
  duration: number;
  non2xx: number;
  errors: number;
}

/**
 * An autocannon worker's code, plain CommonJS (a worker does not get tsx's loader): `prelude`
 * runs first (it may define what `instanceOptions`, the expression handed to autocannon, uses)
 * and `extra` adds fields to the measurement. Latency is recorded per answer in microseconds
 * (autocannon's own histogram has 1 ms steps).
 */
export function autocannonWorkerSource(
  prelude: string,
  instanceOptions: string,
  extra = '',
): string {
  return `
const { parentPort, workerData } = require('node:worker_threads');
const { createHistogram } = require('node:perf_hooks');
const autocannon = require(workerData.autocannonPath);
const latency = createHistogram();
${prelude}
const instance = autocannon(${instanceOptions}, (error, r) => {
  if (error) return parentPort.postMessage({ error: String((error && error.stack) || error) });
  parentPort.postMessage({
    measurement: {
      reqPerSec: r.totalCompletedRequests / r.duration,
      p50: latency.count ? latency.percentile(50) / 1000 : 0,
      p99: latency.count ? latency.percentile(99) / 1000 : 0,
      non2xx: r.non2xx,
      errors: r.errors,
      total: r.totalCompletedRequests,
      ${extra}
    },
  });
});
instance.on('response', (client, status, bytes, ms) => {
  if (status >= 200 && status < 300) latency.record(Math.max(1, Math.round(ms * 1000)));
});
instance.on('start', () => parentPort.postMessage({ started: true }));
parentPort.on('message', (m) => { if (m === 'stop') instance.stop(); });
`;
}

/** The fixed-request worker; it must compute exactly what `loadInProcess` computes. */
const WORKER_SOURCE = autocannonWorkerSource('', 'workerData.options');

export const autocannonPath = createRequire(import.meta.url).resolve('autocannon');

/** Stops the run in progress (SIGINT, SIGTERM). */
let stopCurrent: (() => void) | undefined;
let signalled = false;

/** SIGINT/SIGTERM: ends the run in progress; every later run throws 'interrupted'. */
export function interrupt(): void {
  signalled = true;
  stopCurrent?.();
}

export const interrupted = (): boolean => signalled;

export function loadInWorker(options: LoadOptions, onStart: () => void): Promise<Measurement> {
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

// CPU accounting from /proc: the server (this process's main thread, tid = pid, or the server's
// own process with --production), this process (with the load worker, and wrk once it has exited
// and been reaped: cutime + cstime) and the whole machine. Ticks are USER_HZ = 100 per second.
export const TICK_MS = 10;

export interface CpuSample {
  at: number;
  server: number;
  process: number;
  machine: number;
}

/** utime + stime (+ cutime + cstime) of a /proc/<pid>/stat line (fields 14–17). */
export function statTicks(line: string, children = false): number {
  const f = line.slice(line.lastIndexOf(')') + 2).split(' ');
  const own = Number(f[11]) + Number(f[12]);
  return children ? own + Number(f[13]) + Number(f[14]) : own;
}

/** Where the server's CPU time is read: a thread of this process, or a process of its own. */
export interface ServerCpu {
  statPath: string;
  /** More processes that serve too (a cluster's workers), added to statPath's. */
  morePaths?: string[];
  /** The server is a process of its own (not counted in this process's time). */
  separate: boolean;
}

export const IN_PROCESS_SERVER: ServerCpu = {
  statPath: `/proc/self/task/${process.pid}/stat`,
  separate: false,
};

export function sampleCpu(server: ServerCpu): CpuSample | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    const [user, nice, system, , , irq, softirq, steal] = cpu.slice(1).map(Number);
    const sample = {
      at: performance.now(),
      server: [server.statPath, ...(server.morePaths ?? [])].reduce(
        (sum, p) => sum + statTicks(readFileSync(p, 'utf8')),
        0,
      ),
      process: statTicks(readFileSync('/proc/self/stat', 'utf8'), true),
      machine: user! + nice! + system! + irq! + softirq! + (steal ?? 0),
    };
    return Object.values(sample).every(Number.isFinite) ? sample : undefined;
  } catch {
    return undefined;
  }
}

let wrkPath: string | undefined;

/** Where wrk is (findWrk), for --generator wrk. */
export function useWrk(path: string): void {
  wrkPath = path;
}

/** How load() generates load: the benchmark's options. */
export interface Generator {
  generator: 'autocannon' | 'wrk';
  threads: number;
  inProcess: boolean;
  connections: number;
  pipelining: number;
}

function loadWithWrk(
  options: LoadOptions,
  threads: number,
  onStart: () => void,
): Promise<Measurement> {
  return runWrk(
    wrkPath!,
    { ...options, seconds: options.duration, threads },
    onStart,
    (stop) => (stopCurrent = stop),
  ).then((r) => ({
    reqPerSec: r.requests / (r.durationUs / 1e6),
    p50: r.p50Us / 1000,
    p99: r.p99Us / 1000,
    non2xx: r.non2xx,
    errors: r.errors,
    total: r.requests,
  }));
}

export async function load(
  opts: Generator,
  label: string,
  url: string,
  headers: Record<string, string>,
  seconds: number,
  server: ServerCpu,
): Promise<Run> {
  const options: LoadOptions = {
    url,
    headers,
    duration: seconds,
    connections: opts.connections,
    pipelining: opts.pipelining,
  };
  if (signalled) throw new Error('interrupted');
  // From when the load generator starts (not when its worker does) to its result.
  let before: CpuSample | undefined;
  const onStart = () => {
    before = sampleCpu(server);
  };
  const m =
    opts.generator === 'wrk'
      ? await loadWithWrk(options, opts.threads, onStart)
      : await (opts.inProcess ? loadInProcess : loadInWorker)(options, onStart);
  const after = sampleCpu(server);
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
  const mineMs =
    (after.process - before.process + (server.separate ? after.server - before.server : 0)) *
    TICK_MS;
  const othersMs = (after.machine - before.machine) * TICK_MS - mineMs;
  return {
    ...m,
    cpuUsPerReq: (serverMs * 1000) / m.total,
    serverBusy: serverMs / wallMs,
    othersCores: Math.max(0, othersMs / wallMs),
  };
}
