/**
 * What the benchmarks share: a throw-away database and Redis prefix per run, cleanups that always
 * run (in reverse order), option parsing helpers and a listening helper.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import type { Settings } from '../src/core/settings/settings.js';
import { migrate } from '../src/core/postgres/migrate.js';
import { createRedis } from '../src/core/redis/redis.js';
import { parsePostgresConnectionString, type PgConfig } from '../src/core/postgres/postgres.js';

export class UsageError extends Error {}

/**
 * Reads the command line with `parse`: `--help` (`help: true`) prints the usage and exits 0; a
 * usage error prints itself and the usage and exits 2.
 */
export function commandLine<T>(
  usage: string,
  parse: () => { help?: boolean | undefined; options: T },
): T {
  let parsed: { help?: boolean | undefined; options: T };
  try {
    parsed = parse();
  } catch (error) {
    console.error(error instanceof UsageError ? error.message : String(error));
    console.error(usage);
    process.exit(2);
  }
  if (parsed.help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed.options;
}

export function integer(name: string, raw: string, min: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer >= ${min}`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Resources: each registers its cleanup as soon as it exists; cleanups run in reverse, always
// ---------------------------------------------------------------------------------------------

const cleanups: { name: string; run: () => Promise<void> }[] = [];
export const onCleanup = (name: string, run: () => Promise<void>) => cleanups.push({ name, run });

export async function cleanUp(): Promise<boolean> {
  let ok = true;
  // Taken at once: a second call meanwhile (a signal during the first) finds nothing to do.
  for (const { name, run } of cleanups.splice(0).reverse()) {
    try {
      await run();
    } catch (error) {
      ok = false;
      console.error(`cleanup: ${name} failed: ${(error as Error).message}`);
    }
  }
  return ok;
}

export const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
export const databaseName = `cfgsvc_bench_${runId}`;
export const redisPrefix = `cfgsvc-bench:${runId}:`;
const admin: PgConfig = parsePostgresConnectionString(
  process.env.BENCH_POSTGRES_ADMIN ??
    'Host=127.0.0.1;Port=5432;Database=postgres;Username=postgres',
);

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client(admin);
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates and migrates the bench database; returns its connection string (ADO.NET form). */
export async function createDatabase(): Promise<string> {
  await adminQuery(`CREATE DATABASE "${databaseName}"`);
  onCleanup(`drop database ${databaseName}`, () =>
    adminQuery(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`),
  );
  await migrate({ ...admin, database: databaseName });
  return (
    `Host=${admin.host ?? '127.0.0.1'};Port=${admin.port ?? 5432};Database=${databaseName};` +
    `Username=${admin.user ?? 'postgres'}${admin.password ? `;Password=${admin.password}` : ''}`
  );
}

export async function deleteRedisKeys(settings: Settings): Promise<void> {
  const redis = createRedis(settings.redis, { maxRetriesPerRequest: 1 });
  try {
    const stream = redis.scanStream({ match: `${redisPrefix}*`, count: 500 });
    for await (const keys of stream as AsyncIterable<string[]>) {
      if (keys.length) await redis.unlink(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

export function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}
