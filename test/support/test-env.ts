/**
 * Each test run gets its own PostgreSQL database (unique name, migrated, dropped at the end) and
 * its own Redis key prefix, so concurrent runs never see each other's data.
 */
import pg from 'pg';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { migrate } from '../../src/core/postgres/migrate.js';
import { parsePostgresConnectionString, type PgConfig } from '../../src/core/postgres/postgres.js';

const adminConnection =
  process.env.TEST_POSTGRES_ADMIN ??
  process.env.ConnectionStrings__PostgreSQL ??
  'Host=127.0.0.1;Port=5432;Database=postgres;Username=postgres';

export const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
export const testDatabaseName = `cfgsvc_test_${runId}`;
export const redisPrefix = `cfgsvc-test:${runId}:`;
export const redisUrl =
  process.env.TEST_REDIS ?? process.env.ConnectionStrings__Redis ?? '127.0.0.1:6379';

const admin: PgConfig = { ...parsePostgresConnectionString(adminConnection) };
export const testDbConfig: PgConfig = { ...admin, database: testDatabaseName };
/** The ADO.NET-style connection string of the test database, as the app's settings take it. */
export const testDbConnectionString = `Host=${admin.host ?? '127.0.0.1'};Port=${admin.port ?? 5432};Database=${testDatabaseName};Username=${admin.user ?? 'postgres'}${admin.password ? `;Password=${admin.password}` : ''}`;

let created = false;

export async function createTestDatabase(): Promise<void> {
  const client = new pg.Client(admin);
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${testDatabaseName}"`);
    created = true;
  } finally {
    await client.end();
  }
  await migrate(testDbConfig);
}

export async function dropTestDatabase(): Promise<void> {
  if (!created) return;
  const client = new pg.Client(admin);
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${testDatabaseName}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** Deletes every Redis key under `prefix` (a harness's, or the whole run's). */
export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl.includes('://') ? redisUrl : `redis://${redisUrl}`);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
