/** The environment a tenant command names: resolved to its declared spelling, or refused. */
import { DomainError } from '../../core/domain-error.js';
import {
  declaredList,
  resolveEnvironment,
  type EnvironmentSet,
} from '../environments/environment-set.js';
import { requireLiveTenant, type TenantState } from './tenant.state.js';

/**
 * The declared spelling of an environment a command names (case does not matter), or a refusal
 * naming the declared ones.
 */
export function requireDeclaredEnvironment(state: TenantState, environment: string): string {
  if (!state.exists) return environment;
  const found = resolveEnvironment(state.environments.names, environment);
  if (found === undefined) throw unknownEnvironment(state, environment);
  return found;
}

/** A command naming a tenant's environment: the tenant exists, then the declared spelling. */
export function declaredEnvironment(
  state: TenantState,
  tenantId: string,
  environment: string,
): string {
  return requireDeclaredEnvironment(requireLiveTenant(state, tenantId), environment);
}

export function unknownEnvironment(
  tenant: { tenantId: string; environments: EnvironmentSet },
  environment: string,
): DomainError {
  const names = tenant.environments.names;
  return new DomainError(
    'unknown_environment',
    `Environment '${environment}' is not declared by tenant '${tenant.tenantId}' (${declaredList(names)}); declare it with POST /api/v1/tenants/${tenant.tenantId}/environments`,
    'environment',
    { declaredEnvironments: [...names] },
  );
}
