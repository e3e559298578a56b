/**
 * The composition root: builds every part of the service from settings. The API, the projector,
 * the worker, the CLI scripts and the tests all start here.
 */
import type http from 'node:http';
import type express from 'express';
import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { Settings } from './core/settings/settings.js';
import type { EventStore, RecordedEvent } from './core/event-store/event-store.js';
import { PostgresEventStore } from './core/event-store/postgres/postgres-event-store.js';
import { createPool } from './core/postgres/postgres.js';
import { closeRedis, createRedis, RedisKeys } from './core/redis/redis.js';
import { createLogger, type Logger } from './core/observability/logger.js';
import { createMetrics, type Metrics } from './core/observability/metrics.js';
import { withTimeout } from './core/timeout.js';
import { instrumentAppends } from './core/event-store/instrumented.js';
import { TenantCommands } from './features/tenants/tenants.commands.js';
import { ConfigCommands } from './features/configs/configs.commands.js';
import { ChangeRequestCommands } from './features/change-requests/change-requests.commands.js';
import { DeploymentCommands } from './features/deployments/deployments.commands.js';
import { WebhookCommands } from './features/webhooks/webhooks.commands.js';
import { WebhookQueries } from './features/webhooks/webhooks.queries.js';
import { ChangeSetCommands } from './features/change-sets/change-sets.commands.js';
import { ChangeSetQueries } from './features/change-sets/change-sets.queries.js';
import { ExportQueries } from './features/import-export/import-export.queries.js';
import { ScheduledChangeCommands } from './features/scheduled-changes/scheduled-changes.commands.js';
import { ScheduledChangeQueries } from './features/scheduled-changes/scheduled-changes.queries.js';
import { EnvironmentCommands } from './features/environments/environments.commands.js';
import { environmentChanges } from './features/environments/environment-set.js';
import { EnvironmentQueries } from './features/environments/environments.queries.js';
import { ApiKeyCommands } from './features/api-keys/api-keys.commands.js';
import { ApiKeyQueries } from './features/api-keys/api-keys.queries.js';
import {
  DeploymentFeed,
  announceDeploymentChanges,
} from './features/deployments/deployment-feed.js';
import { ApiKeyCache, announceRevocation } from './features/api-keys/api-key-verifier.js';
import { TenantQueries } from './features/tenants/tenants.queries.js';
import { ConfigQueries } from './features/configs/configs.queries.js';
import { SchemaQueries } from './features/config-schemas/config-schemas.queries.js';
import { AuditQueries } from './features/audit/audit.queries.js';
import { ChangeRequestQueries } from './features/change-requests/change-requests.queries.js';
import { DeploymentQueries } from './features/deployments/deployments.queries.js';
import { activeCounts } from './features/operations/operations.queries.js';
import { ProjectionProgress } from './core/projections/projection-progress.js';
import { HotReadCache } from './features/live-read/hot-read.cache.js';
import { HOT_ROUTE_LABELS } from './features/live-read/hot-read.routes.js';
import { Authenticator } from './core/auth/auth.js';
import { createHotReadHandler } from './features/live-read/hot-read.handler.js';
import { buildApp } from './core/http/app.js';
import { createHttpServer, type HttpServer } from './core/http/server.js';
import { API_ROUTES } from './routes.js';
import { hotReadLog } from './core/http/access-log.js';
import { ADMIN_QUEUES_PATH, adminQueues } from './features/operations/queue-dashboard.js';
import { Queues, queueCounts } from './core/jobs/queues.js';
import { CONSOLE_PATH, consoleRouter } from './features/console/console.assets.js';
import { RateLimits } from './core/http/rate-limits.js';
import { SharedTail } from './core/projections/shared-tail.js';
import { PostgresProjectionRunner, whileHoldingLock } from './core/projections/runner.js';
import { readModelProjection } from './core/projections/read-model.js';
import { auditLogProjection } from './features/audit/audit.projection.js';
import { blameProjection } from './features/blame/blame.projection.js';
import { BlameQueries } from './features/blame/blame.queries.js';
import { AcknowledgementLedger } from './features/acknowledgements/acknowledgement-ledger.js';
import { AcknowledgementQueries } from './features/acknowledgements/acknowledgements.queries.js';
import { tenantHistoryProjection } from './features/time-travel/time-travel.projection.js';
import { TimeTravelQueries } from './features/time-travel/time-travel.queries.js';
import { RedisCacheProjection } from './features/live-read/redis-cache.projection.js';
import { Replay } from './features/replay/replay.queries.js';
import { SchemaRegistry, type SchemaUse } from './features/config-schemas/schema-registry.js';
import {
  Heartbeats,
  heartbeatReport,
  projectionComponent,
} from './features/operations/heartbeats.js';
import { readiness } from './features/operations/readiness.js';
import { Encryption } from './core/crypto/encryption.js';
import { encryptingEventStore } from './core/crypto/encrypting-event-store.js';
import { isCiphertext } from './core/crypto/envelope.js';

/** Names a part of a shutdown, so that one past the grace says which parts it still waits for. */
export type ShutdownStep = <T>(name: string, work: Promise<T>) => Promise<T>;

export interface Services {
  settings: Settings;
  logger: Logger;
  pool: pg.Pool;
  redis: Redis;
  keys: RedisKeys;
  /** The log as stored (projections, exports, replay): encrypted values stay ciphertext. */
  store: EventStore;
  /**
   * The log as commands see it: encrypted configurations' values are encrypted on append and
   * decrypted on `readStream` (`src/core/crypto/encrypting-event-store.ts`).
   */
  commandStore: EventStore;
  /** Encryption at rest: the value cipher (if configured) and crypto-shredding. */
  encryption: Encryption;
  tenantCommands: TenantCommands;
  configCommands: ConfigCommands;
  changeRequestCommands: ChangeRequestCommands;
  deploymentCommands: DeploymentCommands;
  webhookCommands: WebhookCommands;
  changeSetCommands: ChangeSetCommands;
  scheduledChangeCommands: ScheduledChangeCommands;
  environmentCommands: EnvironmentCommands;
  apiKeyCommands: ApiKeyCommands;
  /** Deployment streams (server-sent events); createApi subscribes it to the projector's news. */
  deploymentFeed: DeploymentFeed;
  /** The apps' acknowledgement reports (rows, not events). */
  acknowledgements: AcknowledgementLedger;
  /** API keys this process has checked (the Authenticator asks it; createApi subscribes it). */
  apiKeys: ApiKeyCache;
  schemas: SchemaRegistry;
  /** Read-side queries per feature: read tables only, never the event store. */
  queries: {
    tenants: TenantQueries;
    configs: ConfigQueries;
    schemas: SchemaQueries;
    audit: AuditQueries;
    changeRequests: ChangeRequestQueries;
    deployments: DeploymentQueries;
    webhooks: WebhookQueries;
    changeSets: ChangeSetQueries;
    exports: ExportQueries;
    scheduledChanges: ScheduledChangeQueries;
    environments: EnvironmentQueries;
    apiKeys: ApiKeyQueries;
    blame: BlameQueries;
    acknowledgements: AcknowledgementQueries;
    timeTravel: TimeTravelQueries;
  };
  /** Queries answered from the event log itself (history, time travel). */
  replay: Replay;
  progress: ProjectionProgress;
  auth: Authenticator;
  metrics: Metrics;
  rateLimits: RateLimits;
  /** This process's heartbeats (worker, projections) for readiness and metrics. */
  heartbeats: Heartbeats;
  /** `step` names each part, so a shutdown past its grace says which one it waits for. */
  close(step?: ShutdownStep): Promise<void>;
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
  const metrics = createMetrics({}, HOT_ROUTE_LABELS);
  const store = instrumentAppends(await createEventStore(settings, pool), metrics.appendObserved);
  const encryption = new Encryption(settings.encryption, pool, redis, keys);
  // Only where values can be encrypted: every process then follows crypto-shredding at once.
  const keySubscriber = encryption.enabled
    ? createRedis(settings.redis, { maxRetriesPerRequest: null })
    : undefined;
  if (keySubscriber) encryption.listen(keySubscriber);
  const commandStore = encryptingEventStore(store, encryption.cipher);
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
  const heartbeats = new Heartbeats(pool, Math.max(100, settings.heartbeatTimeoutMs / 6));
  metrics.sources.heartbeats = () => heartbeatReport(pool, settings.heartbeatTimeoutMs);
  metrics.sources.redisUp = () =>
    withTimeout(redis.ping(), 2000).then(
      () => true,
      () => false,
    );
  metrics.sources.activeCounts = () => activeCounts(pool);
  const apiKeys = new ApiKeyCache(store, pool, keys, {
    onTouchError: (error) => logger.warn({ err: error }, 'could not record an API key use'),
  });
  const limits = { maxConfigsPerTenant: settings.maxConfigsPerTenant };
  const acknowledgements = new AcknowledgementLedger(pool, settings.acknowledgements, (err) =>
    logger.warn({ err }, 'could not prune acknowledgements'),
  );
  const acknowledgementQueries = new AcknowledgementQueries(
    pool,
    settings.acknowledgements.instanceTtlMs,
  );
  const schemaQueries = new SchemaQueries(pool);
  // Values in use come from the read model, once it has caught up with every write so far: a
  // new schema version must fit them all (values, defaults and values being rolled out).
  // Encrypted values in the read model are checked against a new schema as their plain text.
  const decryptedUses = (tenantId: string, uses: SchemaUse[]) =>
    Promise.all(
      uses.map(async (u) => ({
        ...u,
        value: isCiphertext(u.value)
          ? await encryption.requireCipher().decrypt(tenantId, u.value)
          : u.value,
        defaultValue: isCiphertext(u.defaultValue)
          ? await encryption.requireCipher().decrypt(tenantId, u.defaultValue)
          : u.defaultValue,
      })),
    );
  const schemas = new SchemaRegistry(commandStore, async (tenantId, schemaId) => {
    await progress.waitFor(await store.headPosition(), ['read-model']);
    return decryptedUses(tenantId, await schemaQueries.usesOf(tenantId, schemaId));
  });
  return {
    settings,
    logger,
    pool,
    redis,
    keys,
    store,
    commandStore,
    encryption,
    tenantCommands: new TenantCommands(commandStore),
    configCommands: new ConfigCommands(commandStore, limits, schemas),
    schemas,
    changeRequestCommands: new ChangeRequestCommands(
      commandStore,
      {
        ...limits,
        approvalExpiryMs: settings.approvalExpiry.defaultMs,
        approvalMinExpiryMs: settings.approvalExpiry.minMs,
        approvalMaxExpiryMs: settings.approvalExpiry.maxMs,
      },
      metrics.deploymentFinished,
      schemas,
    ),
    deploymentCommands: new DeploymentCommands(
      commandStore,
      metrics.deploymentFinished,
      schemas,
      (deploymentId, configId) => acknowledgements.canaryCounts(deploymentId, configId),
    ),
    acknowledgements,
    webhookCommands: new WebhookCommands(
      commandStore,
      settings.webhooks.allowPrivateNetworks,
      encryption.enabled,
    ),
    scheduledChangeCommands: new ScheduledChangeCommands(commandStore, schemas, limits),
    changeSetCommands: new ChangeSetCommands(
      commandStore,
      { ...limits, approvalExpiryMs: settings.approvalExpiry.defaultMs },
      schemas,
    ),
    environmentCommands: new EnvironmentCommands(commandStore),
    apiKeyCommands: new ApiKeyCommands(commandStore, announceRevocation(redis, keys)),
    apiKeys,
    deploymentFeed: new DeploymentFeed(keys),
    queries: {
      tenants: new TenantQueries(pool),
      configs: new ConfigQueries(pool),
      schemas: schemaQueries,
      audit: new AuditQueries(pool),
      changeRequests: new ChangeRequestQueries(pool),
      deployments: new DeploymentQueries(pool, acknowledgementQueries),
      webhooks: new WebhookQueries(pool),
      changeSets: new ChangeSetQueries(pool),
      exports: new ExportQueries(pool),
      scheduledChanges: new ScheduledChangeQueries(pool),
      environments: new EnvironmentQueries(pool),
      apiKeys: new ApiKeyQueries(pool),
      blame: new BlameQueries(pool, acknowledgementQueries),
      acknowledgements: acknowledgementQueries,
      timeTravel: new TimeTravelQueries(pool),
    },
    replay: new Replay(store),
    progress,
    auth: new Authenticator(settings.jwt, { apiKeys }),
    metrics,
    rateLimits: new RateLimits(redis, settings.redisKeyPrefix, settings.rateLimits),
    heartbeats,
    async close(step: ShutdownStep = (_name, work) => work) {
      await step('heartbeats', heartbeats.stop());
      await step(
        'event store',
        store.close().catch(() => undefined),
      );
      keySubscriber?.disconnect();
      redis.disconnect();
      await step(
        'postgres pool',
        pool.end().catch(() => undefined),
      );
    },
  };
}

export interface ApiServer {
  app: express.Express;
  server: http.Server;
  cache: HotReadCache;
  /** Every answer the fast lane writes (tests check them against their declarations). */
  observeLane: HttpServer['observeLane'];
  close(graceMs?: number): Promise<void>;
}

export function createApi(s: Services): ApiServer {
  s.metrics.sources.degraded = async () => (await readiness(s)).status !== 'Healthy';
  const subscriber = createRedis(s.settings.redis, { maxRetriesPerRequest: null });
  const cache = new HotReadCache(
    s.redis,
    subscriber,
    s.pool,
    s.keys,
    s.settings.cacheTtlMs,
    s.encryption.cipher,
    async () => s.progress.waitFor(await s.store.headPosition(), ['read-model']),
  );
  // Revealed snapshots hold decrypted values: a shredded tenant's go at once.
  s.encryption.onDestroyed(() => cache.clear());
  s.apiKeys.listen(subscriber);
  s.deploymentFeed.listen(subscriber);
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
  const queues = new Queues(s.settings);
  s.metrics.sources.queueCounts = () => queueCounts(queues);
  const board = adminQueues(s.auth, queues, s.settings.queueDashboardActions);
  const app = buildApp({
    services: s,
    queues,
    routes: API_ROUTES,
    extra: [
      [ADMIN_QUEUES_PATH, board.guard, board.router],
      [
        CONSOLE_PATH,
        consoleRouter({
          ...(s.settings.jwt.authority && s.settings.console.oidcClientId
            ? {
                oidc: {
                  authority: s.settings.jwt.authority,
                  clientId: s.settings.console.oidcClientId,
                  scope: s.settings.console.oidcScope,
                },
              }
            : {}),
        }),
      ],
    ],
  });
  const http = createHttpServer(
    app,
    hotRead,
    {
      rate: s.settings.hotReadLogSampleRate,
      log: hotReadLog(s.logger, s.settings.hotReadLogSampleRate),
    },
    s.settings.hotReadFastLane ? hotRead.lane : undefined,
  );
  return {
    app,
    server: http.server,
    cache,
    observeLane: http.observeLane,
    /**
     * Stops taking connections and lets requests in flight finish, for at most `graceMs`; ends
     * long polls and streams at once (their clients come back to another replica).
     */
    async close(graceMs = 10_000) {
      await http.close(graceMs, () => {
        hotRead.shutdown();
        s.deploymentFeed.shutdown();
      });
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
  const onAlive = (projection: string) => s.heartbeats.alive(projectionComponent(projection));
  // After a read-model batch commits: API instances drop their map of a tenant whose declared
  // environments it changed (the hot read path's, features/environments/environment-directory.ts).
  const onBatch = (projection: string, events: RecordedEvent[]) => {
    if (projection !== readModelProjection.name) return;
    // Deployment streams re-read the rows this batch changed (features/deployments/deployment-feed.ts).
    announceDeploymentChanges(redis, s.keys, events).catch(() => {
      // Redis away: API instances re-read their streams every second while pub/sub is down.
    });
    for (const tenantId of environmentChanges(events)) {
      redis.publish(s.keys.invalidationChannel, s.keys.environments(tenantId)).catch(() => {
        // Redis away: API instances keep their maps one second only while pub/sub is down.
      });
    }
  };
  // The projections read the log's tail once between them (core/projections/shared-tail.ts).
  const tail = new SharedTail(s.store);
  const runners = [
    readModelProjection,
    auditLogProjection,
    blameProjection,
    tenantHistoryProjection,
  ].map(
    (p) =>
      new PostgresProjectionRunner(s.pool, tail.view(), p, {
        ...options,
        onError,
        onAlive,
        onBatch,
      }),
  );
  const redisCache = new RedisCacheProjection(redis, s.keys, tail.view());
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
            redisCache.run(held, {
              ...options,
              onError: (e) => onError(e, redisCache.name),
              onAlive: () => onAlive(redisCache.name),
            }),
          (e) => onError(e, redisCache.name),
        ),
      ]);
    },
    async stop() {
      controller.abort();
      // A command waiting for an unreachable Redis would hold the cache projection (and this
      // stop) forever: closing the client fails it, and the aborted loop ends. The batch it was
      // part of either ran whole in Redis (Lua) or not at all.
      await closeRedis(redis);
      await running;
    },
  };
}
