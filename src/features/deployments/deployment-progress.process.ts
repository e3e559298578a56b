/**
 * A running deployment moves on, across three aggregates: the deployment, the config it holds,
 * and the tenant (a suspended tenant takes no changes). Pure functions, tested given/when/then:
 * a canary step advancing (or completing, or pausing, or held for acknowledgements), a rollback
 * by the instances' rejections, a promotion, a manual rollback.
 */
import { fold } from '../../core/commands/decider.js';
import {
  configDecider,
  decideAbortDeployment,
  decideCompleteDeployment,
  decideRevertDeployment,
  type ConfigurationEvent,
  type ConfigurationState,
} from '../configs/config.decider.js';
import {
  completionEvents,
  decideAcknowledgementGate,
  decideAdvance,
  decideRejectionRollback,
  decideManualRollback,
  decidePause,
  decideResume,
  requireDeployment,
  requirePromotable,
  type CanaryAcknowledgements,
  type DeploymentEvent,
  type DeploymentState,
} from './deployment.decider.js';
import {
  requireActiveTenant,
  requireDirectWrites,
  type TenantState,
} from '../tenants/tenant.decider.js';
import { DomainError } from '../../core/domain-error.js';

/** The events for the deployment's stream and for its config's. */
export interface DeploymentWrite {
  deployment: DeploymentEvent[];
  config: ConfigurationEvent[];
}

const nothing = (): DeploymentWrite => ({ deployment: [], config: [] });

/** Reaching 100 %: the deployed value becomes the config's new version, in the same append. */
export function decideCompletion(
  deployment: DeploymentState,
  config: ConfigurationState,
  promoted: boolean,
): DeploymentWrite {
  const d = requireDeployment(deployment, '');
  const configEvents = decideCompleteDeployment(config, {
    configId: d.configId,
    deploymentId: d.deploymentId,
    value: d.value,
  });
  const after = fold(configDecider, config, configEvents);
  return {
    config: configEvents,
    deployment: completionEvents(d, after.exists ? after.version : 0, promoted),
  };
}

const NO_ACKS: CanaryAcknowledgements = { applied: 0, rejected: 0 };

/** An automatic rollback frees the config in the same write. */
function rolledBack(
  d: Extract<DeploymentState, { exists: true }>,
  config: ConfigurationState,
  events: DeploymentEvent[],
): DeploymentWrite {
  return {
    deployment: events,
    config: decideAbortDeployment(config, { configId: d.configId, deploymentId: d.deploymentId }),
  };
}

/**
 * The step job after a bake time: the next step, or completion after the last. A job that is
 * late, repeated or from an earlier bake does nothing. A suspended or deleted tenant takes no
 * changes: its rollout pauses where it is (visible, and resumable once the tenant is active
 * again) instead of writing a new version.
 *
 * `acks` are the canary side's acknowledgements of the value. Too many rejections roll it back
 * (the safe direction: whatever the tenant's state); with `minAppliedInstances` in its plan, a
 * step is done only once that many instances applied it, and is held until then
 * (`DeploymentStepHeld`). Without acknowledgements and without the option, steps move on their
 * bake time alone, as they always did.
 */
export function decideCanaryStep(
  s: { deployment: DeploymentState; tenant: TenantState; config: ConfigurationState },
  cmd: { stepIndex: number; bake?: number; by: string; acks?: CanaryAcknowledgements },
): DeploymentWrite {
  const decision = decideAdvance(s.deployment, cmd.stepIndex, cmd.bake);
  if (decision.kind === 'none') return nothing();
  const d = requireDeployment(s.deployment, '');
  const acks = cmd.acks ?? NO_ACKS;
  const rejected = decideRejectionRollback(d, acks);
  if (rejected) return rolledBack(d, s.config, rejected);
  if (!s.tenant.exists || s.tenant.status !== 'Active') {
    return { deployment: decidePause(d, { deploymentId: d.deploymentId, by: cmd.by }), config: [] };
  }
  const gate = decideAcknowledgementGate(d, acks);
  if (!gate.met) return { deployment: gate.events, config: [] };
  if (decision.kind === 'step') {
    if (!d.minAppliedInstances) return { deployment: decision.events, config: [] };
    // The counts the step was allowed on are part of the decision: recorded with it.
    const acknowledgements = { applied: acks.applied, rejected: acks.rejected };
    return {
      deployment: decision.events.map((e) =>
        e.type === 'DeploymentStepAdvanced' ? { ...e, data: { ...e.data, acknowledgements } } : e,
      ),
      config: [],
    };
  }
  return decideCompletion(d, s.config, false);
}

/**
 * New acknowledgements of a running canary's value: too many rejections roll it back; a step
 * that is held (its bake is over) moves on once enough instances applied it. Anything else
 * waits for the step job.
 */
export function decideOnAcknowledgements(
  s: { deployment: DeploymentState; tenant: TenantState; config: ConfigurationState },
  cmd: { by: string; acks: CanaryAcknowledgements },
): DeploymentWrite {
  const d = s.deployment;
  if (!d.exists || d.strategy !== 'Canary') return nothing();
  const rejected = decideRejectionRollback(d, cmd.acks);
  if (rejected) return rolledBack(d, s.config, rejected);
  if (d.status !== 'InProgress' || d.held === null) return nothing();
  return decideCanaryStep(s, { stepIndex: d.stepIndex, bake: d.bake, by: cmd.by, acks: cmd.acks });
}

/** Promote: straight to 100 % now; it writes the config, so its tenant must be active. */
export function decidePromotion(
  s: { deployment: DeploymentState; tenant: TenantState; config: ConfigurationState },
  deploymentId: string,
): DeploymentWrite {
  const d = requirePromotable(s.deployment, deploymentId);
  requireActiveTenant(s.tenant, d.tenantId);
  return decideCompletion(d, s.config, true);
}

/** Resuming moves a rollout on, which writes the config: its tenant must be active. */
export function decideResumption(
  s: { deployment: DeploymentState; tenant: TenantState },
  cmd: { deploymentId: string; by: string },
): DeploymentEvent[] {
  const d = requireDeployment(s.deployment, cmd.deploymentId);
  requireActiveTenant(s.tenant, d.tenantId);
  return decideResume(d, cmd);
}

/**
 * Manual rollback: a running deployment stops (every client gets the old value and the config
 * is free again); a completed one is reverted as a new version, which in a protected environment
 * takes a change request. Stopping a running one stays open to editors: it is the safe direction.
 */
export function decideRollback(
  s: { deployment: DeploymentState; tenant: TenantState; config: ConfigurationState },
  cmd: { deploymentId: string; reason: string },
): DeploymentWrite {
  const d = requireDeployment(s.deployment, cmd.deploymentId);
  let config: ConfigurationEvent[];
  let restoredVersion: number | null = null;
  if (d.status === 'Completed') {
    requireActiveTenant(s.tenant, d.tenantId);
    requireDirectWrites(s.tenant, d.environment);
    if (d.baseVersion === 0 || d.previousValue === null) {
      throw new DomainError(
        'invalid_state',
        'This deployment created the configuration; delete the configuration instead',
      );
    }
    config = decideRevertDeployment(s.config, {
      configId: d.configId,
      deploymentId: cmd.deploymentId,
      deployedVersion: d.deployedVersion ?? -1,
      toVersion: d.baseVersion,
      reason: cmd.reason,
    });
    restoredVersion = d.baseVersion;
  } else {
    config = decideAbortDeployment(s.config, {
      configId: d.configId,
      deploymentId: cmd.deploymentId,
    });
  }
  const deployment = decideManualRollback(d, { ...cmd, restoredVersion });
  return { deployment, config };
}
