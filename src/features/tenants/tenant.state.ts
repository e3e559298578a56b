/**
 * What the tenant stream (`tenant-{tenantId}`) records and the state folded from it: the tenant's
 * profile and quotas, its approval policy, its declared environments and the registry of its live
 * configurations; plus the checks every tenant decision starts with (live, active).
 */
import { DomainError } from '../../core/domain-error.js';
import { ConfigRegistry } from './tenant.registry.js';
import {
  evolveEnvironmentSet,
  implicitEnvironments,
  registeredIn,
  type EnvironmentEvent,
  type EnvironmentSet,
} from '../environments/environment-set.js';

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
  /** Every configuration created from now on is encrypted at rest (absent: false). */
  encryptValues?: boolean;
}

export type TenantEvent =
  | { type: 'TenantCreated'; data: { tenantId: string } & TenantProfile }
  | { type: 'TenantUpdated'; data: { tenantId: string; changes: Partial<TenantProfile> } }
  | { type: 'TenantDeleted'; data: { tenantId: string } }
  /** Hard delete: its data keys are destroyed (crypto-shredding); the events stay. */
  | { type: 'TenantPurged'; data: { tenantId: string } }
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
    }
  | EnvironmentEvent;

export type { RegisteredConfig } from './tenant.registry.js';

export type TenantState =
  | { exists: false }
  | ({
      exists: true;
      tenantId: string;
      configs: ConfigRegistry;
      /** The tenant's own approval policy; environments not named here use the default. */
      approvalPolicy: Record<string, number>;
      /** Its declared environments (environments/environment-set.ts). */
      environments: EnvironmentSet;
      /** Hard-deleted: its encrypted values can never be read again. */
      purged?: boolean;
    } & TenantProfile);

export const initialTenantState = (): TenantState => ({ exists: false });

export function evolveTenant(state: TenantState, event: TenantEvent): TenantState {
  switch (event.type) {
    case 'TenantCreated': {
      const { tenantId, ...profile } = event.data;
      return {
        exists: true,
        tenantId,
        configs: ConfigRegistry.empty(),
        approvalPolicy: {},
        environments: implicitEnvironments(),
        ...profile,
      };
    }
    case 'TenantUpdated':
      return state.exists ? { ...state, ...event.data.changes } : state;
    case 'TenantDeleted':
      return state.exists ? { ...state, status: 'Deleted' } : state;
    case 'TenantPurged':
      return state.exists ? { ...state, status: 'Deleted', purged: true } : state;
    case 'ConfigurationRegistered': {
      if (!state.exists) return state;
      const configs = state.configs.with(event.data.configId, {
        key: event.data.key,
        environment: event.data.environment,
      });
      return {
        ...state,
        configs,
        environments: registeredIn(state.environments, event.data.environment),
      };
    }
    case 'ConfigurationReleased': {
      if (!state.exists) return state;
      return { ...state, configs: state.configs.without(event.data.configId) };
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
    case 'EnvironmentDeclared':
    case 'EnvironmentRenamed':
    case 'EnvironmentRemoved': {
      if (!state.exists) return state;
      // An environment's approval policy follows it through a rename and goes with it.
      const { [event.data.environment]: policy, ...approvalPolicy } = state.approvalPolicy;
      if (event.type === 'EnvironmentRenamed' && policy !== undefined) {
        approvalPolicy[event.data.newName] = policy;
      }
      return {
        ...state,
        approvalPolicy:
          event.type === 'EnvironmentDeclared' ? state.approvalPolicy : approvalPolicy,
        environments: evolveEnvironmentSet(state.environments, event),
      };
    }
  }
}

/** Refuses writes to a tenant that does not exist or was deleted. */
export function requireLiveTenant(state: TenantState, tenantId: string) {
  if (!state.exists || state.status === 'Deleted') {
    throw new DomainError('not_found', `Tenant '${tenantId}' not found`, 'tenantId');
  }
  return state;
}

/** Refuses changes to a tenant's configurations unless the tenant is active. */
export function requireActiveTenant(state: TenantState, tenantId: string) {
  const tenant = requireLiveTenant(state, tenantId);
  if (tenant.status !== 'Active') {
    throw new DomainError('invalid_state', `Tenant '${tenantId}' is ${tenant.status}`);
  }
  return tenant;
}
