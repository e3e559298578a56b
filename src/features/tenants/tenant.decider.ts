/**
 * Tenant aggregate (stream `tenant-{tenantId}`): the tenant's profile and quotas, and the registry
 * of its live configurations. Creating, deleting or restoring a configuration appends to this
 * stream in the same atomic append as the configuration's own event, so the tenant stream's
 * revision serialises them: quotas and (key, environment) uniqueness hold under any concurrency.
 *
 * This file holds the tenant's lifecycle (create, update, delete, purge) and the decider; the
 * state and its events are in tenant.state.ts, the approval policy in tenant.approval-policy.ts,
 * environment names in tenant.environments.ts, the configuration registry (quota, uniqueness) in
 * tenant.config-registry.ts. All are re-exported here: importers name one module.
 */
import { DomainError } from '../../core/domain-error.js';
import { canonicalJson } from '../configs/config-values.js';
import { DEFAULT_ENVIRONMENTS } from '../environments/environment-set.js';
import { decideSetApprovalPolicy } from './tenant.approval-policy.js';
import {
  decideRegisterConfig,
  decideReleaseConfig,
  type ConfigRef,
  type QuotaLimits,
} from './tenant.config-registry.js';
import {
  TENANT_STATUSES,
  TIER_DEFAULTS,
  initialTenantState,
  evolveTenant,
  requireLiveTenant,
  type TenantEvent,
  type TenantProfile,
  type TenantState,
  type TenantTier,
} from './tenant.state.js';

export * from './tenant.state.js';
export * from './tenant.approval-policy.js';
export * from './tenant.environments.js';
export * from './tenant.config-registry.js';

export interface CreateTenant {
  tenantId: string;
  name: string;
  tier: TenantTier;
  maxConfigurations?: number;
  maxEnvironments?: number;
  contactEmail?: string | null;
  metadata?: Record<string, unknown> | null;
  /** The environments it declares (default: Development, Staging, Production). */
  environments?: string[];
  encryptValues?: boolean;
}

export function decideCreateTenant(state: TenantState, cmd: CreateTenant): TenantEvent[] {
  if (state.exists) {
    throw new DomainError('already_exists', `Tenant '${cmd.tenantId}' already exists`, 'tenantId');
  }
  const defaults = TIER_DEFAULTS[cmd.tier];
  const maxEnvironments = cmd.maxEnvironments ?? defaults.maxEnvironments;
  const environments = cmd.environments ?? DEFAULT_ENVIRONMENTS;
  const seen = new Set<string>();
  for (const name of environments) {
    if (seen.has(name.toLowerCase())) {
      throw new DomainError(
        'validation',
        `environments names '${name}' twice (names are compared without regard to case)`,
        'environments',
      );
    }
    seen.add(name.toLowerCase());
  }
  if (environments.length > maxEnvironments) {
    throw new DomainError(
      'validation',
      `environments: ${environments.length} declared (${environments.join(', ')}) but maxEnvironments is ${maxEnvironments}; name at most ${maxEnvironments}`,
      'environments',
    );
  }
  return [
    {
      type: 'TenantCreated',
      data: {
        tenantId: cmd.tenantId,
        name: cmd.name,
        tier: cmd.tier,
        status: 'Active',
        maxConfigurations: cmd.maxConfigurations ?? defaults.maxConfigurations,
        maxEnvironments,
        contactEmail: cmd.contactEmail ?? null,
        metadata: cmd.metadata ?? null,
        ...(cmd.encryptValues ? { encryptValues: true } : {}),
      },
    },
    ...environments.map((environment): TenantEvent => ({
      type: 'EnvironmentDeclared',
      data: { tenantId: cmd.tenantId, environment },
    })),
  ];
}

export type UpdateTenant = { tenantId: string } & Partial<
  Omit<TenantProfile, 'status'> & { status: (typeof TENANT_STATUSES)[number] }
>;

export function decideUpdateTenant(state: TenantState, cmd: UpdateTenant): TenantEvent[] {
  const tenant = requireLiveTenant(state, cmd.tenantId);
  const changes: Partial<TenantProfile> = {};
  const fields = [
    'name',
    'tier',
    'status',
    'maxConfigurations',
    'maxEnvironments',
    'contactEmail',
    'metadata',
    'encryptValues',
  ] as const;
  for (const field of fields) {
    const next = cmd[field];
    if (next === undefined) continue;
    // Canonical: metadata read back from the store has its keys in another order.
    const current = field === 'encryptValues' ? (tenant.encryptValues ?? false) : tenant[field];
    if (canonicalJson(next) !== canonicalJson(current)) {
      (changes as Record<string, unknown>)[field] = next;
    }
  }
  // A new tier brings its quotas, unless the request names them, the tenant had quotas of its
  // own (not any tier's default: a downgrade may have kept a higher tier's), or (downgrading) the
  // new ones would be below what is in use.
  if (changes.tier !== undefined) {
    const after = TIER_DEFAULTS[changes.tier];
    const inUse = {
      maxConfigurations: tenant.configs.size,
      maxEnvironments: tenant.environments.names.length,
    };
    for (const q of ['maxConfigurations', 'maxEnvironments'] as const) {
      const fromATier = Object.values(TIER_DEFAULTS).some((d) => d[q] === tenant[q]);
      if (cmd[q] === undefined && fromATier && after[q] !== tenant[q] && after[q] >= inUse[q]) {
        changes[q] = after[q];
      }
    }
  }
  if (changes.maxConfigurations !== undefined && changes.maxConfigurations < tenant.configs.size) {
    throw new DomainError(
      'validation',
      `maxConfigurations cannot be below the ${tenant.configs.size} configurations in use`,
      'maxConfigurations',
    );
  }
  const declared = tenant.environments.names.length;
  if (changes.maxEnvironments !== undefined && changes.maxEnvironments < declared) {
    throw new DomainError(
      'validation',
      `maxEnvironments cannot be below the ${declared} declared environments (${tenant.environments.names.join(', ')}); remove some first`,
      'maxEnvironments',
    );
  }
  if (Object.keys(changes).length === 0) return [];
  return [{ type: 'TenantUpdated', data: { tenantId: cmd.tenantId, changes } }];
}

export function decideDeleteTenant(state: TenantState, tenantId: string): TenantEvent[] {
  requireLiveTenant(state, tenantId);
  return [{ type: 'TenantDeleted', data: { tenantId } }];
}

/**
 * Hard delete, confirmed by the tenant's name: deleted (if it was not) and purged. Purging again
 * appends nothing (the caller destroys the keys again, which is harmless).
 */
export function decidePurgeTenant(
  state: TenantState,
  cmd: { tenantId: string; confirm: string | undefined },
): TenantEvent[] {
  if (!state.exists) {
    throw new DomainError('not_found', `Tenant '${cmd.tenantId}' not found`, 'tenantId');
  }
  if (cmd.confirm !== state.name) {
    throw new DomainError(
      'validation',
      "A purge destroys the tenant's keys for good: confirm it with the tenant's name",
      'confirm',
    );
  }
  if (state.purged) return [];
  const { tenantId } = cmd;
  return [
    ...(state.status === 'Deleted' ? [] : [{ type: 'TenantDeleted' as const, data: { tenantId } }]),
    { type: 'TenantPurged', data: { tenantId } },
  ];
}

export type TenantCommand =
  | { type: 'CreateTenant'; data: CreateTenant }
  | { type: 'UpdateTenant'; data: UpdateTenant }
  | { type: 'DeleteTenant'; data: { tenantId: string } }
  | { type: 'PurgeTenant'; data: { tenantId: string; confirm: string | undefined } }
  | {
      type: 'SetApprovalPolicy';
      data: { tenantId: string; environment: string; requiredApprovals: number };
    }
  | { type: 'RegisterConfig'; data: ConfigRef; limits: QuotaLimits }
  | { type: 'ReleaseConfig'; data: ConfigRef };

export function decideTenant(command: TenantCommand, state: TenantState): TenantEvent[] {
  switch (command.type) {
    case 'CreateTenant':
      return decideCreateTenant(state, command.data);
    case 'UpdateTenant':
      return decideUpdateTenant(state, command.data);
    case 'DeleteTenant':
      return decideDeleteTenant(state, command.data.tenantId);
    case 'PurgeTenant':
      return decidePurgeTenant(state, command.data);
    case 'SetApprovalPolicy':
      return decideSetApprovalPolicy(state, command.data);
    case 'RegisterConfig':
      return decideRegisterConfig(state, command.data, command.limits);
    case 'ReleaseConfig':
      return decideReleaseConfig(state, command.data);
  }
}

export const tenantDecider = {
  initialState: initialTenantState,
  evolve: evolveTenant,
  decide: decideTenant,
};
