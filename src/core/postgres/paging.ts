/** Paged reads over the read tables, shared by every feature's queries. */
import type pg from 'pg';

export interface Page<T> {
  items: T[];
  page: number;
  pageSize: number;
  total: number;
}

export interface Paging {
  page: number;
  pageSize: number;
}

/** Timestamps in the API's ISO form. */
export const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * One page of `table` (a table or a parenthesised sub-select), with its total count. `where`
 * clauses refer to `args` by position.
 */
export async function pageOf<T>(
  db: pg.Pool,
  table: string,
  where: string[],
  args: unknown[],
  orderBy: string,
  { page, pageSize }: Paging,
  view: (row: unknown) => T,
): Promise<Page<T>> {
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const [items, count] = await Promise.all([
    db.query(
      `SELECT * FROM ${table} ${clause} ORDER BY ${orderBy} LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`,
      args,
    ),
    db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} ${clause}`, args),
  ]);
  return { items: items.rows.map(view), page, pageSize, total: Number(count.rows[0]!.n) };
}

/** The filters change requests and deployments share. */
export interface ResourceFilter extends Paging {
  tenantId?: string;
  status?: string;
  environment?: string;
  /** A token limited to some environments sees only those. */
  environments?: string[] | null;
  configId?: string;
}

/** WHERE clauses for a ResourceFilter (the environment column's name differs per table). */
export function resourceWhere(filter: ResourceFilter, environmentColumn: string) {
  const where: string[] = [];
  const args: unknown[] = [];
  if (filter.tenantId) where.push(`tenant_id = $${args.push(filter.tenantId)}`);
  if (filter.status) where.push(`status = $${args.push(filter.status)}`);
  if (filter.environment) where.push(`${environmentColumn} = $${args.push(filter.environment)}`);
  if (filter.environments) {
    where.push(`${environmentColumn} = ANY($${args.push(filter.environments)})`);
  }
  if (filter.configId) where.push(`config_id = $${args.push(filter.configId)}`);
  return { where, args };
}
