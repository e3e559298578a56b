/** Change sets and environment comparisons, from the read tables. */
import type pg from 'pg';
import { pageOf, type Paging } from '../../core/postgres/paging.js';
import { changeSetOfRow } from './change-set.view.js';
import { compareRows } from './compare.view.js';

export class ChangeSetQueries {
  constructor(private readonly db: pg.Pool) {}

  changeSets(
    tenantId: string,
    filter: Paging & {
      status?: string;
      environment?: string;
      source?: string;
      /** A token limited to some environments sees only those. */
      environments?: string[] | null;
    },
  ) {
    const where = ['tenant_id = $1'];
    const args: unknown[] = [tenantId];
    if (filter.status) where.push(`status = $${args.push(filter.status)}`);
    if (filter.environment) where.push(`environment = $${args.push(filter.environment)}`);
    if (filter.source) where.push(`source = $${args.push(filter.source)}`);
    if (filter.environments) where.push(`environment = ANY($${args.push(filter.environments)})`);
    return pageOf(
      this.db,
      'change_sets',
      where,
      args,
      'created_at DESC, change_set_id',
      filter,
      changeSetOfRow,
    );
  }

  async changeSet(tenantId: string, changeSetId: string) {
    const { rows } = await this.db.query(
      'SELECT * FROM change_sets WHERE tenant_id = $1 AND change_set_id = $2',
      [tenantId, changeSetId],
    );
    return rows[0] ? changeSetOfRow(rows[0]) : undefined;
  }

  /** The live keys of two environments, paired by key (filtered by keys and any of tags). */
  async compare(
    tenantId: string,
    from: string,
    to: string,
    filter: { keys?: string[]; tags?: string[] },
  ) {
    const where = ['tenant_id = $1', 'environment = ANY($2)', 'deleted_at IS NULL'];
    const args: unknown[] = [tenantId, [from, to]];
    if (filter.keys?.length) where.push(`key = ANY($${args.push(filter.keys)})`);
    if (filter.tags?.length) where.push(`tags && $${args.push(filter.tags)}::text[]`);
    const { rows } = await this.db.query(
      `SELECT * FROM configurations WHERE ${where.join(' AND ')}`,
      args,
    );
    return compareRows(tenantId, from, to, rows);
  }
}
