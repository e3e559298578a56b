/**
 * Settings, read with the deployment guide's names (`Section__Key`) from the environment, over
 * `appsettings.json` and `appsettings.{Environment}.json` (the same keys nested, as the Kubernetes
 * ConfigMap mounts them). Environment variables win. Validated once at start-up: a bad or missing
 * value stops the process with a message naming the variable.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parsePostgresConnectionString } from '../postgres/postgres.js';
import { parseRedisConnectionString } from '../redis/redis.js';
import { KURRENTDB_SCHEMES, kurrentDbScheme } from '../event-store/kurrentdb/schemes.js';
import { parseIsoDuration } from './durations.js';
import { parseMasterKeys, type MasterKey } from '../crypto/key-wrapping.js';
import type { VaultSettings } from '../crypto/vault-transit.js';
import { signingKeyFrom } from '../event-store/chain.js';
import { unknownFileKeys, unknownVariables } from './unknown-settings.js';

export { parseIsoDuration };

const DEV_JWT_SECRET = 'development-only-secret-change-me-0123456789abcdef';

const duration = z.string().transform((v, ctx) => {
  try {
    return parseIsoDuration(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);

const share = z.coerce.number().min(0).max(1);

/** true/false in any case (.NET writes True). */
const bool = z
  .string()
  .regex(/^(true|false)$/i, 'must be true or false')
  .transform((v) => v.toLowerCase() === 'true');

const schema = z.object({
  ASPNETCORE_ENVIRONMENT: z.string().min(1).default('Development'),
  ASPNETCORE_URLS: z.string().default('http://+:5000'),
  ConnectionStrings__PostgreSQL: z
    .string()
    .default('Host=127.0.0.1;Port=5432;Database=config_service;Username=postgres')
    .transform((v, ctx) => {
      try {
        return { raw: v, config: parsePostgresConnectionString(v) };
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
  ConnectionStrings__Redis: z
    .string()
    .default('127.0.0.1:6379')
    .transform((v, ctx) => {
      try {
        return parseRedisConnectionString(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
  ConnectionStrings__RedisQueue: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      try {
        return parseRedisConnectionString(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  ConnectionStrings__EventStore: z
    .string()
    .refine(
      (v) => kurrentDbScheme(v) !== undefined,
      `must start with one of ${[...KURRENTDB_SCHEMES.keys()].map((s) => `${s}://`).join(', ')}`,
    )
    .optional(),
  ConfigService__DefaultEnvironment: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$/)
    .default('Development'),
  ConfigService__CacheTTL: duration.default(parseIsoDuration('PT5M')),
  ConfigService__MaxConfigsPerTenant: int(1).default(1000),
  ConfigService__RedisKeyPrefix: z.string().default('cfgsvc:'),
  ConfigService__ReadYourWritesTimeout: duration.default(parseIsoDuration('PT5S')),
  ConfigService__ApprovalExpiry: duration.default(parseIsoDuration('P3D')),
  ConfigService__ApprovalMinExpiry: duration.default(parseIsoDuration('PT5M')),
  ConfigService__ApprovalMaxExpiry: duration.default(parseIsoDuration('P30D')),
  ConfigService__MaxWatchers: int(1).default(10_000),
  // Raw import bodies (files streamed to POST …/import): 32 MiB.
  ConfigService__Import__MaxBytes: int(1).default(33_554_432),
  ConfigService__Webhooks__AllowPrivateNetworks: z
    .enum(['true', 'false', 'True', 'False'])
    .default('false')
    .transform((v) => v.toLowerCase() === 'true'),
  ConfigService__Webhooks__Timeout: duration.default(parseIsoDuration('PT10S')),
  // Waits before each retry of a failed delivery: about 24 hours in all.
  ConfigService__Webhooks__RetrySchedule: z
    .string()
    .default('PT5S,PT30S,PT2M,PT10M,PT30M,PT1H,PT2H,PT4H,PT8H,PT8H')
    .transform((v, ctx) => {
      try {
        return v.split(',').map((d) => parseIsoDuration(d));
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
  // How long finished webhook deliveries stay in the delivery log.
  ConfigService__Webhooks__DeliveryRetention: duration.default(parseIsoDuration('P30D')),
  ConfigService__QueueDashboardActions: bool.default(false),
  ConfigService__JobReconcileInterval: duration.default(parseIsoDuration('PT30S')),
  ConfigService__Audit__SigningKey: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      try {
        return signingKeyFrom(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
  ConfigService__Audit__CheckpointInterval: duration.default(parseIsoDuration('PT1H')),
  ConfigService__HeartbeatTimeout: duration.default(parseIsoDuration('PT30S')),
  // Client acknowledgements: an instance silent this long no longer counts as running anything.
  ConfigService__Acknowledgements__InstanceTtl: duration.default(parseIsoDuration('PT5M')),
  // ...and its rows are deleted once it has been silent this long.
  ConfigService__Acknowledgements__Retention: duration.default(parseIsoDuration('P30D')),
  ConfigService__ShutdownTimeout: duration.default(parseIsoDuration('PT25S')),
  ConfigService__ApiWorkers: int(1).default(1),
  ConfigService__AccessLogSampleRate: share.default(1),
  ConfigService__HotReadLogSampleRate: share.default(0),
  ConfigService__HotReadFastLane: bool.default(true),
  OpenTelemetry__JaegerEndpoint: z.string().url().optional(),
  OpenTelemetry__SamplingRate: z.coerce.number().min(0).max(1).default(1),
  JWT__Secret: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT__Issuer: z.string().min(1).default('https://config.example.com'),
  JWT__Audience: z.string().min(1).default('config-service-api'),
  JWT__Authority: z.string().url().optional(),
  JWT__RolesClaim: z.string().min(1).default('roles'),
  JWT__TenantsClaim: z.string().min(1).default('tenant_id'),
  // The web console's client at the JWT__Authority provider (public, authorization code + PKCE).
  ConfigService__Console__OidcClientId: z.string().min(1).optional(),
  ConfigService__Console__OidcScope: z.string().min(1).default('openid profile'),
  RateLimiting__ConfigGet: int(1).default(1000),
  RateLimiting__ConfigCreate: int(1).default(100),
  RateLimiting__Deployments: int(1).default(10),
  Encryption__MasterKey: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      try {
        return parseMasterKeys(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
  Encryption__DataKeyCacheTTL: duration.default(parseIsoDuration('PT10M')),
  Vault__Address: z.string().url().optional(),
  Vault__Token: z.string().min(1).optional(),
  Vault__TransitMount: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/)
    .default('transit'),
  Vault__TransitKey: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default('config-service'),
  Vault__Namespace: z.string().min(1).optional(),
  Vault__Timeout: duration.default(parseIsoDuration('PT5S')),
  Logging__LogLevel__Default: z
    .enum(['Trace', 'Debug', 'Information', 'Warning', 'Error', 'Critical', 'None'])
    .default('Information'),
});

export interface Settings {
  environment: string;
  port: number;
  postgres: { raw: string; config: import('pg').PoolConfig };
  redis: import('ioredis').RedisOptions;
  /** BullMQ's Redis (needs maxmemory-policy noeviction); the cache Redis when unset. */
  redisQueue: import('ioredis').RedisOptions;
  /**
   * /metrics of the projector and worker processes (the API serves it on its own port); unset:
   * each process's own default (projector 9464, worker 9465), so both run on one machine.
   */
  metricsPort: number | undefined;
  eventStoreConnectionString: string | undefined;
  defaultEnvironment: string;
  cacheTtlMs: number;
  maxConfigsPerTenant: number;
  redisKeyPrefix: string;
  readYourWritesTimeoutMs: number;
  /** Open long polls and event streams per API process. */
  maxWatchers: number;
  /** The largest file an import takes as a raw body, in bytes. */
  importMaxBytes: number;
  webhooks: {
    allowPrivateNetworks: boolean;
    timeoutMs: number;
    retryScheduleMs: number[];
    deliveryRetentionMs: number;
  };
  /** bull-board may retry, clean, promote… jobs; read-only otherwise. */
  queueDashboardActions: boolean;
  /** How often the worker re-creates lost step and expiry jobs from the read model. */
  jobReconcileIntervalMs: number;
  /** Signed checkpoints of the hash chain: the Ed25519 key (none: no checkpoints) and how often. */
  audit: { signingKey: import('node:crypto').KeyObject | undefined; checkpointIntervalMs: number };
  /** A worker or projection silent for longer is reported dead. */
  heartbeatTimeoutMs: number;
  /** Apps' instances: silent longer than instanceTtlMs they stop counting; retentionMs, deleted. */
  acknowledgements: { instanceTtlMs: number; retentionMs: number };
  /** SIGTERM: how long a process may take to stop before it exits regardless. */
  shutdownTimeoutMs: number;
  /** API processes serving the one port (Node cluster workers; 1: the API process itself). */
  apiWorkers: number;
  /** Share of requests served by Express that are access-logged (5xx always are). */
  accessLogSampleRate: number;
  /** Share of hot-path reads access-logged (0: none; the hot path stays free of logging). */
  hotReadLogSampleRate: number;
  /** Serve plain hot reads without Node's HTTP parser (src/core/http/fast-lane.ts). */
  hotReadFastLane: boolean;
  /** Settings given but not known (misspelt?): logged at start-up. */
  warnings: string[];
  approvalExpiry: { defaultMs: number; minMs: number; maxMs: number };
  telemetry: { jaegerEndpoint: string | undefined; samplingRate: number };
  jwt: {
    secret: string;
    issuer: string;
    audience: string;
    /** An OpenID Connect provider whose tokens are accepted too. */
    authority?: string;
    rolesClaim: string;
    tenantsClaim: string;
  };
  rateLimits: { configGet: number; configCreate: number; deployments: number };
  logLevel: string;
  /**
   * Encryption at rest: key-encryption keys for the tenants' data keys. Vault wins when both are
   * set; neither: encrypted configurations are refused.
   */
  encryption: {
    masterKeys: MasterKey[] | undefined;
    vault: VaultSettings | undefined;
    dataKeyCacheTtlMs: number;
  };
  /** The web console's sign-in with the JWT__Authority provider (absent: tokens only). */
  console: { oidcClientId?: string; oidcScope: string };
}

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/** Flattens `{ "A": { "B": 1 } }` to `{ "A__B": "1" }`. */
export function flattenSettings(obj: unknown, prefix = '', out: Record<string, string> = {}) {
  if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj))
      flattenSettings(v, prefix ? `${prefix}__${k}` : k, out);
  } else if (obj !== undefined && obj !== null) {
    out[prefix] = String(obj);
  }
  return out;
}

function readJson(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  try {
    return flattenSettings(JSON.parse(readFileSync(file, 'utf8')));
  } catch (e) {
    throw new SettingsError(`${file}: ${(e as Error).message}`);
  }
}

/** Every setting name the service reads. */
export const KNOWN_SETTINGS: readonly string[] = Object.keys(schema.shape);

export function loadSettings(
  env: Record<string, string | undefined> = process.env,
  dir = process.env.CONFIG_SERVICE_SETTINGS_DIR ?? process.cwd(),
  /** Tools that never check tokens (migrations) need no JWT secret. */
  options: { requireJwtSecret?: boolean } = {},
): Settings {
  const base = readJson(path.join(dir, 'appsettings.json'));
  const environment = env.ASPNETCORE_ENVIRONMENT || base.ASPNETCORE_ENVIRONMENT || 'Development';
  const envFile = readJson(path.join(dir, `appsettings.${environment}.json`));
  const warnings = [
    ...unknownFileKeys('appsettings.json', Object.keys(base), KNOWN_SETTINGS),
    ...unknownFileKeys(`appsettings.${environment}.json`, Object.keys(envFile), KNOWN_SETTINGS),
    ...unknownVariables(env, KNOWN_SETTINGS),
  ];
  const merged: Record<string, string | undefined> = { ...base, ...envFile };
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') merged[k] = v;
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new SettingsError(`Invalid settings:\n  ${problems.join('\n  ')}`);
  }
  const s = parsed.data;
  const expiry = [
    s.ConfigService__ApprovalMinExpiry,
    s.ConfigService__ApprovalExpiry,
    s.ConfigService__ApprovalMaxExpiry,
  ];
  if (!(expiry[0]! <= expiry[1]! && expiry[1]! <= expiry[2]!)) {
    throw new SettingsError(
      'Invalid settings:\n  ConfigService__ApprovalExpiry: must lie between ConfigService__ApprovalMinExpiry and ConfigService__ApprovalMaxExpiry',
    );
  }
  const portMatch = /:(\d+)\/?$/.exec(s.ASPNETCORE_URLS.split(';')[0]!.trim());
  if (!portMatch) {
    throw new SettingsError(
      'Invalid settings:\n  ASPNETCORE_URLS: expected a URL with a port, such as http://+:5000',
    );
  }
  if (s.Vault__Address && !s.Vault__Token) {
    throw new SettingsError(
      'Invalid settings:\n  Vault__Token: required when Vault__Address is set',
    );
  }
  let secret = s.JWT__Secret;
  if (!secret) {
    if (
      options.requireJwtSecret !== false &&
      s.ASPNETCORE_ENVIRONMENT !== 'Development' &&
      s.ASPNETCORE_ENVIRONMENT !== 'Test'
    ) {
      throw new SettingsError(
        `Invalid settings:\n  JWT__Secret: required outside Development (environment is ${s.ASPNETCORE_ENVIRONMENT})`,
      );
    }
    secret = DEV_JWT_SECRET;
  }
  return {
    environment: s.ASPNETCORE_ENVIRONMENT,
    port: Number(portMatch[1]),
    postgres: s.ConnectionStrings__PostgreSQL,
    redis: s.ConnectionStrings__Redis,
    redisQueue: s.ConnectionStrings__RedisQueue ?? s.ConnectionStrings__Redis,
    metricsPort: s.METRICS_PORT,
    eventStoreConnectionString: s.ConnectionStrings__EventStore,
    defaultEnvironment: s.ConfigService__DefaultEnvironment,
    cacheTtlMs: s.ConfigService__CacheTTL,
    maxConfigsPerTenant: s.ConfigService__MaxConfigsPerTenant,
    redisKeyPrefix: s.ConfigService__RedisKeyPrefix,
    readYourWritesTimeoutMs: s.ConfigService__ReadYourWritesTimeout,
    maxWatchers: s.ConfigService__MaxWatchers,
    importMaxBytes: s.ConfigService__Import__MaxBytes,
    webhooks: {
      allowPrivateNetworks: s.ConfigService__Webhooks__AllowPrivateNetworks,
      timeoutMs: s.ConfigService__Webhooks__Timeout,
      retryScheduleMs: s.ConfigService__Webhooks__RetrySchedule,
      deliveryRetentionMs: s.ConfigService__Webhooks__DeliveryRetention,
    },
    queueDashboardActions: s.ConfigService__QueueDashboardActions,
    jobReconcileIntervalMs: s.ConfigService__JobReconcileInterval,
    audit: {
      signingKey: s.ConfigService__Audit__SigningKey,
      checkpointIntervalMs: s.ConfigService__Audit__CheckpointInterval,
    },
    heartbeatTimeoutMs: s.ConfigService__HeartbeatTimeout,
    acknowledgements: {
      instanceTtlMs: s.ConfigService__Acknowledgements__InstanceTtl,
      retentionMs: s.ConfigService__Acknowledgements__Retention,
    },
    shutdownTimeoutMs: s.ConfigService__ShutdownTimeout,
    apiWorkers: s.ConfigService__ApiWorkers,
    accessLogSampleRate: s.ConfigService__AccessLogSampleRate,
    hotReadLogSampleRate: s.ConfigService__HotReadLogSampleRate,
    hotReadFastLane: s.ConfigService__HotReadFastLane,
    warnings,
    approvalExpiry: {
      defaultMs: s.ConfigService__ApprovalExpiry,
      minMs: s.ConfigService__ApprovalMinExpiry,
      maxMs: s.ConfigService__ApprovalMaxExpiry,
    },
    telemetry: {
      jaegerEndpoint: s.OpenTelemetry__JaegerEndpoint,
      samplingRate: s.OpenTelemetry__SamplingRate,
    },
    jwt: {
      secret,
      issuer: s.JWT__Issuer,
      audience: s.JWT__Audience,
      ...(s.JWT__Authority ? { authority: s.JWT__Authority } : {}),
      rolesClaim: s.JWT__RolesClaim,
      tenantsClaim: s.JWT__TenantsClaim,
    },
    rateLimits: {
      configGet: s.RateLimiting__ConfigGet,
      configCreate: s.RateLimiting__ConfigCreate,
      deployments: s.RateLimiting__Deployments,
    },
    logLevel: s.Logging__LogLevel__Default,
    encryption: {
      masterKeys: s.Encryption__MasterKey,
      vault: s.Vault__Address
        ? {
            address: s.Vault__Address,
            token: s.Vault__Token!,
            mount: s.Vault__TransitMount,
            keyName: s.Vault__TransitKey,
            namespace: s.Vault__Namespace,
            timeoutMs: s.Vault__Timeout,
          }
        : undefined,
      dataKeyCacheTtlMs: s.Encryption__DataKeyCacheTTL,
    },
    console: {
      ...(s.ConfigService__Console__OidcClientId
        ? { oidcClientId: s.ConfigService__Console__OidcClientId }
        : {}),
      oidcScope: s.ConfigService__Console__OidcScope,
    },
  };
}
