import { runner } from 'node-pg-migrate';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

// From src/core/postgres/ (tsx) or dist/src/core/postgres/ (built): migrations/ is at the root.
export const MIGRATIONS_DIR = ['../../../migrations', '../../../../migrations']
  .map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
  .find((dir) => existsSync(dir))!;

import { MIGRATE_HINT } from './migrate-hint.js';

export { MIGRATE_HINT };

/** The migrations this build needs, as node-pg-migrate names them (file name, no extension). */
export function migrationNames(): string[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => /\.(sql|js|ts|cjs|mjs)$/.test(f))
    .map((f) => f.replace(/\.[^.]+$/, ''))
    .sort();
}

export type SchemaStatus = { ok: true } | { ok: false; missing: string[]; message: string };

/**
 * Whether every migration of this build has been applied. A database migrated by a newer build
 * is fine (its extra migrations only add). Throws when PostgreSQL cannot be asked.
 */
export async function schemaStatus(db: Pick<pg.Pool, 'query'>): Promise<SchemaStatus> {
  let applied: Set<string>;
  try {
    const { rows } = await db.query<{ name: string }>('SELECT name FROM pgmigrations');
    applied = new Set(rows.map((r) => r.name));
  } catch (error) {
    // No pgmigrations table: a database that was never migrated.
    if ((error as { code?: string }).code !== '42P01') throw error;
    applied = new Set();
  }
  const missing = migrationNames().filter((n) => !applied.has(n));
  if (missing.length === 0) return { ok: true };
  const message =
    applied.size === 0
      ? `the database has no schema yet: ${MIGRATE_HINT}`
      : `the database schema is behind this build (${missing.length} migration(s) to apply, from ${missing[0]}): ${MIGRATE_HINT}`;
  return { ok: false, missing, message };
}

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
    logger: { debug: () => undefined, info: log, warn: log, error: () => undefined },
    verbose: false,
  });
  return applied.map((m) => m.name);
}
