/** A tenant's declared environments, from the read tables. */
import type pg from 'pg';
import { HttpProblem } from '../../core/http/problem.js';
import { DEFAULT_APPROVAL_POLICY } from '../tenants/tenant.decider.js';
import { declaredList, resolveEnvironment } from './environment-set.js';
import { environmentOfRow, type EnvironmentRow } from './environment.view.js';

export class EnvironmentQueries {
  constructor(private readonly db: pg.Pool) {}

  /** Undefined when the tenant does not exist. */
  async list(tenantId: string) {
    const { rows: tenants } = await this.db.query<{ max_environments: number }>(
      'SELECT max_environments FROM tenants WHERE tenant_id = $1',
      [tenantId],
    );
    if (!tenants[0]) return undefined;
    const { rows } = await this.db.query<EnvironmentRow & { policy: number | null }>(
      `SELECT e.name, e.implicit, e.declared_by, e.declared_at,
              (SELECT COUNT(*)::int FROM configurations c
                WHERE c.tenant_id = e.tenant_id AND c.environment = e.name
                  AND c.deleted_at IS NULL) AS configurations,
              p.required_approvals AS policy
         FROM tenant_environments e
         LEFT JOIN approval_policies p ON p.tenant_id = e.tenant_id AND p.environment = e.name
        WHERE e.tenant_id = $1
        ORDER BY e.ordinal, e.name`,
      [tenantId],
    );
    return {
      tenantId,
      maxEnvironments: tenants[0].max_environments,
      environments: rows.map((r) =>
        environmentOfRow({
          ...r,
          required_approvals:
            r.policy ??
            (Object.hasOwn(DEFAULT_APPROVAL_POLICY, r.name) ? DEFAULT_APPROVAL_POLICY[r.name]! : 0),
        }),
      ),
    };
  }

  /** The declared names, in order ([] for an unknown tenant). */
  async names(tenantId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ name: string }>(
      'SELECT name FROM tenant_environments WHERE tenant_id = $1 ORDER BY ordinal, name',
      [tenantId],
    );
    return rows.map((r) => r.name);
  }

  /** A read naming an environment: its declared spelling, or 404 naming the declared ones. */
  async resolve(tenantId: string, environment: string): Promise<string> {
    const names = await this.names(tenantId);
    const found = resolveEnvironment(names, environment);
    if (found === undefined) throw undeclared(tenantId, environment, names);
    return found;
  }
}

export function undeclared(tenantId: string, environment: string, names: readonly string[]) {
  return new HttpProblem(
    404,
    'Not found',
    `Environment '${environment}' is not declared by tenant '${tenantId}' (${declaredList(names)})`,
    { field: 'environment', declaredEnvironments: [...names] },
  );
}
