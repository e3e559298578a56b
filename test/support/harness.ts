/**
 * Builds the whole service against this run's database and a fresh Redis key prefix, the way
 * production does (composition root), with helpers for tokens and for waiting on projections.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { loadSettings, type Settings } from '../../src/core/settings/settings.js';
import {
  buildServices,
  createApi,
  createProjector,
  type ApiServer,
  type Projector,
  type Services,
} from '../../src/composition.js';
import { signToken, type Role } from '../../src/core/auth/auth.js';
import { createLogger, type Logger } from '../../src/core/observability/logger.js';
import { startWorkers } from '../../src/core/jobs/workers.js';
import { deleteKeys, redisPrefix, redisUrl, testDbConnectionString } from './test-env.js';
import { checkLane, checkResponses } from './response-check.js';

export interface Harness {
  settings: Settings;
  services: Services;
  api: ApiServer;
  projector: Projector;
  /** Base URL of the listening API. */
  url: string;
  token(
    role: Role | Role[],
    tenantId?: string,
    extra?: { environments?: string[]; sub?: string },
  ): string;
  admin: string;
  /** Runs every projection up to the head once (when the projector is not started). */
  project(): Promise<void>;
  close(): Promise<void>;
}

export function testSettings(overrides: Record<string, string> = {}): Settings {
  return loadSettings(
    {
      ASPNETCORE_ENVIRONMENT: 'Test',
      ConnectionStrings__PostgreSQL: testDbConnectionString,
      ConnectionStrings__Redis: redisUrl,
      ConfigService__RedisKeyPrefix: `${redisPrefix}${randomBytes(3).toString('hex')}:`,
      JWT__Secret: 'test-secret-that-is-long-enough-0123456789',
      ConfigService__ReadYourWritesTimeout: 'PT5S',
      Logging__LogLevel__Default: 'Warning',
      // Tests write fast; the rate-limit test sets its own small limits.
      RateLimiting__ConfigGet: '1000000',
      RateLimiting__ConfigCreate: '1000000',
      RateLimiting__Deployments: '1000000',
      // The test database is shared by every harness of a run, each with its own queues: a
      // reconciler would re-create other tests' jobs. The test of the reconciler sets its own.
      ConfigService__JobReconcileInterval: 'P7D',
      ...overrides,
    },
    '/nonexistent',
  );
}

export async function startHarness(
  options: {
    overrides?: Record<string, string>;
    /** Follow the log with the projector (else call `project()`). */
    runProjector?: boolean;
    /** Run the BullMQ workers and the job scheduler (deployment steps, approval expiry). */
    runWorker?: boolean;
    /** Where the service logs (a test that reads its log lines). */
    logger?: Logger;
  } = {},
): Promise<Harness> {
  const settings = testSettings(options.overrides);
  const services = await buildServices(settings, {
    logger: options.logger ?? createLogger(settings.logLevel),
    poolSize: 10,
  });
  const api = createApi(services);
  // Every answer is checked against its route's declaration (reported by test/hooks.ts).
  checkResponses(api.server);
  checkLane(api.observeLane);
  await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', resolve));
  const projector = createProjector(services, { idleWaitMs: 50 });
  if (options.runProjector) projector.start();
  const workers = options.runWorker ? startWorkers(services, { idleWaitMs: 50 }) : undefined;
  const port = (api.server.address() as AddressInfo).port;
  const token: Harness['token'] = (role, tenantId, extra = {}) =>
    signToken(settings.jwt, {
      sub: extra.sub ?? `user-${Array.isArray(role) ? role.join('+') : role}`,
      roles: Array.isArray(role) ? role : [role],
      ...(tenantId ? { tenant_id: tenantId } : {}),
      ...(extra.environments ? { environments: extra.environments } : {}),
    });
  return {
    settings,
    services,
    api,
    projector,
    url: `http://127.0.0.1:${port}`,
    token,
    admin: token('platform-admin', undefined, { sub: 'root' }),
    project: () => projector.catchUpOnce(),
    async close() {
      await workers?.close();
      if (options.runProjector) await projector.stop();
      else await projector.stop().catch(() => undefined);
      await api.close();
      await deleteKeys(settings.redisKeyPrefix);
      await services.close();
    },
  };
}

/** The Authorization header for a bearer token, for supertest's `.set()`. */
export const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

export const uniqueTenant = (label = 't') => `${label}-${randomBytes(4).toString('hex')}`;

/** Counts events in the store (to prove bad input appends nothing). */
export async function eventCount(h: Harness): Promise<number> {
  const { rows } = await h.services.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM es_events',
  );
  return rows[0]!.n;
}
