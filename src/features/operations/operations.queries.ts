/** Counts the operations gauges read when scraped (active_tenants, active_configurations). */
import type pg from 'pg';

export async function activeCounts(
  db: pg.Pool,
): Promise<{ tenants: number; configurations: number }> {
  const { rows } = await db.query<{ tenants: number; configurations: number }>(
    `SELECT (SELECT count(*)::int FROM tenants WHERE deleted_at IS NULL) AS tenants,
            (SELECT count(*)::int FROM configurations WHERE deleted_at IS NULL) AS configurations`,
  );
  return rows[0]!;
}
