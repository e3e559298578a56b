/**
 * wrk (https://github.com/wg/wrk; Debian: `apt-get install -y wrk`) as a second load generator
 * for bench:read. It runs as its own process, in C, so it takes less CPU per request than
 * autocannon and leaves the server as the bottleneck sooner. A Lua `done` hook prints the
 * numbers as one JSON line: latency in microseconds, as wrk records it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface WrkResult {
  requests: number;
  durationUs: number;
  p50Us: number;
  p99Us: number;
  /** connect, read, write and timeout errors */
  errors: number;
  /** answers with a status >= 400 (wrk counts nothing for 3xx) */
  non2xx: number;
}

const REPORT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nWRK_RESULT {"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"errors":%d,"non2xx":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
`;

/** The path of `wrk` when it is on PATH. */
export function findWrk(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' });
  const p = found.stdout.trim();
  return found.status === 0 && p ? p : undefined;
}

let scriptDir: string | undefined;
function reportScript(): string {
  if (!scriptDir) {
    scriptDir = mkdtempSync(path.join(tmpdir(), 'bench-wrk-'));
    writeFileSync(path.join(scriptDir, 'report.lua'), REPORT);
    process.once('exit', () => rmSync(scriptDir!, { recursive: true, force: true }));
  }
  return path.join(scriptDir, 'report.lua');
}

/**
 * Runs wrk once. `onStart` is called as soon as the process exists; `setStop` receives a
 * function that ends the run early (Ctrl-C).
 */
export function runWrk(
  wrk: string,
  options: {
    url: string;
    headers: Record<string, string>;
    seconds: number;
    connections: number;
    threads: number;
  },
  onStart: (pid: number) => void,
  setStop: (stop: (() => void) | undefined) => void,
): Promise<WrkResult> {
  // wrk needs at least one connection per thread.
  const threads = Math.min(options.threads, options.connections);
  const args = [
    '-t',
    String(threads),
    '-c',
    String(options.connections),
    '-d',
    `${options.seconds}s`,
    '--timeout',
    '5s',
    '-s',
    reportScript(),
  ];
  for (const [name, value] of Object.entries(options.headers)) args.push('-H', `${name}: ${value}`);
  args.push(options.url);
  return new Promise((resolve, reject) => {
    const child = spawn(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.on('spawn', () => onStart(child.pid!));
    setStop(() => child.kill('SIGINT'));
    child.on('error', (e) => {
      setStop(undefined);
      reject(e);
    });
    child.on('close', (code, signal) => {
      setStop(undefined);
      const line = /WRK_RESULT (\{.*\})/.exec(out);
      if (!line || code !== 0) {
        reject(new Error(`wrk ended (${signal ?? code}) without a result:\n${out.slice(-1000)}`));
        return;
      }
      resolve(JSON.parse(line[1]!) as WrkResult);
    });
  });
}
