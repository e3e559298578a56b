/**
 * The tenant's registry of live configurations: creating or restoring one registers it (quota
 * and (key, environment) uniqueness, checked under the tenant stream's revision), deleting one
 * releases it; and whether a new one is encrypted at rest.
 */
import { DomainError } from '../../core/domain-error.js';
import { unknownEnvironment } from './tenant.environments.js';
import { requireActiveTenant, type TenantEvent, type TenantState } from './tenant.state.js';

/** A configuration as the tenant's registry knows it. */
export interface ConfigRef {
  tenantId: string;
  configId: string;
  key: string;
  environment: string;
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
  // Callers resolve the name first (requireDeclaredEnvironment); this is the exact check.
  if (!tenant.environments.names.includes(cmd.environment)) {
    throw unknownEnvironment(tenant, cmd.environment);
  }
  const existing = tenant.configs.has(cmd.configId)
    ? cmd.configId
    : tenant.configs.idOf(cmd.environment, cmd.key);
  if (existing !== undefined) {
    throw new DomainError(
      'already_exists',
      `Configuration '${cmd.key}' already exists in ${cmd.environment}`,
      'key',
      { configId: existing },
    );
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
  return [{ type: 'ConfigurationRegistered', data: { ...cmd } }];
}

export function decideReleaseConfig(
  state: TenantState,
  cmd: { tenantId: string; configId: string; key: string; environment: string },
): TenantEvent[] {
  if (!state.exists || !state.configs.has(cmd.configId)) return [];
  return [{ type: 'ConfigurationReleased', data: { ...cmd } }];
}

/**
 * Whether a new configuration is encrypted at rest: asked for, or the tenant encrypts every
 * one (which a request cannot opt out of).
 */
export function encryptsNewConfig(state: TenantState, asked: boolean | undefined): boolean {
  const tenantWide = state.exists && state.encryptValues === true;
  if (tenantWide && asked === false) {
    throw new DomainError(
      'validation',
      'This tenant encrypts every configuration (its encryptValues setting)',
      'isEncrypted',
    );
  }
  return tenantWide || asked === true;
}
