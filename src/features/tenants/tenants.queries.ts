/** Tenants and their approval policies, from the read tables. */
import type pg from 'pg';
import { pageOf, type Paging } from '../../core/postgres/paging.js';
import { tenantOfRow } from './tenant.view.js';

/** Tenants with what their view shows beside the row: quota in use, environments, own policy. */
const TENANTS = `(SELECT t.*,
    (SELECT count(*)::int FROM configurations c
      WHERE c.tenant_id = t.tenant_id AND c.deleted_at IS NULL) AS configuration_count,
    (SELECT array_agg(DISTINCT c.environment) FROM configurations c
      WHERE c.tenant_id = t.tenant_id AND c.deleted_at IS NULL) AS environments,
    (SELECT jsonb_object_agg(p.environment, p.required_approvals) FROM approval_policies p
      WHERE p.tenant_id = t.tenant_id) AS own_policy
  FROM tenants t) AS tenants`;

export class TenantQueries {
  constructor(private readonly db: pg.Pool) {}

  async tenant(tenantId: string) {
    const { rows } = await this.db.query(`SELECT * FROM ${TENANTS} WHERE tenant_id = $1`, [
      tenantId,
    ]);
    return rows[0] ? tenantOfRow(rows[0]) : undefined;
  }

  /** Tenants by id; deleted ones only when asked for by status. */
  tenants(filter: Paging & { status?: string; search?: string }) {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.status) where.push(`status = $${args.push(filter.status)}`);
    else where.push(`status <> 'Deleted'`);
    if (filter.search) {
      const like = `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      where.push(`(tenant_id ILIKE $${args.push(like)} OR name ILIKE $${args.length})`);
    }
    return pageOf(this.db, TENANTS, where, args, 'tenant_id', filter, tenantOfRow);
  }

  /** The effective approval policy: the defaults, overridden by the tenant's own settings. */
  async approvalPolicy(tenantId: string, defaults: Record<string, number>) {
    const { rows } = await this.db.query<{ environment: string; required_approvals: number }>(
      'SELECT environment, required_approvals FROM approval_policies WHERE tenant_id = $1 ORDER BY environment',
      [tenantId],
    );
    const policy: Record<string, number> = { ...defaults };
    for (const r of rows) policy[r.environment] = r.required_approvals;
    return policy;
  }
}
