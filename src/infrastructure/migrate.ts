import { runner } from 'node-pg-migrate';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Applies every pending migration in migrations/ (idempotent; node-pg-migrate takes a lock). */
export async function migrate(
  databaseUrl: string | pg.ClientConfig,
  log: (msg: string) => void = () => undefined,
): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    count: Infinity,
    log,
    logger: { debug: () => undefined, info: log, warn: log, error: log },
    verbose: false,
  });
  return applied.map((m) => m.name);
}
