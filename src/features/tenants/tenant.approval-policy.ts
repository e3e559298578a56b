/**
 * Approval policy: how many approvals a change to an environment needs, setting it, and the
 * refusal of direct writes where approval is needed.
 */
import { DomainError } from '../../core/domain-error.js';
import { requireDeclaredEnvironment } from './tenant.environments.js';
import { requireLiveTenant, type TenantEvent, type TenantState } from './tenant.state.js';

/**
 * How many approvals a change needs, per environment, unless the tenant set its own policy:
 * Production needs one, every other environment none.
 */
export const DEFAULT_APPROVAL_POLICY: Readonly<Record<string, number>> = { Production: 1 };
export const MAX_REQUIRED_APPROVALS = 10;

/** An own property only: an environment may be called `constructor` or `toString`. */
const own = (record: Readonly<Record<string, number>>, key: string): number | undefined =>
  Object.hasOwn(record, key) ? record[key] : undefined;

export function requiredApprovals(state: TenantState, environment: string): number {
  const fallback = own(DEFAULT_APPROVAL_POLICY, environment) ?? 0;
  if (!state.exists) return fallback;
  return own(state.approvalPolicy, environment) ?? fallback;
}

/** The policy of every environment the tenant uses or configured, defaults included. */
export function approvalPolicyOf(state: TenantState): Record<string, number> {
  const policy: Record<string, number> = { ...DEFAULT_APPROVAL_POLICY };
  if (state.exists) {
    for (const c of state.configs.values())
      policy[c.environment] = requiredApprovals(state, c.environment);
    Object.assign(policy, state.approvalPolicy);
  }
  return policy;
}

export function decideSetApprovalPolicy(
  state: TenantState,
  cmd: { tenantId: string; environment: string; requiredApprovals: number },
): TenantEvent[] {
  const tenant = requireLiveTenant(state, cmd.tenantId);
  const environment = requireDeclaredEnvironment(tenant, cmd.environment);
  if (
    !Number.isInteger(cmd.requiredApprovals) ||
    cmd.requiredApprovals < 0 ||
    cmd.requiredApprovals > MAX_REQUIRED_APPROVALS
  ) {
    throw new DomainError(
      'validation',
      `requiredApprovals must be a whole number from 0 to ${MAX_REQUIRED_APPROVALS}`,
      'requiredApprovals',
    );
  }
  if (requiredApprovals(state, environment) === cmd.requiredApprovals) return [];
  return [{ type: 'ApprovalPolicySet', data: { ...cmd, environment } }];
}

/** Direct writes to an environment that needs approval are refused: use a change request. */
export function requireDirectWrites(state: TenantState, environment: string): void {
  const required = requiredApprovals(state, environment);
  if (required > 0) {
    throw new DomainError(
      'approval_required',
      `Changes to ${environment} need ${required} approval(s): submit a change request with POST /api/v1/approvals`,
      'environment',
      { requiredApprovals: required, changeRequests: '/api/v1/approvals' },
    );
  }
}
