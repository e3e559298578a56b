/**
 * Submitting a change request: what the request records is decided from the tenant (active, its
 * approval policy) and the config as it is now (its type, value and version), with the bounds of
 * the request's expiry. Pure; tested given/when/then beside it.
 */
import { randomUUID } from 'node:crypto';
import { decideRequest, type ApprovalEvent, type ChangeAction } from './change-request.decider.js';
import { configIdFor, type ConfigurationState } from '../configs/config.decider.js';
import {
  encryptsNewConfig,
  requireActiveTenant,
  requiredApprovals,
  type TenantState,
} from '../tenants/tenant.decider.js';
import { normaliseValue, type ConfigType } from '../configs/config-values.js';
import type { RolloutPlan } from '../deployments/deployment.decider.js';
import { DomainError } from '../../core/domain-error.js';
import { notFound } from '../../core/commands/command-handling.js';

export const newApprovalId = () => `apr_${randomUUID().replace(/-/g, '')}`;

export interface ChangeRequestInput {
  tenantId: string;
  key: string;
  environment: string;
  /** Update (the default) proposes `value`; Delete proposes deleting the config. */
  action?: ChangeAction;
  /** Required for a new config; must match an existing config's type. */
  type?: ConfigType;
  value?: unknown;
  description?: string | null;
  rollout: RolloutPlan;
  expiresInSeconds?: number;
  isSensitive?: boolean;
  /** For a new config: encrypt its values at rest (an existing config keeps its own setting). */
  isEncrypted?: boolean;
  tags?: string[];
  /** Carry it out at this time once approved (ISO 8601); the request expires then at the latest. */
  applyAt?: string;
}

/** ConfigService__ApprovalExpiry*: the default and the bounds of a request's lifetime. */
export interface ExpiryLimits {
  approvalExpiryMs: number;
  approvalMinExpiryMs: number;
  approvalMaxExpiryMs: number;
}

export function decideSubmission(
  s: { tenant: TenantState; config: ConfigurationState },
  input: ChangeRequestInput,
  context: { approvalId: string; requestedBy: string; now: Date; limits: ExpiryLimits },
): ApprovalEvent[] {
  const configId = configIdFor(input.tenantId, input.environment, input.key);
  requireActiveTenant(s.tenant, input.tenantId);
  const c = s.config;
  const live = c.exists && !c.deleted;
  const action = input.action ?? 'Update';
  if (action === 'Delete' && !live) throw notFound('Configuration', configId, 'configId');
  // A deleted config comes back with its old type unless the request names another.
  const type = live ? c.type : (input.type ?? (c.exists ? c.type : undefined));
  if (!type) {
    throw new DomainError('validation', 'type is required for a new configuration', 'type');
  }
  if (live && input.type && input.type !== c.type) {
    throw new DomainError('validation', `type must be ${c.type}, the configuration's type`, 'type');
  }
  if (!live && input.rollout.strategy === 'Canary') {
    throw new DomainError(
      'validation',
      'A new configuration is created directly: use strategy Direct',
      'strategy',
    );
  }
  const proposedValue = action === 'Delete' ? '' : normaliseValue(type, input.value);
  const { limits, now, approvalId } = context;
  const expiresInMs =
    input.expiresInSeconds === undefined ? limits.approvalExpiryMs : input.expiresInSeconds * 1000;
  if (expiresInMs < limits.approvalMinExpiryMs || expiresInMs > limits.approvalMaxExpiryMs) {
    throw new DomainError(
      'validation',
      `expiresInSeconds must be from ${limits.approvalMinExpiryMs / 1000} to ${limits.approvalMaxExpiryMs / 1000}`,
      'expiresInSeconds',
    );
  }
  let expiresAt = now.getTime() + expiresInMs;
  let applyAt: string | null = null;
  if (input.applyAt !== undefined) {
    const at = Date.parse(input.applyAt);
    // Approvers need the least time a request gives them, and a late approval is refused (the
    // request expires at applyAt): a change timed for a window never lands outside it.
    if (!Number.isFinite(at) || at < now.getTime() + limits.approvalMinExpiryMs) {
      throw new DomainError(
        'validation',
        `applyAt must be at least ${limits.approvalMinExpiryMs / 1000} s ahead (time to approve it)`,
        'applyAt',
      );
    }
    applyAt = new Date(at).toISOString();
    expiresAt = Math.min(expiresAt, at);
  }
  // Once encrypted, a config stays so; a new one is encrypted when asked or by its tenant.
  const encrypt =
    (c.exists && c.isEncrypted) ||
    (!live && action !== 'Delete' && encryptsNewConfig(s.tenant, input.isEncrypted));
  return decideRequest(
    { exists: false },
    {
      approvalId,
      tenantId: input.tenantId,
      configId,
      key: input.key,
      environment: input.environment,
      type,
      action,
      proposedValue,
      currentValue: live ? c.value : null,
      baseVersion: c.exists ? c.version : 0,
      description: input.description ?? null,
      requestedBy: context.requestedBy,
      // Even where the policy says 0, a request asks for at least one approval.
      requiredApprovals: Math.max(1, requiredApprovals(s.tenant, input.environment)),
      expiresAt: new Date(expiresAt).toISOString(),
      rollout: input.rollout,
      deploymentId: action === 'Delete' ? null : `dep_${approvalId.slice(4)}`,
      isSensitive: live ? c.isSensitive : encrypt || (input.isSensitive ?? false),
      ...(encrypt ? { isEncrypted: true } : {}),
      newConfig:
        live || action === 'Delete'
          ? null
          : { description: input.description ?? null, tags: input.tags ?? [] },
      ...(applyAt ? { applyAt } : {}),
    },
  );
}

/**
 * Whether the proposal must match the config's schema: an update of a config that has one, live
 * or deleted (a deleted config comes back with its schema unless the request names a new type).
 */
export function proposalHasSchema(config: ConfigurationState, input: ChangeRequestInput): boolean {
  const action = input.action ?? 'Update';
  const live = config.exists && !config.deleted;
  return (
    action === 'Update' && config.exists && (live || !input.type || input.type === config.type)
  );
}
