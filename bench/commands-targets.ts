/**
 * bench:commands' targets: the API (createApi on this process's main thread, with a projector
 * process following the log as in production) writing configs, and a throw-away etcd whose JSON
 * gateway takes the PUTs. Both are removed at cleanup, also after a failure or Ctrl-C.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildServices, createApi, type Services } from '../src/composition.js';
import { loadSettings, type Settings } from '../src/core/settings/settings.js';
import { signToken } from '../src/core/auth/auth.js';
import { CommandHandler } from '../src/core/commands/command-handler.js';
import { configDecider } from '../src/features/configs/config.decider.js';
import { configStream } from '../src/core/streams.js';
import {
  createDatabase,
  databaseName,
  deleteRedisKeys,
  listen,
  onCleanup,
  redisPrefix,
} from './support.js';
import { freePort, ROOT, stopAtCleanup } from './processes.js';
import { stopIfInterrupted, type Slot } from './commands-load.js';

const TENANT = 'bench-tenant';
// Not Production: direct writes there need an approval (change requests).
const ENVIRONMENT = 'Staging';
const ctx = { userId: 'bench', correlationId: 'bench' };

/** `command -v name`, or undefined. */
export function onPath(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const p = found.stdout.trim();
  return found.status === 0 && p ? p : undefined;
}

function tailOf(child: ReturnType<typeof spawn>): () => string {
  const lines: string[] = [];
  const keep = (d: Buffer) => {
    lines.push(...d.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 30) lines.splice(0, lines.length - 30);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => lines.join('\n');
}

export interface Etcd {
  url: string;
  pid: number;
  version: string;
}

/**
 * A single-member etcd on 127.0.0.1 (free client and peer ports, a temporary data directory),
 * ready when a PUT through its JSON gateway answers 200.
 */
export async function startEtcd(etcd: string): Promise<Etcd> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-etcd-'));
  onCleanup(`remove ${dataDir}`, async () => rmSync(dataDir, { recursive: true, force: true }));
  const [client, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const child = spawn(
    etcd,
    [
      '--name=bench',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=bench=${peerUrl}`,
      '--log-level=error',
      '--logger=zap',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  stopAtCleanup('etcd', child, 20_000);
  const tail = tailOf(child);
  const version = spawnSync(etcd, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]!;
  const deadline = Date.now() + 30_000;
  for (;;) {
    stopIfInterrupted();
    if (child.exitCode !== null) throw new Error(`etcd exited (${child.exitCode}):\n${tail()}`);
    try {
      const res = await fetch(`${url}/v3/kv/put`, {
        method: 'POST',
        body: JSON.stringify({ key: Buffer.from('bench').toString('base64'), value: 'MA==' }),
      });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`etcd never answered:\n${tail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, pid: child.pid!, version };
}

/** etcd keys to write, one per slot. */
export const etcdSlots = (n: number): Slot[] =>
  Array.from({ length: n }, (_, i) => ({
    key: Buffer.from(`/bench/config-${i}`).toString('base64'),
  }));

export interface App {
  url: string;
  token: string;
  services: Services;
  settings: Settings;
  configIds: string[];
  /** The projector process, when one runs. */
  projectorPid: number | undefined;
  /** The configs' slots at the versions they are at now (read from the event log). */
  slots(): Promise<Slot[]>;
  /** PIDs of PostgreSQL's backends serving the bench database. */
  backendPids(): Promise<number[]>;
}

/**
 * A fresh database and Redis prefix, a tenant with `configs` Integer configs in Staging (made
 * through the command handlers), the API on this process's main thread and, unless
 * `projector` is false, `npm run start:projector`'s code (from source) as a process of its own.
 */
export async function startApp(configs: number, projector: boolean): Promise<App> {
  const dbConnection = await createDatabase();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ConnectionStrings__PostgreSQL: dbConnection,
    ConfigService__RedisKeyPrefix: redisPrefix,
    ASPNETCORE_ENVIRONMENT: 'Development',
    JWT__Secret: randomBytes(48).toString('base64'),
    // The limiter stays on (a lease per 1 % of the limit), with room for the load.
    RateLimiting__ConfigCreate: '1000000000',
    Logging__LogLevel__Default: process.env.Logging__LogLevel__Default ?? 'Warning',
  };
  const settings = loadSettings(env);
  onCleanup('delete Redis keys', () => deleteRedisKeys(settings));
  const services = await buildServices(settings);
  onCleanup('close services', () => services.close());

  process.stdout.write(`database ${databaseName}, Redis prefix '${redisPrefix}', seeding ... `);
  await services.tenantCommands.create(
    { tenantId: TENANT, name: 'Bench tenant', tier: 'Enterprise' },
    ctx,
  );
  const configIds: string[] = [];
  for (let i = 0; i < configs; i++) {
    stopIfInterrupted();
    const r = await services.configCommands.create(
      {
        tenantId: TENANT,
        environment: ENVIRONMENT,
        key: `bench.counter-${i}`,
        type: 'Integer',
        value: 0,
      },
      ctx,
    );
    configIds.push(r.state.exists ? r.state.configId : '');
  }
  console.log(`${configs} configs`);

  const api = createApi(services);
  onCleanup('close API', async () => {
    api.server.closeAllConnections();
    await api.close();
  });
  const port = await listen(api.server);

  let projectorPid: number | undefined;
  if (projector) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/projector.ts'], {
      cwd: ROOT,
      env: { ...env, METRICS_PORT: String(await freePort()) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stopAtCleanup('projector', child, 20_000);
    const tail = tailOf(child);
    projectorPid = child.pid;
    // Up when it has projected the seed.
    const deadline = Date.now() + 60_000;
    for (;;) {
      stopIfInterrupted();
      if (child.exitCode !== null) throw new Error(`projector exited:\n${tail()}`);
      const { rows } = await services.pool.query<{ n: string }>(
        'SELECT count(*) AS n FROM configurations WHERE tenant_id = $1',
        [TENANT],
      );
      if (Number(rows[0]!.n) === configs) break;
      if (Date.now() > deadline) throw new Error(`the projector never caught up:\n${tail()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const handler = new CommandHandler(services.commandStore);
  return {
    url: `http://127.0.0.1:${port}`,
    token: signToken(settings.jwt, { sub: 'bench', roles: ['editor'], tenant_id: TENANT }),
    services,
    settings,
    configIds,
    projectorPid,
    async slots() {
      const slots: Slot[] = [];
      for (const id of configIds) {
        const state = await handler.state(configDecider, configStream(id));
        slots.push({ path: `/api/v1/configs/${id}`, version: state.exists ? state.version : 0 });
      }
      return slots;
    },
    async backendPids() {
      const { rows } = await services.pool.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = $1',
        [databaseName],
      );
      return rows.map((r) => r.pid);
    },
  };
}

/** /proc stat files of a process's threads (all of them count). */
export const processStat = (pid: number | undefined): string[] =>
  pid === undefined ? [] : [`/proc/${pid}/stat`];

/** PostgreSQL backends are processes of their own (of the postgres user; /proc is readable). */
export const backendStats = (pids: number[]): string[] => pids.map((p) => `/proc/${p}/stat`);
