/** What the API shows of a tenant's environments. */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { int, position, timestamp } from '../../core/http/common.schemas.js';
import type { TenantState } from '../tenants/tenant.decider.js';

export const environmentView = named(
  'Environment',
  z.strictObject({
    name: z.string().describe('the declared spelling (requests may use any case)'),
    configurations: int.describe('live configurations in it'),
    requiredApprovals: int.describe('approvals its changes need (0: direct writes)'),
    implicit: z
      .boolean()
      .describe(
        'true for a tenant from before declarations: read as declared because it is a default ' +
          'or was in use; its first environment command declares them explicitly',
      ),
    declaredBy: z.string().nullable(),
    declaredAt: timestamp,
  }),
);

export const environmentList = named(
  'EnvironmentList',
  z.strictObject({
    tenantId: z.string(),
    maxEnvironments: int.describe('the quota: how many it may declare'),
    environments: z.array(environmentView),
  }),
);

export const environmentResult = named(
  'EnvironmentResult',
  z
    .strictObject({
      tenantId: z.string(),
      environment: z
        .string()
        .describe('the environment declared, renamed (its new name) or removed'),
      environments: z.array(z.string()).describe('the declared environments after the command'),
      position,
    })
    .describe('The outcome of an environment command, and the event position'),
);

export interface EnvironmentRow {
  name: string;
  configurations: number;
  required_approvals: number;
  implicit: boolean;
  declared_by: string | null;
  declared_at: Date;
}

export const environmentOfRow = (r: EnvironmentRow): z.infer<typeof environmentView> => ({
  name: r.name,
  configurations: r.configurations,
  requiredApprovals: r.required_approvals,
  implicit: r.implicit,
  declaredBy: r.declared_by,
  declaredAt: r.declared_at.toISOString(),
});

export const environmentsOfState = (state: TenantState): string[] =>
  state.exists ? [...state.environments.names] : [];
