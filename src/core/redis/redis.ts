import { Redis, type RedisOptions } from 'ioredis';
import { parsePort } from '../postgres/postgres.js';

const unbracket = (host: string) => host.replace(/^\[(.*)\]$/, '$1');
function parseDb(value: string): number {
  if (!/^\d{1,5}$/.test(value))
    throw new Error(`database '${value}' must be a non-negative integer`);
  return Number(value);
}

/** StackExchange.Redis options that mean nothing here: accepted, with no effect. */
const NO_EFFECT = new Set([
  'abortconnect',
  'allowadmin',
  'connectretry',
  'synctimeout',
  'asynctimeout',
]);
const UNDERSTOOD = [
  'password',
  'user',
  'ssl',
  'sslHost',
  'defaultDatabase',
  'serviceName',
  'sentinelPassword',
  'name',
  'connectTimeout',
  'keepAlive',
  'abortConnect',
  'allowAdmin',
  'connectRetry',
  'syncTimeout',
  'asyncTimeout',
];

/** `host`, `host:port`, `[v6]`, `[v6]:port` → ioredis host and port. */
function endpoint(text: string, defaultPort: number): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(.*))?$/.exec(text.trim());
  if (!m) throw new Error(`'${text.trim()}' is not host:port`);
  return { host: unbracket(m[1]!), port: m[2] === undefined ? defaultPort : parsePort(m[2]) };
}

function milliseconds(key: string, value: string, scale = 1): number {
  if (!/^\d{1,9}$/.test(value)) throw new Error(`${key} '${value}' must be a whole number`);
  return Number(value) * scale;
}

/**
 * Accepts the deployment guide's StackExchange form (`host:port,password=…,ssl=true,
 * defaultDatabase=2`), Redis Sentinel in the same form (`sentinel1:26379,sentinel2:26379,
 * serviceName=mymaster`: the hosts are sentinels, asked for the current master) and `redis://` /
 * `rediss://` URLs. Anything it does not understand is refused, naming it, rather than ignored.
 */
export function parseRedisConnectionString(value: string): RedisOptions {
  const trimmed = value.trim();
  if (/^rediss?:\/\//i.test(trimmed)) {
    const url = new URL(trimmed);
    if (url.search) {
      throw new Error(
        'query parameters are not read in a redis:// URL; use the host:port,option=value form',
      );
    }
    if (url.hostname.includes(',')) {
      throw new Error('a redis:// URL names one host; for Sentinel use host:port,…,serviceName=…');
    }
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
  const [first, ...rest] = trimmed.split(',');
  if (!first || first.includes('=')) throw new Error('the first part must be host:port');
  const hosts = [first];
  const options: RedisOptions = {};
  let serviceName: string | undefined;
  let sentinelPassword: string | undefined;
  let tls = false;
  let servername: string | undefined;
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (part.trim()) hosts.push(part);
      continue;
    }
    const key = part.slice(0, eq).trim().toLowerCase();
    const val = part.slice(eq + 1).trim();
    if (key === 'password') options.password = val;
    else if (key === 'user' || key === 'username') options.username = val;
    else if (key === 'ssl') {
      if (!/^(true|false)$/i.test(val)) throw new Error(`ssl '${val}' must be true or false`);
      tls = val.toLowerCase() === 'true';
    } else if (key === 'sslhost') servername = val;
    else if (key === 'defaultdatabase') options.db = parseDb(val);
    else if (key === 'servicename') serviceName = val;
    else if (key === 'sentinelpassword') sentinelPassword = val;
    else if (key === 'name') options.connectionName = val;
    else if (key === 'connecttimeout') options.connectTimeout = milliseconds('connectTimeout', val);
    else if (key === 'keepalive') options.keepAlive = milliseconds('keepAlive', val, 1000);
    else if (!NO_EFFECT.has(key)) {
      throw new Error(
        `option '${part.slice(0, eq).trim()}' is not understood (known: ${UNDERSTOOD.join(', ')})`,
      );
    }
  }
  if (tls) options.tls = servername ? { servername } : {};
  if (serviceName === undefined) {
    if (hosts.length > 1) {
      throw new Error(
        `lists ${hosts.length} hosts: for Redis Sentinel name the master with serviceName=<name> ` +
          '(Redis Cluster is not supported; use one endpoint)',
      );
    }
    return { ...endpoint(hosts[0]!, 6379), ...options };
  }
  if (!serviceName) throw new Error('serviceName must name the Sentinel master');
  // Sentinel: the listed hosts are sentinels (default port 26379); ioredis asks them where the
  // master is, and again after a failover.
  return {
    ...options,
    sentinels: hosts.map((h) => endpoint(h, 26379)),
    name: serviceName,
    ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
    ...(tls ? { enableTLSForSentinelMode: true, sentinelTLS: options.tls } : {}),
  };
}

/** Where a Redis connection goes, for messages (never the password). */
export function describeRedis(options: RedisOptions): string {
  if (options.sentinels?.length) {
    return `Sentinel master '${options.name}' via ${options.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
  }
  return `${options.host}:${options.port}`;
}

export function createRedis(options: RedisOptions, extra: RedisOptions = {}): Redis {
  const retry =
    extra.retryStrategy ?? options.retryStrategy ?? ((times: number) => Math.min(times * 50, 2000));
  const client: Redis = new Redis({
    lazyConnect: false,
    ...options,
    ...extra,
    retryStrategy: retry,
  });
  // Errors surface on the commands that fail; an unhandled 'error' event would crash the process.
  client.on('error', () => undefined);
  return client;
}

/**
 * Closes a client whatever Redis is doing, and fails the commands queued for it. ioredis's own
 * disconnect() does not while it waits to reconnect (its timer is dropped, the socket is already
 * gone, nothing ever flushes the queue: a command waiting there waits forever). Then the next
 * attempt is allowed to fail and end the client.
 */
export async function closeRedis(client: Redis, timeoutMs = 5000): Promise<void> {
  // Once closing, the next failed attempt ends the client. ioredis reads the strategy from the
  // client's own copy of its options at every attempt, so this works for any client (BullMQ's too).
  client.options.retryStrategy = () => null;
  if (client.status === 'end') return;
  if (client.status === 'reconnecting') {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        client.off('end', done);
        client.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      client.once('end', done);
      client.once('ready', done); // Redis came back meanwhile: disconnect below
    });
  }
  if ((client.status as string) !== 'end') client.disconnect();
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
  /** Announced on the invalidation channel when a tenant's declared environments change. */
  environments(tenantId: string) {
    return `${this.prefix}environments:${tenantId}`;
  }
  get invalidationChannel() {
    return `${this.prefix}cache-invalidation`;
  }
  /** Crypto-shredding: a tenant whose data keys were destroyed (every process forgets them). */
  get dataKeysDestroyedChannel() {
    return `${this.prefix}data-keys-destroyed`;
  }
}
