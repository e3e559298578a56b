/**
 * Databases of a test's own on the shared server (an empty one for a restore, one that was never
 * migrated, a log of its own for the fault tests), dropped afterwards.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { migrate } from '../../src/core/postgres/migrate.js';
import { testDbConfig, testDbConnectionString, testDatabaseName } from './test-env.js';

export interface ScratchDatabase {
  name: string;
  /** Its ConnectionStrings__PostgreSQL value. */
  connectionString: string;
  config: pg.ClientConfig;
  drop(): Promise<void>;
}

export async function scratchDatabase(
  label: string,
  options: { migrated?: boolean } = {},
): Promise<ScratchDatabase> {
  const name = `${testDatabaseName}_${label}_${randomBytes(2).toString('hex')}`;
  const admin = new pg.Client({ ...testDbConfig, database: 'postgres' });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const config = { ...testDbConfig, database: name };
  if (options.migrated !== false) await migrate(config);
  return {
    name,
    connectionString: testDbConnectionString.replace(
      `Database=${testDatabaseName}`,
      `Database=${name}`,
    ),
    config,
    async drop() {
      const client = new pg.Client({ ...testDbConfig, database: 'postgres' });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
