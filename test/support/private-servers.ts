/**
 * Private Redis and PostgreSQL servers for tests that stop, kill or restart them: each on a free
 * port, with its data in a temporary directory removed afterwards. The shared servers
 * (127.0.0.1:5432, :6379) are never touched.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export async function redisPing(port: number): Promise<boolean> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** A redis-server of our own; with `persist`, its data (AOF) survives a stop and start. */
export class PrivateRedis {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: string[],
  ) {}

  static async start(
    options: { persist?: boolean; args?: string[]; port?: number } = {},
  ): Promise<PrivateRedis> {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfgsvc-redis-'));
    const port = options.port ?? (await freePort());
    const args = [
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      options.persist ? 'yes' : 'no',
      '--appendfsync',
      'always',
      '--dir',
      dir,
      ...(options.args ?? []),
    ];
    const redis = new PrivateRedis(port, dir, args);
    await redis.startServer();
    return redis;
  }

  /** The ConnectionStrings__Redis value. */
  get connectionString(): string {
    return `127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process !== undefined;
  }

  async startServer(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), ...this.args], {
      stdio: 'ignore',
    });
    this.process = child;
    child.on('exit', () => {
      if (this.process === child) this.process = undefined;
    });
    await until(`redis-server on ${this.port}`, () => redisPing(this.port));
  }

  /** Stops it: SIGKILL (a crash) by default, or SIGTERM (a clean shutdown). */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.process;
    if (!child) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
    this.process = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A Redis Sentinel of our own (`redis-server <conf> --sentinel`, the same binary as
 * redis-sentinel) watching one master, quick to call it down (1 s) and fail over.
 */
export class PrivateSentinel {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(masterName: string, masterPort: number, quorum = 1): Promise<PrivateSentinel> {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfgsvc-sentinel-'));
    const port = await freePort();
    writeFileSync(
      path.join(dir, 'sentinel.conf'),
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} ${quorum}`,
        `sentinel down-after-milliseconds ${masterName} 1000`,
        `sentinel failover-timeout ${masterName} 5000`,
        `sentinel parallel-syncs ${masterName} 1`,
        '',
      ].join('\n'),
    );
    const sentinel = new PrivateSentinel(port, dir);
    sentinel.process = spawn('redis-server', [path.join(dir, 'sentinel.conf'), '--sentinel'], {
      stdio: 'ignore',
    });
    await until(`redis-sentinel on ${port}`, () => redisPing(port));
    return sentinel;
  }

  /** The port of the master it names now. */
  async masterPort(masterName: string): Promise<number | undefined> {
    const client = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const addr = (await client.call('SENTINEL', 'get-master-addr-by-name', masterName)) as
        [string, string] | null;
      return addr ? Number(addr[1]) : undefined;
    } finally {
      client.disconnect();
    }
  }

  async destroy(): Promise<void> {
    const child = this.process;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Where PostgreSQL's server binaries are (Debian keeps them out of PATH). */
function postgresBin(name: string): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const file = path.join(root, v, 'bin', name);
      if (existsSync(file)) return file;
    }
  }
  return name;
}

/** initdb and postgres refuse to run as root: run them as the `postgres` user then. */
async function asServerUser(file: string, args: string[]) {
  const root = process.getuid?.() === 0;
  return root ? exec('runuser', ['-u', 'postgres', '--', file, ...args]) : exec(file, args);
}

/** A PostgreSQL cluster of our own (initdb in a temporary directory), to stop and restart. */
export class PrivatePostgres {
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfgsvc-pg-'));
    if (process.getuid?.() === 0) {
      const { stdout } = await exec('id', ['-u', 'postgres']);
      const { stdout: gid } = await exec('id', ['-g', 'postgres']);
      chownSync(dir, Number(stdout), Number(gid));
    }
    await asServerUser(postgresBin('initdb'), [
      '-D',
      path.join(dir, 'data'),
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
    ]);
    const server = new PrivatePostgres(await freePort(), dir);
    await server.startServer();
    return server;
  }

  /** The ConnectionStrings__PostgreSQL value for one of its databases. */
  connectionString(database: string): string {
    return `Host=127.0.0.1;Port=${this.port};Database=${database};Username=postgres`;
  }

  config(database = 'postgres'): pg.ClientConfig {
    return { host: '127.0.0.1', port: this.port, database, user: 'postgres' };
  }

  async startServer(): Promise<void> {
    await asServerUser(postgresBin('pg_ctl'), [
      '-D',
      path.join(this.dir, 'data'),
      '-l',
      path.join(this.dir, 'log'),
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=200`,
      '-w',
      'start',
    ]);
    await until(`postgres on ${this.port}`, async () => {
      const client = new pg.Client(this.config());
      try {
        await client.connect();
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    });
  }

  /** `immediate` is a crash (recovery at the next start); `fast` a clean stop. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await asServerUser(postgresBin('pg_ctl'), [
      '-D',
      path.join(this.dir, 'data'),
      '-m',
      mode,
      '-w',
      'stop',
    ]).catch(() => undefined);
  }

  async createDatabase(name: string): Promise<void> {
    const client = new pg.Client(this.config());
    await client.connect();
    try {
      await client.query(`CREATE DATABASE "${name}"`);
    } finally {
      await client.end();
    }
  }

  async destroy(): Promise<void> {
    await this.stop('immediate');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
