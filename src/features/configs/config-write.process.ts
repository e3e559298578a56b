/**
 * Writing a configuration directly (no change request) touches two aggregates: the config's own
 * stream and its tenant's registry (quota, uniqueness). These pure functions combine both
 * deciders' rules with the tenant-wide ones (the tenant is active, the environment takes direct
 * writes), and say what goes on each stream. Tested given/when/then in the spec beside them.
 */
import {
  decideCreateConfig,
  decideDeleteConfig,
  decideRestoreConfig,
  requireLive,
  type ConfigurationEvent,
  type ConfigurationState,
  type CreateConfig,
} from './config.decider.js';
import {
  decideRegisterConfig,
  decideReleaseConfig,
  encryptsNewConfig,
  requireActiveTenant,
  requireDirectWrites,
  type QuotaLimits,
  type TenantEvent,
  type TenantState,
} from '../tenants/tenant.decider.js';
import { DomainError } from '../../core/domain-error.js';

/** The events for each of the two streams. */
export interface ConfigWrite {
  tenant: TenantEvent[];
  config: ConfigurationEvent[];
}

/** A direct write to an existing config: its tenant is active and its environment needs no approval. */
export function requireDirectWrite(
  tenant: TenantState,
  config: { tenantId: string; environment: string },
): void {
  requireActiveTenant(tenant, config.tenantId);
  requireDirectWrites(tenant, config.environment);
}

/** A new key (or a deleted one again): the config's rules, the tenant's registry, the policy. */
export function decideCreate(
  tenant: TenantState,
  config: ConfigurationState,
  cmd: CreateConfig & { configId: string },
  limits: QuotaLimits,
): ConfigWrite {
  // The tenant may encrypt every new configuration (encryptValues).
  const isEncrypted = encryptsNewConfig(tenant, cmd.isEncrypted);
  const configEvents = decideCreateConfig(config, { ...cmd, isEncrypted });
  const tenantEvents = decideRegisterConfig(
    tenant,
    { tenantId: cmd.tenantId, configId: cmd.configId, key: cmd.key, environment: cmd.environment },
    limits,
  );
  requireDirectWrites(tenant, cmd.environment);
  return { tenant: tenantEvents, config: configEvents };
}

/** Soft delete: the stream and history stay, the tenant's quota slot is freed. */
export function decideDelete(
  tenant: TenantState,
  config: ConfigurationState,
  cmd: { configId: string; expectedVersion?: number },
): ConfigWrite {
  const live = requireExisting(config, cmd.configId);
  requireDirectWrite(tenant, live);
  const configEvents = decideDeleteConfig(config, cmd);
  const c = requireLive(config, cmd.configId);
  return {
    config: configEvents,
    tenant: decideReleaseConfig(tenant, {
      tenantId: c.tenantId,
      configId: c.configId,
      key: c.key,
      environment: c.environment,
    }),
  };
}

/** A deleted config back: it takes a slot in the tenant's quota again. */
export function decideRestore(
  tenant: TenantState,
  config: ConfigurationState,
  cmd: { configId: string },
  limits: QuotaLimits,
): ConfigWrite {
  const c = requireExisting(config, cmd.configId);
  requireDirectWrite(tenant, c);
  return {
    config: decideRestoreConfig(config, cmd),
    tenant: decideRegisterConfig(
      tenant,
      { tenantId: c.tenantId, configId: c.configId, key: c.key, environment: c.environment },
      limits,
    ),
  };
}

/** Deleted or not: the stream exists. */
export function requireExisting(config: ConfigurationState, configId: string) {
  if (!config.exists) {
    throw new DomainError('not_found', `Configuration '${configId}' not found`, 'configId');
  }
  return config;
}
