/**
 * Declaring, renaming and removing a tenant's environments: commands on the tenant aggregate
 * (stream `tenant-{tenantId}`), whose state knows the declared names, the tier's quota and the
 * live configurations per environment. An environment is renamed or removed only while it holds
 * no configuration: a configuration's id is derived from its environment's name.
 */
import { DomainError } from '../../core/domain-error.js';
import {
  evolveTenant,
  initialTenantState,
  requireActiveTenant,
  requireDeclaredEnvironment,
  type TenantEvent,
  type TenantState,
} from '../tenants/tenant.decider.js';
import { resolveEnvironment, type EnvironmentEvent } from './environment-set.js';

export type EnvironmentCommand =
  | { type: 'DeclareEnvironment'; data: { tenantId: string; environment: string } }
  | {
      type: 'RenameEnvironment';
      data: { tenantId: string; environment: string; newName: string };
    }
  | { type: 'RemoveEnvironment'; data: { tenantId: string; environment: string } };

type Tenant = ReturnType<typeof requireActiveTenant>;

function requireEmpty(tenant: Tenant, environment: string, doing: string): void {
  let count = 0;
  for (const c of tenant.configs.values()) if (c.environment === environment) count++;
  if (count > 0) {
    throw new DomainError(
      'invalid_state',
      `Environment '${environment}' holds ${count} configuration(s): delete them before you ${doing} it`,
      'environment',
      { used: count },
    );
  }
}

/** Refuses a name another declared environment has (without regard to case). */
function requireFree(tenant: Tenant, name: string, except?: string): void {
  const taken = resolveEnvironment(
    tenant.environments.names.filter((n) => n !== except),
    name,
  );
  if (taken !== undefined) {
    throw new DomainError(
      'already_exists',
      `Environment '${taken}' is already declared${taken === name ? '' : ` (names are compared without regard to case)`}`,
      'name',
      { declaredEnvironments: [...tenant.environments.names] },
    );
  }
}

/** Which environment a rename or removal means; 404 naming the declared ones otherwise. */
function requireDeclared(tenant: Tenant, environment: string): string {
  try {
    return requireDeclaredEnvironment(tenant, environment);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    throw new DomainError('not_found', error.message, 'environment', error.details);
  }
}

function decideOne(command: EnvironmentCommand, tenant: Tenant): EnvironmentEvent[] {
  const { tenantId } = command.data;
  switch (command.type) {
    case 'DeclareEnvironment': {
      const name = command.data.environment;
      requireFree(tenant, name);
      const used = tenant.environments.names.length;
      if (used >= tenant.maxEnvironments) {
        throw new DomainError(
          'quota_exceeded',
          `Tenant '${tenantId}' has declared ${used} environments, its limit (maxEnvironments ${tenant.maxEnvironments}); remove one or raise the limit`,
          'name',
          { limit: tenant.maxEnvironments, used },
        );
      }
      return [{ type: 'EnvironmentDeclared', data: { tenantId, environment: name } }];
    }
    case 'RenameEnvironment': {
      const environment = requireDeclared(tenant, command.data.environment);
      const { newName } = command.data;
      if (newName === environment) return [];
      requireFree(tenant, newName, environment);
      requireEmpty(tenant, environment, 'rename');
      return [{ type: 'EnvironmentRenamed', data: { tenantId, environment, newName } }];
    }
    case 'RemoveEnvironment': {
      const environment = requireDeclared(tenant, command.data.environment);
      requireEmpty(tenant, environment, 'remove');
      return [{ type: 'EnvironmentRemoved', data: { tenantId, environment } }];
    }
  }
}

export function decideEnvironment(command: EnvironmentCommand, state: TenantState): TenantEvent[] {
  const tenant = requireActiveTenant(state, command.data.tenantId);
  const events = decideOne(command, tenant);
  if (events.length === 0 || tenant.environments.explicit) return events;
  // A tenant from before declarations: what it was read as declaring becomes explicit first.
  return [
    ...tenant.environments.names.map((environment): EnvironmentEvent => ({
      type: 'EnvironmentDeclared',
      data: { tenantId: tenant.tenantId, environment },
    })),
    ...events,
  ];
}

export const environmentDecider = {
  initialState: initialTenantState,
  evolve: evolveTenant,
  decide: decideEnvironment,
};
