/**
 * The composition root: builds every part of the service from settings. The API, the projector,
 * the worker, the CLI scripts and the tests all start here.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import express from 'express';
import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { Settings } from './config/settings.js';
import type { EventStore } from './core/event-store/event-store.js';
import { PostgresEventStore } from './core/event-store/postgres/postgres-event-store.js';
import { createPool } from './infrastructure/postgres.js';
import { createRedis, RedisKeys } from './infrastructure/redis.js';
import { createLogger, type Logger } from './infrastructure/logger.js';
import { createMetrics, type Metrics } from './infrastructure/metrics.js';
import { withTimeout } from './infrastructure/timeout.js';
import { instrumentAppends } from './core/event-store/instrumented.js';
import { TenantCommands } from './application/tenant-commands.js';
import { ConfigCommands } from './application/config-commands.js';
import { WorkflowCommands } from './application/workflow-commands.js';
import { ReadQueries } from './queries/read-queries.js';
import { ProjectionProgress } from './queries/projection-progress.js';
import { HotReadCache } from './queries/hot-read-cache.js';
import { Authenticator } from './api/auth.js';
import { createHotReadHandler } from './api/hot-read.js';
import { HttpProblem, badRequest, errorHandler } from './api/problem.js';
import { MAX_JSON_DEPTH, unstorablePath } from './domain/values.js';
import { correlationIdOf, traceIdOf } from './api/context.js';
import { healthRoutes } from './api/routes/health.js';
import { openApiRouter } from './api/openapi.js';
import { tenantRoutes } from './api/routes/tenants.js';
import { configRoutes } from './api/routes/configs.js';
import { auditRoutes } from './api/routes/audit.js';
import { replayRoutes } from './api/routes/replay.js';
import { configSchemaRoutes } from './api/routes/config-schemas.js';
import { workflowRoutes } from './api/routes/workflows.js';
import { adminRoutes } from './api/routes/admin.js';
import { ADMIN_QUEUES_PATH, adminQueues } from './api/admin-queues.js';
import { Queues, queueCounts } from './jobs/queues.js';
import { RateLimits } from './api/rate-limits.js';
import { PostgresProjectionRunner, whileHoldingLock } from '../projections/runner.js';
import { readModelProjection } from '../projections/read-model.js';
import { auditLogProjection } from '../projections/audit-log.js';
import { RedisCacheProjection } from '../projections/redis-cache.js';
import { Replay } from './queries/replay.js';
import { SchemaRegistry, type SchemaUse } from './application/schema-registry.js';

export interface Services {
  settings: Settings;
  logger: Logger;
  pool: pg.Pool;
  redis: Redis;
  keys: RedisKeys;
  store: EventStore;
  tenantCommands: TenantCommands;
  configCommands: ConfigCommands;
  workflow: WorkflowCommands;
  schemas: SchemaRegistry;
  queries: ReadQueries;
  /** Queries answered from the event log itself (history, time travel). */
  replay: Replay;
  progress: ProjectionProgress;
  auth: Authenticator;
  metrics: Metrics;
  rateLimits: RateLimits;
  close(): Promise<void>;
}

export async function createEventStore(settings: Settings, pool: pg.Pool): Promise<EventStore> {
  if (settings.eventStoreConnectionString) {
    const { createKurrentDbEventStore } =
      await import('./core/event-store/kurrentdb/kurrentdb-event-store.js');
    return createKurrentDbEventStore(settings.eventStoreConnectionString);
  }
  return new PostgresEventStore(pool, settings.postgres.config);
}

export async function buildServices(
  settings: Settings,
  options: { logger?: Logger; poolSize?: number } = {},
): Promise<Services> {
  const logger = options.logger ?? createLogger(settings.logLevel);
  const pool = createPool(settings.postgres.config, options.poolSize ?? 20);
  // Commands fail fast while Redis is away (no offline queue): readers fall back to PostgreSQL.
  const redis = createRedis(settings.redis, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
  });
  const keys = new RedisKeys(settings.redisKeyPrefix);
  const metrics = createMetrics();
  const store = instrumentAppends(await createEventStore(settings, pool), metrics.appendObserved);
  const progress = new ProjectionProgress(pool, redis, keys, settings.readYourWritesTimeoutMs);
  metrics.sources.eventStoreUp = () =>
    withTimeout(store.ping(), 2000).then(
      () => true,
      () => false,
    );
  metrics.sources.projectionLag = async () =>
    (await progress.lag(await withTimeout(store.headPosition(), 2000))).map((l) => ({
      projection: l.projection,
      behind: Number(l.behind),
      ageSeconds: l.ageSeconds,
    }));
  metrics.sources.activeCounts = async () => {
    const { rows } = await pool.query<{ tenants: number; configurations: number }>(
      `SELECT (SELECT count(*)::int FROM tenants WHERE deleted_at IS NULL) AS tenants,
              (SELECT count(*)::int FROM configurations WHERE deleted_at IS NULL) AS configurations`,
    );
    return rows[0]!;
  };
  const limits = { maxConfigsPerTenant: settings.maxConfigsPerTenant };
  // Values in use come from the read model, once it has caught up with every write so far: a
  // new schema version must fit them all (values, defaults and values being rolled out).
  const schemas = new SchemaRegistry(store, async (tenantId, schemaId) => {
    await progress.waitFor(await store.headPosition(), ['read-model']);
    const { rows } = await pool.query<SchemaUse>(
      `SELECT config_id AS "configId", key, environment, type, value,
              default_value AS "defaultValue", NULL AS "deploymentId"
         FROM configurations
        WHERE tenant_id = $1 AND schema_id = $2 AND deleted_at IS NULL
       UNION ALL
       SELECT d.config_id, c.key, c.environment, c.type, d.value, NULL, d.deployment_id
         FROM deployments d JOIN configurations c USING (config_id)
        WHERE c.tenant_id = $1 AND c.schema_id = $2 AND c.deleted_at IS NULL
          AND d.status IN ('InProgress', 'Paused')`,
      [tenantId, schemaId],
    );
    return rows;
  });
  return {
    settings,
    logger,
    pool,
    redis,
    keys,
    store,
    tenantCommands: new TenantCommands(store),
    configCommands: new ConfigCommands(store, limits, schemas),
    schemas,
    workflow: new WorkflowCommands(
      store,
      {
        ...limits,
        approvalExpiryMs: settings.approvalExpiry.defaultMs,
        approvalMinExpiryMs: settings.approvalExpiry.minMs,
        approvalMaxExpiryMs: settings.approvalExpiry.maxMs,
      },
      metrics.deploymentFinished,
      schemas,
    ),
    queries: new ReadQueries(pool),
    replay: new Replay(store),
    progress,
    auth: new Authenticator(settings.jwt),
    metrics,
    rateLimits: new RateLimits(redis, settings.redisKeyPrefix, settings.rateLimits),
    async close() {
      await store.close().catch(() => undefined);
      redis.disconnect();
      await pool.end().catch(() => undefined);
    },
  };
}

export interface ApiServer {
  app: express.Express;
  server: http.Server;
  cache: HotReadCache;
  close(graceMs?: number): Promise<void>;
}

export function createApi(s: Services): ApiServer {
  const subscriber = createRedis(s.settings.redis, { maxRetriesPerRequest: null });
  const cache = new HotReadCache(s.redis, subscriber, s.pool, s.keys, s.settings.cacheTtlMs);
  const hotRead = createHotReadHandler({
    auth: s.auth,
    cache,
    progress: s.progress,
    rateLimits: s.rateLimits,
    observer: {
      served(ms, source, status, route) {
        s.metrics.hotRead(route, ms, source, status);
      },
    },
    maxWatchers: s.settings.maxWatchers,
    watchObserver: s.metrics.watch,
  });

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // Client IPs for the audit trail: trust X-Forwarded-For only from private-network proxies.
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  // A NUL in the path or query cannot be stored or even compared by PostgreSQL.
  app.use((req, _res, next) => {
    if (!/%00/i.test(req.url)) return next();
    const inPath = /%00/i.test(req.url.split('?')[0]!);
    next(
      badRequest([{ field: inPath ? '(path)' : '(query)', message: 'contains a NUL character' }]),
    );
  });
  app.use(express.json({ limit: '1mb', type: ['application/json', 'application/*+json'] }));
  // A body in another format would be read as no body at all: say so instead.
  app.use((req, _res, next) => {
    const hasBody =
      Number(req.headers['content-length'] ?? 0) > 0 ||
      req.headers['transfer-encoding'] !== undefined;
    if (!hasBody || req.is('application/json') || req.is('application/*+json')) return next();
    next(
      new HttpProblem(415, 'Unsupported media type', 'The body must be application/json', {
        field: '(body)',
      }),
    );
  });
  // Text the event store cannot keep (NUL, unpaired surrogates) is refused here, naming the field.
  app.use((req, _res, next) => {
    const bad = unstorablePath(req.body);
    if (bad === undefined) return next();
    next(
      badRequest([
        {
          field: bad.path || '(body)',
          message:
            bad.why === 'text'
              ? 'contains a NUL or an unpaired surrogate character, which cannot be stored'
              : `is nested more than ${MAX_JSON_DEPTH} levels deep`,
        },
      ]),
    );
  });
  app.use((req, res, next) => {
    res.locals.correlationId = correlationIdOf(req);
    res.locals.traceId = traceIdOf(req);
    res.setHeader('X-Correlation-Id', res.locals.correlationId as string);
    next();
  });
  app.use((req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      const route = req.route ? `${req.baseUrl}${req.route.path as string}` : 'unmatched';
      s.metrics.http(req.method, route, res.statusCode, (performance.now() - started) / 1000);
    });
    next();
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', s.metrics.registry.contentType);
    res.end(await s.metrics.registry.metrics());
  });
  app.use(healthRoutes(s));
  app.use(openApiRouter()); // OpenAPI JSON and Swagger UI at /swagger: public
  const queues = new Queues(s.settings);
  s.metrics.sources.queueCounts = () => queueCounts(queues);
  const board = adminQueues(s.auth, queues);
  app.use(ADMIN_QUEUES_PATH, board.guard, board.router);
  const api = express.Router();
  api.use((req, res, next) => {
    res.locals.principal = s.auth.authenticate(req.headers.authorization);
    next();
  });
  api.use(tenantRoutes(s));
  api.use(configRoutes(s));
  api.use(auditRoutes(s));
  api.use(replayRoutes(s));
  api.use(configSchemaRoutes(s));
  api.use(workflowRoutes(s));
  api.use(adminRoutes(s, queues));
  app.use('/api/v1', api);
  app.use((req) => {
    throw new HttpProblem(404, 'Not found', `No route for ${req.method} ${req.path}`);
  });
  app.use(errorHandler((error) => s.logger.error({ err: error }, 'request failed')));

  const server = http.createServer((req, res) => {
    if (!hotRead(req, res)) app(req, res);
  });
  server.keepAliveTimeout = 65_000;
  // Open connections and the answers in flight, so that a shutdown can close each connection
  // as soon as it is idle (Node's closeIdleConnections misses connections whose client went
  // quiet). A connection is busy while one of its answers is in `answering`.
  const sockets = new Set<Socket>();
  const answering = new Set<http.ServerResponse>();
  let closing = false;
  const busy = (socket: Socket) => [...answering].some((r) => r.socket === socket);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    // While closing, every answer says so: a client must not queue its next request here.
    if (closing) res.shouldKeepAlive = false;
    answering.add(res);
    const finished = () => {
      if (!answering.delete(res)) return;
      if (closing && !busy(req.socket)) req.socket.destroySoon();
    };
    res.on('finish', finished);
    res.on('close', finished);
  });
  return {
    app,
    server,
    cache,
    /**
     * Stops taking connections and lets requests in flight finish (a write whose answer is lost
     * would be retried as a conflict), for at most `graceMs`; ends long polls and streams at once
     * (their clients come back to another replica).
     */
    async close(graceMs = 10_000) {
      closing = true;
      // Answers still to come close their connection, so no request is queued behind them.
      for (const res of answering) if (!res.headersSent) res.shouldKeepAlive = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      hotRead.shutdown();
      // Idle keep-alive connections go now, busy ones as soon as their answer is out.
      for (const socket of sockets) if (!busy(socket)) socket.destroy();
      const force = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(force);
      subscriber.disconnect();
      await queues.close().catch(() => undefined);
    },
  };
}

export interface Projector {
  runners: PostgresProjectionRunner[];
  redisCache: RedisCacheProjection;
  /** Runs every projection to the current head once (CLI and tests). */
  catchUpOnce(): Promise<void>;
  /** Follows the log until stopped. */
  start(): void;
  stop(): Promise<void>;
}

export function createProjector(
  s: Services,
  options: { idleWaitMs?: number; batchSize?: number } = {},
): Projector {
  // The projector's own Redis client queues commands while reconnecting: it must not skip work.
  const redis = createRedis(s.settings.redis);
  const onError = (error: unknown, projection: string) =>
    s.logger.error({ err: error, projection }, 'projection batch failed; retrying from checkpoint');
  const runners = [readModelProjection, auditLogProjection].map(
    (p) => new PostgresProjectionRunner(s.pool, s.store, p, { ...options, onError }),
  );
  const redisCache = new RedisCacheProjection(redis, s.keys, s.store);
  const controller = new AbortController();
  let running: Promise<unknown> | undefined;
  return {
    runners,
    redisCache,
    async catchUpOnce() {
      for (const r of runners) await r.catchUpOnce();
      await redisCache.catchUpOnce(options.batchSize);
    },
    start() {
      running = Promise.all([
        ...runners.map((r) => r.run(controller.signal)),
        // The cache projection keeps its checkpoint in Redis; the lock still lives in PostgreSQL.
        whileHoldingLock(
          s.settings.postgres.config,
          redisCache.name,
          controller.signal,
          (held) =>
            redisCache.run(held, { ...options, onError: (e) => onError(e, redisCache.name) }),
          (e) => onError(e, redisCache.name),
        ),
      ]);
    },
    async stop() {
      controller.abort();
      await running;
      redis.disconnect();
    },
  };
}
