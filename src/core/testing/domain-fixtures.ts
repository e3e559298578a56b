/**
 * Given-states for the process functions' specs, built the way production builds them: by
 * running the aggregates' deciders on commands and folding the events they decide. A process
 * spec reads given (these states) / when (the process function) / then (the events per stream,
 * or the refusal).
 */
import { expect } from 'chai';
import { DomainError, type DomainErrorCode } from '../domain-error.js';
import type { Decider, DomainEvent } from '../commands/decider.js';
import { tenantDecider, type TenantState } from '../../features/tenants/tenant.decider.js';
import {
  configDecider,
  configIdFor,
  type ConfigurationState,
} from '../../features/configs/config.decider.js';
import type { ConfigType } from '../../features/configs/config-values.js';

/** Runs commands through a decider from its initial state, folding what each decides. */
export function history<C, S, E extends DomainEvent>(decider: Decider<C, S, E>, commands: C[]): S {
  return commands.reduce(
    (state, command) => decider.decide(command, state).reduce(decider.evolve, state),
    decider.initialState(),
  );
}

export const TENANT = 'acme';
export const limits = { maxConfigsPerTenant: 1000 };

export function tenant(
  options: {
    status?: 'Active' | 'Suspended';
    /** Approvals needed per environment (beyond the default: Production 1). */
    policy?: Record<string, number>;
    configs?: { key: string; environment: string }[];
    maxConfigurations?: number;
  } = {},
): TenantState {
  return history(tenantDecider, [
    {
      type: 'CreateTenant',
      data: {
        tenantId: TENANT,
        name: 'Acme',
        tier: 'Standard',
        maxConfigurations: options.maxConfigurations,
      },
    },
    ...Object.entries(options.policy ?? {}).map(([environment, requiredApprovals]) => ({
      type: 'SetApprovalPolicy' as const,
      data: { tenantId: TENANT, environment, requiredApprovals },
    })),
    ...(options.configs ?? []).map((c) => ({
      type: 'RegisterConfig' as const,
      data: { tenantId: TENANT, configId: configIdFor(TENANT, c.environment, c.key), ...c },
      limits,
    })),
    ...(options.status === 'Suspended'
      ? [
          {
            type: 'UpdateTenant' as const,
            data: { tenantId: TENANT, status: 'Suspended' as const },
          },
        ]
      : []),
  ]);
}

/** A config created with `values[0]` and updated to each next value (version = values.length). */
export function config(
  options: {
    key?: string;
    environment?: string;
    type?: ConfigType;
    values?: unknown[];
    deleted?: boolean;
    heldBy?: string;
  } = {},
): ConfigurationState {
  const key = options.key ?? 'feature.flag';
  const environment = options.environment ?? 'Staging';
  const type = options.type ?? 'String';
  const [first, ...rest] = options.values ?? ['old'];
  const configId = configIdFor(TENANT, environment, key);
  return history(configDecider, [
    { type: 'CreateConfig', data: { tenantId: TENANT, key, environment, type, value: first } },
    ...rest.map((value, i) => ({
      type: 'UpdateConfig' as const,
      data: { configId, expectedVersion: i + 1, value },
    })),
    ...(options.heldBy
      ? [
          {
            type: 'HoldForDeployment' as const,
            data: { configId, deploymentId: options.heldBy, value: first },
          },
        ]
      : []),
    ...(options.deleted ? [{ type: 'DeleteConfig' as const, data: { configId } }] : []),
  ]);
}

/** Then: refused with this code (and field, when given). */
export function refused(when: () => unknown, code: DomainErrorCode, field?: string): DomainError {
  let failure: unknown;
  try {
    when();
  } catch (error) {
    failure = error;
  }
  expect(failure, `expected a refusal (${code})`).to.be.instanceOf(DomainError);
  const error = failure as DomainError;
  expect(error.code, error.message).to.equal(code);
  if (field !== undefined) expect(error.field).to.equal(field);
  return error;
}

/** The event types, in order: what most "then"s compare. */
export const types = (events: readonly DomainEvent[]) => events.map((e) => e.type);
