import { runner } from 'node-pg-migrate';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

import { existsSync } from 'node:fs';

// From src/infrastructure/ (tsx) or dist/src/infrastructure/ (built): migrations/ is at the root.
export const MIGRATIONS_DIR = ['../../migrations', '../../../migrations']
  .map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
  .find((dir) => existsSync(dir))!;

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
