/**
 * Starting a deployment, shared by POST /deployments and an approved change request: a Direct
 * rollout completes in the same append as its start (the config gets its new version at once).
 */
import { randomUUID } from 'node:crypto';
import { fold, foldFromStart } from '../../core/commands/decider.js';
import {
  configDecider,
  decideCompleteDeployment,
  decideStartDeployment,
  type ConfigurationEvent,
  type ConfigurationState,
} from '../configs/config.decider.js';
import {
  completionEvents,
  decideStartDeploymentStream,
  deploymentDecider,
  initialDeploymentState,
  requireDeployment,
  type DeploymentEvent,
  type RolloutPlan,
} from './deployment.decider.js';
import { DomainError } from '../../core/domain-error.js';
import type { TenantState } from '../tenants/tenant.decider.js';
import { requireDirectWrite } from '../configs/config-write.process.js';

export const newDeploymentId = () => `dep_${randomUUID().replace(/-/g, '')}`;

/** Direct deployments complete in the same append as their start. */
export function withDirectCompletion(
  started: DeploymentEvent[],
  configBefore: ConfigurationState,
  configEvents: ConfigurationEvent[],
  live: boolean,
) {
  const d = requireDeployment(foldFromStart(deploymentDecider, started), '');
  if (d.strategy !== 'Direct') return { events: started, configEvents };
  let allConfigEvents = configEvents;
  if (live) {
    const held = fold(configDecider, configBefore, configEvents);
    allConfigEvents = [
      ...configEvents,
      ...decideCompleteDeployment(held, {
        configId: d.configId,
        deploymentId: d.deploymentId,
        value: d.value,
      }),
    ];
  }
  const after = fold(configDecider, configBefore, allConfigEvents);
  const version = after.exists ? after.version : 0;
  return {
    events: [...started, ...completionEvents(d, version, false)],
    configEvents: allConfigEvents,
  };
}

/**
 * POST /deployments, where the environment takes direct writes: the tenant is active, the
 * caller's version (if named) is current, the value is new; the config is held by the deployment
 * (or, Direct, gets its new version) in the same append.
 */
export function decideDirectDeployment(
  tenant: TenantState,
  config: Extract<ConfigurationState, { exists: true }>,
  cmd: {
    deploymentId: string;
    value: unknown;
    rollout: RolloutPlan;
    expectedVersion?: number;
    deployedBy: string;
  },
): { value: string; deployment: DeploymentEvent[]; config: ConfigurationEvent[] } {
  const c = config;
  requireDirectWrite(tenant, c);
  if (cmd.expectedVersion !== undefined && cmd.expectedVersion !== c.version) {
    throw new DomainError(
      'version_conflict',
      `Configuration is at version ${c.version}`,
      'expectedVersion',
      { currentVersion: c.version },
    );
  }
  const start = decideStartDeployment(c, {
    configId: c.configId,
    deploymentId: cmd.deploymentId,
    value: cmd.value,
  });
  if (start.value === c.value) {
    throw new DomainError('validation', 'The value is already the current value', 'value');
  }
  const started = decideStartDeploymentStream(initialDeploymentState(), {
    deploymentId: cmd.deploymentId,
    tenantId: c.tenantId,
    configId: c.configId,
    key: c.key,
    environment: c.environment,
    type: c.type,
    value: start.value,
    previousValue: c.value,
    baseVersion: c.version,
    plan: cmd.rollout,
    approvalId: null,
    deployedBy: cmd.deployedBy,
    isSensitive: c.isSensitive,
    ...(c.isEncrypted ? { isEncrypted: true } : {}),
  });
  const { events, configEvents } = withDirectCompletion(started, c, start.events, true);
  return { value: start.value, deployment: events, config: configEvents };
}
