/**
 * Settings, read with the deployment guide's names (`Section__Key`) from the environment, over
 * `appsettings.json` and `appsettings.{Environment}.json` (the same keys nested, as the Kubernetes
 * ConfigMap mounts them). Environment variables win. Validated once at start-up: a bad or missing
 * value stops the process with a message naming the variable.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parsePostgresConnectionString } from '../infrastructure/postgres.js';
import { parseRedisConnectionString } from '../infrastructure/redis.js';

/** ISO-8601 duration (`PT5M`, `P1DT2H`, `PT0.5S`) → milliseconds. */
export function parseIsoDuration(value: string): number {
  const m =
    /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
      value.trim(),
    );
  if (!m || value.trim() === 'P' || value.trim().endsWith('T')) {
    throw new Error(`'${value}' is not an ISO-8601 duration such as PT5M`);
  }
  const [, d, h, min, s] = m.map((x) => (x === undefined ? 0 : Number(x)));
  return Math.round((((d! * 24 + h!) * 60 + min!) * 60 + s!) * 1000);
}

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
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).default(9464),
  ConnectionStrings__EventStore: z
    .string()
    .regex(
      /^(esdb|esdb\+discover|kurrentdb|kurrentdb\+discover|kurrent|kdb):\/\//,
      'must start with esdb:// or kurrentdb://',
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
  OpenTelemetry__JaegerEndpoint: z.string().url().optional(),
  OpenTelemetry__SamplingRate: z.coerce.number().min(0).max(1).default(1),
  JWT__Secret: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT__Issuer: z.string().min(1).default('https://config.example.com'),
  JWT__Audience: z.string().min(1).default('config-service-api'),
  RateLimiting__ConfigGet: int(1).default(1000),
  RateLimiting__ConfigCreate: int(1).default(100),
  RateLimiting__Deployments: int(1).default(10),
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
  /** /metrics of the projector and worker processes (the API serves it on its own port). */
  metricsPort: number;
  eventStoreConnectionString: string | undefined;
  defaultEnvironment: string;
  cacheTtlMs: number;
  maxConfigsPerTenant: number;
  redisKeyPrefix: string;
  readYourWritesTimeoutMs: number;
  /** Open long polls and event streams per API process. */
  maxWatchers: number;
  approvalExpiry: { defaultMs: number; minMs: number; maxMs: number };
  telemetry: { jaegerEndpoint: string | undefined; samplingRate: number };
  jwt: { secret: string; issuer: string; audience: string };
  rateLimits: { configGet: number; configCreate: number; deployments: number };
  logLevel: string;
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

export function loadSettings(
  env: Record<string, string | undefined> = process.env,
  dir = process.env.CONFIG_SERVICE_SETTINGS_DIR ?? process.cwd(),
  /** Tools that never check tokens (migrations) need no JWT secret. */
  options: { requireJwtSecret?: boolean } = {},
): Settings {
  const base = readJson(path.join(dir, 'appsettings.json'));
  const environment = env.ASPNETCORE_ENVIRONMENT || base.ASPNETCORE_ENVIRONMENT || 'Development';
  const merged: Record<string, string | undefined> = {
    ...base,
    ...readJson(path.join(dir, `appsettings.${environment}.json`)),
  };
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
    approvalExpiry: {
      defaultMs: s.ConfigService__ApprovalExpiry,
      minMs: s.ConfigService__ApprovalMinExpiry,
      maxMs: s.ConfigService__ApprovalMaxExpiry,
    },
    telemetry: {
      jaegerEndpoint: s.OpenTelemetry__JaegerEndpoint,
      samplingRate: s.OpenTelemetry__SamplingRate,
    },
    jwt: { secret, issuer: s.JWT__Issuer, audience: s.JWT__Audience },
    rateLimits: {
      configGet: s.RateLimiting__ConfigGet,
      configCreate: s.RateLimiting__ConfigCreate,
      deployments: s.RateLimiting__Deployments,
    },
    logLevel: s.Logging__LogLevel__Default,
  };
}
