/**
 * Write benchmark (npm run bench:commands -- [--duration 10] [--connections 1,50]).
 *
 * Config updates through the HTTP API (PUT /api/v1/configs/{id} with a bearer token, body
 * validation, If-Match, the command handler's read-decide-append, the answer) next to etcd's PUT
 * through its JSON gateway (POST /v3/kv/put, base64 key and value), in the same run, in
 * alternating rounds, at each connection count; prints req/s, p50, p99, CPU per request and the
 * ratio app/etcd per round and their medians. See bench/README.md.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { cleanUp, integer, UsageError } from './support.js';
import { fmtMs, fmtRate, median, table } from './report.js';
import {
  cpuBetween,
  interruptWrites,
  runWrites,
  snapshot,
  type CpuGroups,
  type CpuSnapshot,
  type Slot,
  type WriteMeasurement,
} from './commands-load.js';
import {
  backendStats,
  etcdSlots,
  onPath,
  processStat,
  startApp,
  startEtcd,
  type App,
  type Etcd,
} from './commands-targets.js';
import { summarizeProfile } from './profile.js';

const GOAL = 1.0;
const DISTURBED_CORES = 0.25;

const USAGE = `usage: npm run bench:commands -- [options]
  --duration <s>        seconds per measured run (default 10)
  --connections <list>  connection counts, comma-separated (default 1,50)
  --rounds <n>          etcd-then-app pairs per connection count; medians reported (default 3)
  --warmup <s>          unmeasured seconds per target and connection count (default 2)
  --without-projector   no projector process (by default one follows the log, as in production)
  --cpu-prof <file>     write a CPU profile (.cpuprofile) of the API's thread during the app runs
                        at the largest connection count, and print its top functions
  --help`;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '1,50' },
      rounds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '2' },
      'without-projector': { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const connections = values.connections.split(',').map((c) => integer('connections', c, 1));
  if (connections.length === 0) throw new UsageError('--connections needs at least one count');
  return {
    duration: integer('duration', values.duration, 1),
    connections,
    rounds: integer('rounds', values.rounds, 1),
    warmup: integer('warmup', values.warmup, 0),
    projector: !values['without-projector'],
    cpuProf: values['cpu-prof'],
    help: values.help,
  };
}
type Options = ReturnType<typeof parseOptions>;

interface Run extends WriteMeasurement {
  /** Server CPU per answered request (µs), and its parts. */
  cpuUsPerReq: number;
  parts: Map<string, number>;
  othersCores: number;
}

interface Target {
  name: 'etcd' | 'app';
  url: string;
  headers: Record<string, string>;
  slots: () => Promise<Slot[]>;
  /** The CPU groups that serve this target (and the rest, to tell the load apart). */
  groups: () => Promise<CpuGroups>;
  /** Groups whose CPU is the server's. */
  server: string[];
}

const MAIN_THREAD = `/proc/self/task/${process.pid}/stat`;

function targets(app: App, etcd: Etcd | undefined): Target[] {
  const list: Target[] = [];
  if (etcd) {
    list.push({
      name: 'etcd',
      url: etcd.url,
      headers: {},
      slots: async () => etcdSlots(app.configIds.length),
      groups: async () => ({ etcd: () => processStat(etcd.pid), bench: () => ['/proc/self/stat'] }),
      server: ['etcd'],
    });
  }
  list.push({
    name: 'app',
    url: app.url,
    headers: { authorization: `Bearer ${app.token}` },
    slots: () => app.slots(),
    groups: async () => {
      const backends = await app.backendPids();
      return {
        api: () => [MAIN_THREAD],
        postgres: () => backendStats(backends),
        projector: () => processStat(app.projectorPid),
        bench: () => ['/proc/self/stat'],
      };
    },
    server: ['api', 'postgres', 'projector'],
  });
  return list;
}

async function measure(
  t: Target,
  connections: number,
  seconds: number,
  label: string,
): Promise<Run> {
  const groups = await t.groups();
  let before: CpuSnapshot | undefined;
  const m = await runWrites(
    {
      target: t.name,
      url: t.url,
      headers: t.headers,
      slots: await t.slots(),
      connections,
      duration: seconds,
    },
    () => (before = snapshot(groups)),
  );
  const after = snapshot(groups);
  // A warm-up may see no answer at all on a busy machine; a measured run must see some.
  const warmUp = label.startsWith('warm-up');
  if (m.non2xx > 0 || m.errors > 0 || (m.total === 0 && !warmUp)) {
    throw new Error(
      `${label}: ${m.non2xx} non-2xx answers and ${m.errors} connection errors of ${m.total}` +
        (m.firstFailure ? `; first: ${m.firstFailure}` : ''),
    );
  }
  if (m.total === 0) return { ...m, cpuUsPerReq: 0, parts: new Map(), othersCores: 0 };
  // The API's thread is part of this process (bench): counted once.
  const cpu = cpuBetween(before!, after, ['api']);
  const parts = new Map<string, number>();
  let serverMs = 0;
  for (const name of t.server) {
    const ms = cpu.perGroup.get(name) ?? 0;
    parts.set(name, (ms * 1000) / m.total);
    serverMs += ms;
  }
  const benchMs = (cpu.perGroup.get('bench') ?? 0) - (cpu.perGroup.get('api') ?? 0);
  parts.set('load generator', (benchMs * 1000) / m.total);
  return {
    ...m,
    cpuUsPerReq: (serverMs * 1000) / m.total,
    parts,
    othersCores: cpu.othersMs / cpu.wallMs,
  };
}

const describeParts = (r: Run) => [...r.parts].map(([n, us]) => `${n} ${us.toFixed(0)}`).join(', ');

async function main(opts: Options): Promise<void> {
  const etcdPath = onPath('etcd');
  if (!etcdPath) {
    console.log(
      'etcd is not on PATH (Debian/Ubuntu: apt-get install etcd-server): measuring the API ' +
        'alone, without the ratio to etcd',
    );
  }
  const slotCount = Math.max(...opts.connections);
  const app = await startApp(slotCount, opts.projector);
  const etcd = etcdPath ? await startEtcd(etcdPath) : undefined;
  const list = targets(app, etcd);
  console.log(
    `\n${opts.duration} s per run, connections ${opts.connections.join(' and ')}, ` +
      `${opts.rounds} round(s) of ${list.map((t) => t.name).join(' then ')}, ${opts.warmup} s ` +
      `warm-up each; autocannon in a worker thread, each request on a key no other request in ` +
      `flight writes\n` +
      `  app   PUT ${app.url}/api/v1/configs/{id} (editor JWT, If-Match, {"value":n,...}); ` +
      `API on this process's main thread, PostgreSQL, ` +
      (opts.projector ? 'projector process (from source)' : 'no projector') +
      (etcd
        ? `\n  etcd  POST ${etcd.url}/v3/kv/put (${etcd.version}, one member, temp data dir)`
        : '') +
      `\nCPU us/req: the server side's CPU per answered request (app: API thread + PostgreSQL ` +
      `backends of the bench database + projector; etcd: its process)\n`,
  );

  const rows = [
    ['conns', 'target', 'req/s', 'p50 ms', 'p99 ms', 'CPU us/req', '/etcd', 'CPU ratio'],
  ];
  const verdicts: string[] = [];
  let busiest = 0;
  let profiler: Session | undefined;
  for (const c of opts.connections) {
    const runs = new Map<string, Run[]>();
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    for (const t of list) {
      if (opts.warmup > 0) await measure(t, c, opts.warmup, `warm-up ${t.name} ${c}`);
    }
    const profile = opts.cpuProf !== undefined && c === slotCount;
    for (let round = 1; round <= opts.rounds; round++) {
      const inRound = new Map<string, Run>();
      for (const t of list) {
        if (profile && t.name === 'app' && round === 1) {
          profiler = new Session();
          profiler.connect();
          await profiler.post('Profiler.enable');
          await profiler.post('Profiler.start');
        }
        const r = await measure(t, c, opts.duration, `${t.name} ${c} round ${round}`);
        inRound.set(t.name, r);
        runs.set(t.name, [...(runs.get(t.name) ?? []), r]);
        busiest = Math.max(busiest, r.othersCores);
        let ratio = '';
        const e = inRound.get('etcd');
        if (t.name === 'app' && e) {
          ratios.push(r.reqPerSec / e.reqPerSec);
          cpuRatios.push(e.cpuUsPerReq / r.cpuUsPerReq);
          ratio = `  app/etcd ${ratios.at(-1)!.toFixed(2)} (CPU ${cpuRatios.at(-1)!.toFixed(2)})`;
        }
        console.log(
          `  ${String(c).padStart(3)} conns  round ${round}  ${t.name.padEnd(4)}  ` +
            `${fmtRate(r.reqPerSec).padStart(6)} req/s  p50 ${fmtMs(r.p50)} ms  ` +
            `p99 ${fmtMs(r.p99)} ms  | CPU us/req ${r.cpuUsPerReq.toFixed(0)} ` +
            `(${describeParts(r)}); other processes ${r.othersCores.toFixed(2)} cores${ratio}`,
        );
      }
    }
    for (const t of list) {
      const ms = runs.get(t.name)!;
      const isApp = t.name === 'app' && ratios.length > 0;
      rows.push([
        String(c),
        t.name,
        fmtRate(median(ms.map((m) => m.reqPerSec))),
        fmtMs(median(ms.map((m) => m.p50))),
        fmtMs(median(ms.map((m) => m.p99))),
        median(ms.map((m) => m.cpuUsPerReq)).toFixed(0),
        isApp ? median(ratios).toFixed(2) : '',
        isApp ? median(cpuRatios).toFixed(2) : '',
      ]);
    }
    if (ratios.length && c === 50) {
      const q = median(ratios);
      verdicts.push(
        `  50 connections: app/etcd ${q.toFixed(2)} ${q >= GOAL ? '>=' : '< '} ${GOAL}: ` +
          (q >= GOAL ? 'goal met' : 'goal NOT met'),
      );
    }
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      writeFileSync(opts.cpuProf!, JSON.stringify(profile));
      console.log(
        `\nCPU profile of the API's thread (app runs, ${c} connections): ${opts.cpuProf}`,
      );
      console.log(summarizeProfile(profile, 25));
    }
  }
  console.log(
    `\nMedians over ${opts.rounds} round(s); /etcd and CPU ratio (etcd CPU/req ÷ app CPU/req) ` +
      `are medians of the rounds' ratios:\n\n${table(rows)}`,
  );
  if (verdicts.length)
    console.log(`Goal: config update req/s >= ${GOAL} x etcd PUT\n${verdicts.join('\n')}`);
  if (busiest > DISTURBED_CORES) {
    console.log(
      `\nWARNING: other processes used up to ${busiest.toFixed(2)} cores during a measured run ` +
        `(this machine has ${availableParallelism()}): req/s and the ratio are unreliable; ` +
        `compare CPU per request.`,
    );
  }
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
  interruptWrites();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

let failed = false;
try {
  await main(opts);
} catch (error) {
  failed = true;
  console.error(
    `\nbench:commands failed: ${error instanceof Error ? error.message : String(error)}`,
  );
} finally {
  if (!(await cleanUp())) failed = true;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}
if (failed) process.exitCode = 1;
