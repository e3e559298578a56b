/**
 * What the API shows of a tenant: one view, built from the read tables (queries) or from the
 * state a command left (command answers): its profile, the configurations it has (the quota in
 * use), its effective approval policy, and the times recorded with its events (null in a
 * command's answer).
 */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { int, page, position, recordedTime } from '../../core/http/common.schemas.js';
import { iso } from '../../core/postgres/paging.js';
import {
  DEFAULT_APPROVAL_POLICY,
  TENANT_TIERS,
  approvalPolicyOf,
  type TenantState,
} from './tenant.decider.js';

export const tenant = named(
  'Tenant',
  z.strictObject({
    tenantId: z.string(),
    name: z.string(),
    tier: z.enum(TENANT_TIERS),
    status: z.enum(['Active', 'Suspended', 'Deleted']),
    maxConfigurations: int,
    maxEnvironments: int,
    contactEmail: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    encryptValues: z.boolean().describe('configurations created from now on are encrypted at rest'),
    configurationCount: int.describe('live configurations (the quota in use)'),
    approvalPolicy: z
      .record(z.string(), int)
      .describe('approvals required per environment (the defaults, overridden by its own)'),
    createdAt: recordedTime,
    updatedAt: recordedTime,
    deletedAt: recordedTime,
  }),
);
export type TenantView = z.infer<typeof tenant>;

export const tenantPage = named('TenantPage', page(tenant, 'tenants, by id'));

export const tenantResult = named(
  'TenantResult',
  tenant.extend({ position }).describe('The tenant after the command, and the event position'),
);

/**
 * The policy every environment the tenant uses or configured has: as `approvalPolicyOf` reads
 * it from the tenant's stream, here from the read tables.
 */
export function effectivePolicy(
  own: Record<string, number>,
  environmentsInUse: readonly string[],
): Record<string, number> {
  const policy: Record<string, number> = { ...DEFAULT_APPROVAL_POLICY };
  for (const environment of environmentsInUse) {
    policy[environment] = Object.hasOwn(DEFAULT_APPROVAL_POLICY, environment)
      ? DEFAULT_APPROVAL_POLICY[environment]!
      : 0;
  }
  return Object.assign(policy, own);
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * A tenants row, with `configuration_count`, `environments` (of its live configurations) and
 * `own_policy` (its approval_policies rows as one object).
 */
export const tenantOfRow = (r: any): TenantView => ({
  tenantId: r.tenant_id,
  name: r.name,
  tier: r.tier,
  status: r.status,
  maxConfigurations: r.max_configurations,
  maxEnvironments: r.max_environments,
  contactEmail: r.contact_email,
  metadata: r.metadata,
  encryptValues: r.encrypt_values,
  configurationCount: r.configuration_count,
  approvalPolicy: effectivePolicy(r.own_policy ?? {}, r.environments ?? []),
  createdAt: iso(r.created_at)!,
  updatedAt: iso(r.updated_at)!,
  deletedAt: iso(r.deleted_at),
});
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The tenant as a command left it. */
export function tenantOfState(state: TenantState): TenantView {
  if (!state.exists) throw new Error('a command answered with no tenant');
  return {
    tenantId: state.tenantId,
    name: state.name,
    tier: state.tier,
    status: state.status,
    maxConfigurations: state.maxConfigurations,
    maxEnvironments: state.maxEnvironments,
    contactEmail: state.contactEmail,
    metadata: state.metadata,
    encryptValues: state.encryptValues ?? false,
    configurationCount: state.configs.size,
    approvalPolicy: approvalPolicyOf(state),
    createdAt: null,
    updatedAt: null,
    deletedAt: null,
  };
}

export const approvalPolicies = named(
  'ApprovalPolicies',
  z.strictObject({
    tenantId: z.string(),
    defaults: z.record(z.string(), int).describe('the service-wide defaults'),
    requiredApprovals: z
      .record(z.string(), int)
      .describe('approvals required per environment (0: changes apply directly)'),
  }),
);

export const approvalPolicyResult = named(
  'ApprovalPolicyResult',
  z.strictObject({
    tenantId: z.string(),
    environment: z.string(),
    requiredApprovals: int,
    position,
  }),
);
