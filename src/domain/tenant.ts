/**
 * Tenant aggregate (stream `tenant-{tenantId}`): the tenant's profile and quotas, and the registry
 * of its live configurations. Creating, deleting or restoring a configuration appends to this
 * stream in the same atomic append as the configuration's own event, so the tenant stream's
 * revision serialises them: quotas and (key, environment) uniqueness hold under any concurrency.
 */
import { DomainError } from './errors.js';
import { canonicalJson } from './values.js';

export const TENANT_TIERS = ['Free', 'Standard', 'Professional', 'Enterprise'] as const;
export type TenantTier = (typeof TENANT_TIERS)[number];
export const TENANT_STATUSES = ['Active', 'Suspended'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number] | 'Deleted';

/** Quotas a tier gets unless the request says otherwise (always capped by MaxConfigsPerTenant). */
export const TIER_DEFAULTS: Record<
  TenantTier,
  { maxConfigurations: number; maxEnvironments: number }
> = {
  Free: { maxConfigurations: 100, maxEnvironments: 4 },
  Standard: { maxConfigurations: 500, maxEnvironments: 6 },
  Professional: { maxConfigurations: 1000, maxEnvironments: 8 },
  Enterprise: { maxConfigurations: 10000, maxEnvironments: 20 },
};

export interface TenantProfile {
  name: string;
  tier: TenantTier;
  status: TenantStatus;
  maxConfigurations: number;
  maxEnvironments: number;
  contactEmail: string | null;
  metadata: Record<string, unknown> | null;
}

export type TenantEvent =
  | { type: 'TenantCreated'; data: { tenantId: string } & TenantProfile }
  | { type: 'TenantUpdated'; data: { tenantId: string; changes: Partial<TenantProfile> } }
  | { type: 'TenantDeleted'; data: { tenantId: string } }
  | {
      type: 'ConfigurationRegistered';
      data: { tenantId: string; configId: string; key: string; environment: string };
    }
  | {
      type: 'ConfigurationReleased';
      data: { tenantId: string; configId: string; key: string; environment: string };
    }
  | {
      type: 'ApprovalPolicySet';
      data: { tenantId: string; environment: string; requiredApprovals: number };
    };

/**
 * How many approvals a change needs, per environment, unless the tenant set its own policy:
 * Production needs one, every other environment none.
 */
export const DEFAULT_APPROVAL_POLICY: Readonly<Record<string, number>> = { Production: 1 };
export const MAX_REQUIRED_APPROVALS = 10;

export interface RegisteredConfig {
  key: string;
  environment: string;
}

export type TenantState =
  | { exists: false }
  | ({
      exists: true;
      tenantId: string;
      configs: Map<string, RegisteredConfig>;
      /** The tenant's own approval policy; environments not named here use the default. */
      approvalPolicy: Record<string, number>;
    } & TenantProfile);

export const initialTenantState = (): TenantState => ({ exists: false });

export function evolveTenant(state: TenantState, event: TenantEvent): TenantState {
  switch (event.type) {
    case 'TenantCreated': {
      const { tenantId, ...profile } = event.data;
      return { exists: true, tenantId, configs: new Map(), approvalPolicy: {}, ...profile };
    }
    case 'TenantUpdated':
      return state.exists ? { ...state, ...event.data.changes } : state;
    case 'TenantDeleted':
      return state.exists ? { ...state, status: 'Deleted' } : state;
    case 'ConfigurationRegistered': {
      if (!state.exists) return state;
      const configs = new Map(state.configs);
      configs.set(event.data.configId, {
        key: event.data.key,
        environment: event.data.environment,
      });
      return { ...state, configs };
    }
    case 'ConfigurationReleased': {
      if (!state.exists) return state;
      const configs = new Map(state.configs);
      configs.delete(event.data.configId);
      return { ...state, configs };
    }
    case 'ApprovalPolicySet':
      return state.exists
        ? {
            ...state,
            approvalPolicy: {
              ...state.approvalPolicy,
              [event.data.environment]: event.data.requiredApprovals,
            },
          }
        : state;
  }
}

export interface CreateTenant {
  tenantId: string;
  name: string;
  tier: TenantTier;
  maxConfigurations?: number;
  maxEnvironments?: number;
  contactEmail?: string | null;
  metadata?: Record<string, unknown> | null;
}

export function decideCreateTenant(state: TenantState, cmd: CreateTenant): TenantEvent[] {
  if (state.exists) {
    throw new DomainError('already_exists', `Tenant '${cmd.tenantId}' already exists`, 'tenantId');
  }
  const defaults = TIER_DEFAULTS[cmd.tier];
  return [
    {
      type: 'TenantCreated',
      data: {
        tenantId: cmd.tenantId,
        name: cmd.name,
        tier: cmd.tier,
        status: 'Active',
        maxConfigurations: cmd.maxConfigurations ?? defaults.maxConfigurations,
        maxEnvironments: cmd.maxEnvironments ?? defaults.maxEnvironments,
        contactEmail: cmd.contactEmail ?? null,
        metadata: cmd.metadata ?? null,
      },
    },
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
  ] as const;
  for (const field of fields) {
    const next = cmd[field];
    if (next === undefined) continue;
    // Canonical: metadata read back from the store has its keys in another order.
    if (canonicalJson(next) !== canonicalJson(tenant[field])) {
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
      maxEnvironments: environmentsInUse(tenant).size,
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
  if (
    changes.maxEnvironments !== undefined &&
    changes.maxEnvironments < environmentsInUse(tenant).size
  ) {
    throw new DomainError(
      'validation',
      `maxEnvironments cannot be below the ${environmentsInUse(tenant).size} environments in use`,
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

export interface QuotaLimits {
  /** ConfigService__MaxConfigsPerTenant: caps every tenant's own limit. */
  maxConfigsPerTenant: number;
}

/** The tenant-side half of creating or restoring a configuration: quota and uniqueness. */
export function decideRegisterConfig(
  state: TenantState,
  cmd: { tenantId: string; configId: string; key: string; environment: string },
  limits: QuotaLimits,
): TenantEvent[] {
  const tenant = requireActiveTenant(state, cmd.tenantId);
  for (const [configId, c] of tenant.configs) {
    if (configId === cmd.configId || (c.key === cmd.key && c.environment === cmd.environment)) {
      throw new DomainError(
        'already_exists',
        `Configuration '${cmd.key}' already exists in ${cmd.environment}`,
        'key',
        { configId },
      );
    }
  }
  const limit = Math.min(tenant.maxConfigurations, limits.maxConfigsPerTenant);
  if (tenant.configs.size >= limit) {
    throw new DomainError(
      'quota_exceeded',
      `Tenant '${cmd.tenantId}' has reached its limit of ${limit} configurations`,
      undefined,
      { limit, used: tenant.configs.size },
    );
  }
  const environments = environmentsInUse(tenant);
  if (!environments.has(cmd.environment) && environments.size >= tenant.maxEnvironments) {
    throw new DomainError(
      'quota_exceeded',
      `Tenant '${cmd.tenantId}' has reached its limit of ${tenant.maxEnvironments} environments`,
      'environment',
      { limit: tenant.maxEnvironments, used: environments.size },
    );
  }
  return [{ type: 'ConfigurationRegistered', data: { ...cmd } }];
}

export function decideReleaseConfig(
  state: TenantState,
  cmd: { tenantId: string; configId: string; key: string; environment: string },
): TenantEvent[] {
  if (!state.exists || !state.configs.has(cmd.configId)) return [];
  return [{ type: 'ConfigurationReleased', data: { ...cmd } }];
}

/** Refuses writes to a tenant that does not exist or was deleted. */
export function requireLiveTenant(state: TenantState, tenantId: string) {
  if (!state.exists || state.status === 'Deleted') {
    throw new DomainError('not_found', `Tenant '${tenantId}' not found`, 'tenantId');
  }
  return state;
}

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
  requireLiveTenant(state, cmd.tenantId);
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
  if (requiredApprovals(state, cmd.environment) === cmd.requiredApprovals) return [];
  return [{ type: 'ApprovalPolicySet', data: { ...cmd } }];
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

/** Refuses changes to a tenant's configurations unless the tenant is active. */
export function requireActiveTenant(state: TenantState, tenantId: string) {
  const tenant = requireLiveTenant(state, tenantId);
  if (tenant.status !== 'Active') {
    throw new DomainError('invalid_state', `Tenant '${tenantId}' is ${tenant.status}`);
  }
  return tenant;
}

function environmentsInUse(tenant: { configs: Map<string, RegisteredConfig> }): Set<string> {
  return new Set([...tenant.configs.values()].map((c) => c.environment));
}
