/**
 * The service's processes and scripts run as an operator runs them: `npm run <script> -- …` for
 * the CLIs (as the README shows), and `node --import tsx src/main/<process>.ts` (what `npm run
 * dev:*` runs, without npm in between, so that a signal reaches the process itself).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { redisPrefix, redisUrl, testDbConnectionString } from './test-env.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The environment of a process under test: this run's database, a Redis prefix of its own. */
export function processEnv(overrides: Record<string, string | undefined> = {}) {
  const env: Record<string, string | undefined> = {
    ...process.env,
    ASPNETCORE_ENVIRONMENT: 'Test',
    ConnectionStrings__PostgreSQL: testDbConnectionString,
    ConnectionStrings__Redis: redisUrl,
    ConfigService__RedisKeyPrefix: `${redisPrefix}${randomBytes(3).toString('hex')}:`,
    JWT__Secret: 'test-secret-that-is-long-enough-0123456789',
    Logging__LogLevel__Default: 'Information',
    // Not the shared settings directory of whoever runs the tests.
    CONFIG_SERVICE_SETTINGS_DIR: '/nonexistent',
    ...overrides,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env as NodeJS.ProcessEnv;
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `npm run -s <script> -- args`, to its end. */
export function npmRun(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<Finished> {
  const child = spawn('npm', ['run', '-s', script, ...(args.length ? ['--', ...args] : [])], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return finished(new Running(child), timeoutMs);
}

async function finished(p: Running, timeoutMs: number): Promise<Finished> {
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  try {
    const { code, signal } = await p.exited;
    return { code, signal, stdout: p.stdout, stderr: p.stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** A running process with its output collected. */
export class Running {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters: { test: () => boolean; resolve: () => void }[] = [];

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.check();
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      this.check();
    });
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        resolve({ code, signal });
        this.check();
      }),
    );
  }

  get output(): string {
    return this.stdout + this.stderr;
  }

  /** JSON log lines of stdout. */
  get logs(): Record<string, unknown>[] {
    return this.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  private check() {
    for (const w of [...this.waiters]) {
      if (w.test()) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /** Resolves once the output matches; rejects if the process exits first. */
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<void> {
    if (pattern.test(this.output)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${this.output}`)),
        timeoutMs,
      );
      const entry = {
        test: () => pattern.test(this.output) || this.child.exitCode !== null,
        resolve: () => {
          clearTimeout(timer);
          if (pattern.test(this.output)) resolve();
          else reject(new Error(`exited before ${pattern}; output:\n${this.output}`));
        },
      };
      this.waiters.push(entry);
      if (entry.test()) entry.resolve();
    });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.child.kill(signal);
  }

  /** Kills it (SIGKILL) if still running, and waits for the exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Starts `src/main/<name>.ts` (api, projector, worker, all) with tsx, as `npm run dev*` does. */
export function startProcess(name: string, env: NodeJS.ProcessEnv, args: string[] = []): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', `src/main/${name}.ts`, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Running(child);
}

/** Runs `src/main/<name>.ts` to its end. */
export function runProcess(
  name: string,
  env: NodeJS.ProcessEnv,
  args: string[] = [],
  timeoutMs = 60_000,
): Promise<Finished> {
  return finished(startProcess(name, env, args), timeoutMs);
}
