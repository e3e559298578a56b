/**
 * bench:commands' load: autocannon in a worker thread (the servers keep the main thread's core),
 * sending writes that each need their own key: every request takes a free slot (a config with
 * the version it is at, or an etcd key) and gives it back when its answer arrives, so no two
 * requests in flight ever name the same config (each If-Match is current; no 409 by design).
 * With C connections and at least C slots a slot is always free.
 *
 * CPU accounting: per run, the CPU time of every process (or thread) that serves the target,
 * read from /proc before and after, so that CPU per request can be compared when the machine is
 * shared and req/s are not trustworthy.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { autocannonPath, autocannonWorkerSource, statTicks, TICK_MS } from './load.js';

/** One key a request can write: a config (app) or an etcd key. */
export type Slot = { path: string; version: number } | { key: string };

export interface WriteLoad {
  target: 'app' | 'etcd';
  url: string;
  headers: Record<string, string>;
  slots: Slot[];
  connections: number;
  duration: number;
}

export interface WriteMeasurement {
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  total: number;
  /** The first non-2xx answer, to say why. */
  firstFailure?: string;
}

/** The write worker: each request takes a free slot and gives it back with its answer. */
const WORKER_SOURCE = autocannonWorkerSource(
  `
const { target, slots, options } = workerData;
const free = slots.map((_, i) => i).reverse();
let seq = 0;
let firstFailure;
const requests = [{
  setupRequest(req, context) {
    const i = free.pop();
    if (i === undefined) throw new Error('more requests in flight than slots');
    context.i = i;
    const s = slots[i];
    seq++;
    if (target === 'app') {
      return { ...req, method: 'PUT', path: s.path,
        headers: { ...req.headers, 'If-Match': '"' + s.version + '"' },
        body: JSON.stringify({ value: seq, changeDescription: 'bench' }) };
    }
    return { ...req, method: 'POST', path: '/v3/kv/put',
      body: JSON.stringify({ key: s.key, value: Buffer.from(String(seq)).toString('base64') }) };
  },
  onResponse(status, body, context, headers) {
    const s = slots[context.i];
    if (status < 200 || status > 299) {
      if (!firstFailure) firstFailure = status + ' ' + String(body).slice(0, 300);
    } else if (target === 'app') {
      for (const name in headers) {
        if (name.toLowerCase() === 'etag') s.version = Number(String(headers[name]).replace(/\\D/g, ''));
      }
    }
    free.push(context.i);
  },
}];
`,
  '{ ...options, requests }',
  'firstFailure,',
);

let stopCurrent: (() => void) | undefined;
let signalled = false;

/** SIGINT/SIGTERM: ends the run in progress; later runs throw 'interrupted'. */
export function interruptWrites(): void {
  signalled = true;
  stopCurrent?.();
}

/** Throws once SIGINT/SIGTERM came: setup steps call it between steps. */
export function stopIfInterrupted(): void {
  if (signalled) throw new Error('interrupted');
}

/** One run; `onStart` is called when autocannon has started (to sample CPU). */
export function runWrites(load: WriteLoad, onStart: () => void): Promise<WriteMeasurement> {
  if (signalled) return Promise.reject(new Error('interrupted'));
  const options = {
    url: load.url,
    headers: { 'content-type': 'application/json', ...load.headers },
    connections: load.connections,
    duration: load.duration,
    pipelining: 1,
  };
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { autocannonPath, target: load.target, slots: load.slots, options },
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
    worker.on(
      'message',
      (m: { started?: true; error?: string; measurement?: WriteMeasurement }) => {
        if (m.started) return onStart();
        void worker.terminate();
        settle(() => (m.measurement ? resolve(m.measurement) : reject(new Error(m.error))));
      },
    );
    worker.on('error', (e) => settle(() => reject(e)));
    worker.on('exit', (code) =>
      settle(() => reject(new Error(`load worker exited (${code}) without a result`))),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// CPU: named groups of /proc stat files (a thread of this process, or whole processes)
// ---------------------------------------------------------------------------------------------

export interface CpuGroups {
  /** name → the /proc/.../stat paths to add up now (a function: processes come and go) */
  [name: string]: () => string[];
}

export interface CpuSnapshot {
  at: number;
  machine: number;
  ticks: Map<string, Map<string, number>>;
}

function machineTicks(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = cpu.slice(1).map(Number);
  return user! + nice! + system! + irq! + softirq! + (steal ?? 0);
}

export function snapshot(groups: CpuGroups): CpuSnapshot {
  const ticks = new Map<string, Map<string, number>>();
  for (const [name, paths] of Object.entries(groups)) {
    const byPath = new Map<string, number>();
    for (const p of paths()) {
      try {
        byPath.set(p, statTicks(readFileSync(p, 'utf8')));
      } catch {
        // gone meanwhile
      }
    }
    ticks.set(name, byPath);
  }
  return { at: performance.now(), machine: machineTicks(), ticks };
}

/**
 * CPU milliseconds per group between two snapshots (only what was there both times counts),
 * `others`: everything else the machine ran, and the wall time. `within` names groups that are
 * part of another one (a thread of a process that is counted whole): not added twice.
 */
export function cpuBetween(
  before: CpuSnapshot,
  after: CpuSnapshot,
  within: string[] = [],
): { wallMs: number; perGroup: Map<string, number>; othersMs: number } {
  const perGroup = new Map<string, number>();
  let mine = 0;
  for (const [name, byPath] of after.ticks) {
    let ms = 0;
    for (const [p, t] of byPath) {
      const b = before.ticks.get(name)?.get(p);
      if (b !== undefined) ms += (t - b) * TICK_MS;
    }
    perGroup.set(name, ms);
    if (!within.includes(name)) mine += ms;
  }
  return {
    wallMs: after.at - before.at,
    perGroup,
    othersMs: Math.max(0, (after.machine - before.machine) * TICK_MS - mine),
  };
}
