import { Redis, type RedisOptions } from 'ioredis';
import { parsePort } from './postgres.js';

const unbracket = (host: string) => host.replace(/^\[(.*)\]$/, '$1');
function parseDb(value: string): number {
  if (!/^\d{1,5}$/.test(value))
    throw new Error(`database '${value}' must be a non-negative integer`);
  return Number(value);
}

/**
 * Accepts the deployment guide's StackExchange form (`host:port,password=…,ssl=true,
 * defaultDatabase=2`) and `redis://` / `rediss://` URLs.
 */
export function parseRedisConnectionString(value: string): RedisOptions {
  const trimmed = value.trim();
  if (/^rediss?:\/\//i.test(trimmed)) {
    const url = new URL(trimmed);
    const options: RedisOptions = {
      host: unbracket(url.hostname) || '127.0.0.1',
      port: url.port ? parsePort(url.port) : 6379,
    };
    if (url.username) options.username = decodeURIComponent(url.username);
    if (url.password) options.password = decodeURIComponent(url.password);
    const db = url.pathname.replace(/^\//, '');
    if (db) options.db = parseDb(db);
    if (url.protocol === 'rediss:') options.tls = {};
    return options;
  }
  const [endpoint, ...rest] = trimmed.split(',');
  if (!endpoint || endpoint.includes('=')) throw new Error('the first part must be host:port');
  // host, host:port, [v6], [v6]:port
  const m = /^(\[[^\]]+\]|[^:]+)(?::(.*))?$/.exec(endpoint.trim());
  if (!m) throw new Error(`'${endpoint}' is not host:port`);
  const options: RedisOptions = {
    host: unbracket(m[1]!),
    port: m[2] === undefined ? 6379 : parsePort(m[2]),
  };
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim().toLowerCase();
    const val = part.slice(eq + 1).trim();
    if (key === 'password') options.password = val;
    else if (key === 'user' || key === 'username') options.username = val;
    else if (key === 'ssl' && val.toLowerCase() === 'true') options.tls = {};
    else if (key === 'defaultdatabase') options.db = parseDb(val);
  }
  return options;
}

export function createRedis(options: RedisOptions, extra: RedisOptions = {}): Redis {
  const client = new Redis({ lazyConnect: false, ...options, ...extra });
  // Errors surface on the commands that fail; an unhandled 'error' event would crash the process.
  client.on('error', () => undefined);
  return client;
}

/** Every Redis key and channel the service uses, built in one place. */
export class RedisKeys {
  constructor(readonly prefix: string) {}
  env(tenantId: string, environment: string) {
    return `${this.prefix}env:${tenantId}:${environment}`;
  }
  /** Position of the last change the cache projection skipped because the env was not cached. */
  envSkip(tenantId: string, environment: string) {
    return `${this.prefix}envskip:${tenantId}:${environment}`;
  }
  /** When a Redis-kept checkpoint last moved (epoch seconds). */
  checkpointAt(projection: string) {
    return `${this.prefix}projection:${projection}:checkpoint-at`;
  }
  checkpoint(projection: string) {
    return `${this.prefix}projection:${projection}:checkpoint`;
  }
  get invalidationChannel() {
    return `${this.prefix}cache-invalidation`;
  }
}
