/**
 * bench:read --production: the service as the README runs it in production (`npm run build`,
 * then `npm start`, `npm run start:projector`, `npm run start:worker`: the package.json scripts'
 * commands, run directly so that the pid measured is the server's), and the bare node:http
 * baseline in a process of its own, so that both sides are a separate process as in production.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { onCleanup } from './support.js';

export const ROOT = path.resolve(import.meta.dirname, '..');

export interface Child {
  name: string;
  pid: number;
  /** The last lines it wrote (stdout and stderr), to explain a failure. */
  tail(): string;
}

/** Runs `npm run build`; throws with its output when it fails. */
export function build(): void {
  const r = spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}${r.stderr}`);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export function scriptCommand(script: string): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const command = pkg.scripts[script];
  if (!command) throw new Error(`package.json has no script '${script}'`);
  return command.split(/\s+/);
}

/** The pids of a process's children (a cluster's workers), from /proc. */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/**
 * Stops a child at cleanup: SIGTERM, then SIGKILL after `graceMs`. Returns whether it has
 * exited (by itself or stopped).
 */
export function stopAtCleanup(name: string, child: ChildProcess, graceMs: number): () => boolean {
  let exited = child.exitCode !== null;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  onCleanup(`stop ${name}`, async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  });
  return () => exited;
}

/** Starts a process; it is stopped (SIGTERM, then SIGKILL after 30 s) at cleanup. */
export function start(
  name: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
  /** Also append the process's output to this file. */
  logFile?: string,
): Child {
  const [command, ...args] = argv;
  const child: ChildProcess = spawn(command!, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (d: Buffer) => {
    lines.push(...d.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  if (logFile) {
    const append = (d: Buffer) => appendFileSync(logFile, d);
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
  }
  stopAtCleanup(name, child, 30_000);
  if (child.pid === undefined) throw new Error(`${name} did not start`);
  return { name, pid: child.pid, tail: () => lines.join('\n') };
}

/**
 * Valgrind's callgrind, instrumenting nothing until told (`callgrind_control -i on`): the
 * process runs at a fraction of its speed, but the instructions it executes for a fixed number
 * of requests do not depend on what else the machine is doing.
 */
export function callgrind(outDir: string, name: string): string[] {
  return [
    'valgrind',
    '--tool=callgrind',
    '--instr-atstart=no',
    // V8 writes and rewrites machine code at run time.
    '--smc-check=all-non-file',
    `--callgrind-out-file=${path.join(outDir, `${name}.%p`)}`,
  ];
}

/** `npm start`, `npm run start:projector` and `npm run start:worker`, from dist/. */
export function startService(
  env: NodeJS.ProcessEnv,
  options: {
    /** A command the API runs under (callgrind). */
    wrapApi?: string[];
    /** Node flags for the API process (--trace-gc, --cpu-prof, …). */
    apiNodeFlags?: string[];
    /** Also append the API's output to this file. */
    apiLog?: string;
  } = {},
): { api: Child; others: Child[] } {
  const { wrapApi = [], apiNodeFlags = [], apiLog } = options;
  const [node, ...args] = scriptCommand('start');
  const child = start('api', [...wrapApi, node!, ...apiNodeFlags, ...args], env, apiLog);
  const others = [
    start('projector', scriptCommand('start:projector'), env),
    start('worker', scriptCommand('start:worker'), env),
  ];
  return { api: child, others };
}

/** The baseline's code: plain CommonJS, the same server as bench/read-targets.ts's createBaseline. */
const BASELINE_SOURCE = `
const http = require('node:http');
const cluster = require('node:cluster');
const workers = Number(process.env.BENCH_WORKERS || 1);
if (workers > 1 && cluster.isPrimary) {
  // A node:http cluster: the primary hands connections to the workers (round-robin).
  for (let i = 0; i < workers; i++) cluster.fork();
  let listening = 0;
  cluster.on('listening', (w, address) => {
    if (++listening === workers) process.stdout.write('PORT ' + address.port + '\\n');
  });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    cluster.on('exit', () => { if (Object.keys(cluster.workers).length === 0) process.exit(0); });
  });
} else {
const { keepAliveTimeout, routes } = JSON.parse(process.env.BENCH_CANNED);
const canned = new Map(routes.map(([p, c]) => [p, { body: Buffer.from(c.body, 'base64'), headers: c.headers }]));
const notFound = Buffer.from('{"status":404}');
const server = http.createServer((req, res) => {
  const c = req.url === undefined ? undefined : canned.get(req.url);
  if (!c) {
    res.writeHead(404, { 'Content-Type': 'application/json', 'Content-Length': notFound.length });
    res.end(notFound);
    return;
  }
  res.writeHead(200, c.headers);
  res.end(c.body);
});
server.keepAliveTimeout = keepAliveTimeout;
const port = Number(process.env.BENCH_PORT || 0);
server.listen(port, '127.0.0.1', () => {
  if (!cluster.isWorker) process.stdout.write('PORT ' + server.address().port + '\\n');
});
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
}
`;

export async function startBaselineProcess(
  routes: Map<string, { body: Buffer; headers: Record<string, string | number> }>,
  keepAliveTimeout: number,
  wrap: string[] = [],
  /** > 1: a node:http cluster of that many workers on one port. */
  workers = 1,
): Promise<{ child: Child; port: number }> {
  const canned = {
    keepAliveTimeout,
    routes: [...routes].map(([p, c]) => [
      p,
      { body: c.body.toString('base64'), headers: c.headers },
    ]),
  };
  // Workers of a cluster share a port the primary picked: a free one, given up front.
  const port = workers > 1 ? await freePort() : 0;
  const name = workers > 1 ? `baseline cluster (${workers} workers)` : 'baseline';
  // A file, not -e: cluster workers run the primary's script again.
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-baseline-'));
  onCleanup(`remove ${dir}`, async () => rmSync(dir, { recursive: true, force: true }));
  const script = path.join(dir, 'baseline.cjs');
  writeFileSync(script, BASELINE_SOURCE);
  const child = start(name, [...wrap, process.execPath, script], {
    ...process.env,
    BENCH_CANNED: JSON.stringify(canned),
    BENCH_WORKERS: String(workers),
    BENCH_PORT: String(port),
  });
  const deadline = Date.now() + (wrap.length ? 300_000 : 20_000);
  for (;;) {
    const m = /PORT (\d+)/.exec(child.tail());
    if (m) return { child, port: Number(m[1]) };
    if (Date.now() > deadline)
      throw new Error(`the baseline process did not start:\n${child.tail()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Zeroes the counters of a process running under callgrind and turns instrumentation on. */
export function callgrindStart(pid: number): void {
  control(pid, ['-i', 'on']);
  control(pid, ['-z']);
}

/** Dumps, turns instrumentation off and returns the instructions executed since the start. */
export async function callgrindStop(pid: number, outDir: string, name: string): Promise<number> {
  const before = dumpsOf(pid, outDir, name).length;
  control(pid, ['-d']);
  // The process writes the dump when it next looks at its commands, and writing the API's (many
  // JIT-compiled functions) can take minutes under valgrind on a busy machine: wait for all of it.
  const deadline = Date.now() + 900_000;
  for (;;) {
    const dumps = dumpsOf(pid, outDir, name);
    if (dumps.length > before) {
      const text = readFileSync(path.join(outDir, dumps[0]!), 'utf8');
      const m = /^summary:\s+(\d+)/m.exec(text);
      if (m && /^totals:/m.test(text)) {
        control(pid, ['-i', 'off']);
        return Number(m[1]);
      }
    }
    if (Date.now() > deadline) {
      throw new Error(
        `callgrind wrote no dump for ${name} (${pid}); ${outDir} has ${readdirSync(outDir).join(', ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The process's dump files, newest first. */
function dumpsOf(pid: number, outDir: string, name: string): string[] {
  return readdirSync(outDir)
    .filter((f) => f.startsWith(`${name}.${pid}.`))
    .sort(
      (a, b) => Number(b.slice(b.lastIndexOf('.') + 1)) - Number(a.slice(a.lastIndexOf('.') + 1)),
    );
}

function control(pid: number, args: string[]): void {
  const r = spawnSync('callgrind_control', [...args, String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`callgrind_control ${args.join(' ')} ${pid} failed: ${r.stdout}${r.stderr}`);
  }
}
