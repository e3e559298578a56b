/**
 * Readiness of an API instance (/health/ready), in three states:
 *
 * - **Healthy** (200): everything answers; a worker and every projection are alive.
 * - **Degraded** (200): this instance still answers correctly, with less. Redis down (reads come
 *   from PostgreSQL, slower), the event store down while PostgreSQL is up (reads go on; commands
 *   fail on every instance alike), or no live worker or projection (steps, expiries or read-side
 *   updates stall, whatever instance answers). Taking the instance out would not help: it stays
 *   in, and `degraded` says why.
 * - **Unhealthy** (503): it cannot answer: PostgreSQL is unreachable, or its schema is behind
 *   this build (`npm run migrate`).
 */
import type { Services } from '../../composition.js';
import { withTimeout } from '../../core/timeout.js';
import { schemaStatus } from '../../core/postgres/migrate.js';
import { REDIS_CACHE_PROJECTION } from '../live-read/redis-cache.projection.js';
import { SCHEDULER_NAME } from '../../core/jobs/scheduler.js';
import { DISPATCHER_NAME } from '../webhooks/webhooks.dispatcher.js';
import { BLAME_PROJECTION } from '../blame/blame.projection.js';
import { TENANT_HISTORY_PROJECTION } from '../time-travel/time-travel.projection.js';
import { WORKER_COMPONENT, heartbeatReport, projectionComponent } from './heartbeats.js';

export type ReadinessStatus = 'Healthy' | 'Degraded' | 'Unhealthy';

interface Check {
  status: 'Healthy' | 'Unhealthy';
  durationMs?: number;
  error?: string;
}

/** What runs somewhere and must stay alive: the worker and these projections. */
export const LIVE_PROJECTIONS = [
  'read-model',
  'audit-log',
  BLAME_PROJECTION,
  TENANT_HISTORY_PROJECTION,
  REDIS_CACHE_PROJECTION,
  SCHEDULER_NAME,
  DISPATCHER_NAME,
];

/** Remembers a schema found complete (it never goes back); asks again until then. */
export class SchemaCheck {
  private ok = false;
  constructor(private readonly s: Pick<Services, 'pool'>) {}
  async check(): Promise<Check> {
    if (this.ok) return { status: 'Healthy' };
    const status = await schemaStatus(this.s.pool);
    if (status.ok) this.ok = true;
    return status.ok ? { status: 'Healthy' } : { status: 'Unhealthy', error: status.message };
  }
}

async function check(fn: () => Promise<unknown>): Promise<Check> {
  const started = performance.now();
  try {
    await withTimeout(fn(), 2000);
    return { status: 'Healthy', durationMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { status: 'Unhealthy', error: (error as Error).message };
  }
}

/** One schema check per service set (it remembers a complete schema). */
const schemaChecks = new WeakMap<Services, SchemaCheck>();

export async function readiness(s: Services) {
  let schema = schemaChecks.get(s);
  if (!schema) schemaChecks.set(s, (schema = new SchemaCheck(s)));
  const [postgres, redis, eventStore] = await Promise.all([
    check(() => s.pool.query('SELECT 1')),
    check(() => s.redis.ping()),
    check(() => s.store.ping()),
  ]);
  const schemaCheck =
    postgres.status === 'Healthy'
      ? await withTimeout(schema.check(), 2000).catch((e: Error): Check => ({
          status: 'Unhealthy',
          error: e.message,
        }))
      : { status: 'Unhealthy' as const, error: 'PostgreSQL is unreachable' };
  const timeoutMs = s.settings.heartbeatTimeoutMs;
  let beats: Awaited<ReturnType<typeof heartbeatReport>> | undefined;
  let lag: Awaited<ReturnType<Services['progress']['lag']>> = [];
  if (schemaCheck.status === 'Healthy') {
    beats = await withTimeout(heartbeatReport(s.pool, timeoutMs), 2000).catch(() => undefined);
    lag = await withTimeout(
      (async () => s.progress.lag(await withTimeout(s.store.headPosition(), 2000)))(),
      2000,
    ).catch(() => []);
  }
  const liveness = (component: string) => {
    const b = beats?.find((x) => x.component === component);
    if (!beats) return { status: 'Unknown' as const, heartbeatAgeSeconds: null };
    return {
      status: b
        ? b.aliveInstances > 0
          ? ('Alive' as const)
          : ('Dead' as const)
        : ('Missing' as const),
      heartbeatAgeSeconds: b ? Math.round(b.ageSeconds * 10) / 10 : null,
    };
  };
  const worker = liveness(WORKER_COMPONENT);
  const projections = Object.fromEntries(
    LIVE_PROJECTIONS.map((name) => {
      const l = lag.find((x) => x.projection === name);
      return [
        name,
        {
          position: l?.position.toString() ?? null,
          behind: l?.behind.toString() ?? null,
          ...liveness(projectionComponent(name)),
        },
      ];
    }),
  );

  const degraded: string[] = [];
  if (redis.status !== 'Healthy') degraded.push('redis: down; reads are served from PostgreSQL');
  if (eventStore.status !== 'Healthy') degraded.push('event store: down; commands fail');
  const silent = (status: string, age: number | null) =>
    status === 'Missing'
      ? 'has never reported'
      : `no heartbeat for ${age} s (ConfigService__HeartbeatTimeout is ${timeoutMs / 1000} s)`;
  if (worker.status === 'Dead' || worker.status === 'Missing') {
    degraded.push(
      `worker: ${silent(worker.status, worker.heartbeatAgeSeconds)}; canary steps and expiries wait`,
    );
  }
  for (const [name, p] of Object.entries(projections)) {
    if (p.status === 'Dead' || p.status === 'Missing') {
      degraded.push(`projection ${name}: ${silent(p.status, p.heartbeatAgeSeconds)}`);
    }
  }
  const status: ReadinessStatus =
    postgres.status !== 'Healthy' || schemaCheck.status !== 'Healthy'
      ? 'Unhealthy'
      : degraded.length
        ? 'Degraded'
        : 'Healthy';
  return {
    status,
    ...(degraded.length ? { degraded } : {}),
    checks: { postgres, schema: schemaCheck, redis, eventStore },
    worker,
    projections,
  };
}
