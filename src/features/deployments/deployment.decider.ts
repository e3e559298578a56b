/**
 * Deployment aggregate (stream `deployment-{deploymentId}`): how a new value reaches a config.
 * Direct is one step to 100 %. Canary serves the new value to a growing share of clients, step
 * by step after a bake time, and rolls itself back when the canary side's error rate passes the
 * threshold. The config stream records that the deployment holds it (at most one at a time) and,
 * at 100 %, the new version.
 */
import { DomainError } from '../../core/domain-error.js';
import type { ConfigType } from '../configs/config-values.js';

import type { RolloutPlan } from './rollout-plan.js';

export * from './rollout-plan.js';
export * from './deployment.state.js';
import {
  initialDeploymentState,
  evolveDeployment,
  type CanaryAcknowledgements,
  type DeploymentEvent,
  type DeploymentState,
  type Identity,
  type Side,
} from './deployment.state.js';

export interface StartDeployment {
  deploymentId: string;
  tenantId: string;
  configId: string;
  key: string;
  environment: string;
  type: ConfigType;
  value: string;
  previousValue: string | null;
  baseVersion: number;
  plan: RolloutPlan;
  approvalId: string | null;
  deployedBy: string;
  isSensitive: boolean;
  isEncrypted?: boolean;
}

export function decideStartDeploymentStream(
  state: DeploymentState,
  cmd: StartDeployment,
): DeploymentEvent[] {
  if (state.exists) {
    throw new DomainError(
      'already_exists',
      `Deployment ${cmd.deploymentId} exists`,
      'deploymentId',
    );
  }
  const { plan, ...rest } = cmd;
  return [{ type: 'DeploymentStarted', data: { ...rest, ...plan } }];
}

type Live = Extract<DeploymentState, { exists: true }>;

const identity = (d: Live): Identity => ({
  deploymentId: d.deploymentId,
  tenantId: d.tenantId,
  configId: d.configId,
  key: d.key,
  environment: d.environment,
});

export function requireDeployment(state: DeploymentState, deploymentId: string): Live {
  if (!state.exists) {
    throw new DomainError('not_found', `Deployment '${deploymentId}' not found`, 'deploymentId');
  }
  return state;
}

const running = (d: Live) => d.status === 'InProgress' || d.status === 'Paused';

/**
 * What a completion needs besides the deployment's own events: the config events (new version)
 * are decided against the config stream by the caller.
 */
export function completionEvents(d: Live, version: number, promoted: boolean): DeploymentEvent[] {
  const events: DeploymentEvent[] = [];
  const last = d.steps.length - 1;
  if (d.stepIndex !== last) {
    events.push({
      type: 'DeploymentStepAdvanced',
      data: {
        ...identity(d),
        stepIndex: last,
        canaryPercentage: 100,
        progress: 100,
        bakeTimeSeconds: d.bakeTimeSeconds,
        type: d.type,
        value: d.value,
        ...(d.isEncrypted ? { isEncrypted: true } : {}),
      },
    });
  }
  events.push({ type: 'DeploymentCompleted', data: { ...identity(d), version, promoted } });
  return events;
}

export type AdvanceDecision =
  { kind: 'none' } | { kind: 'step'; events: DeploymentEvent[] } | { kind: 'complete' };

/**
 * The step job after a bake time. Runs late, twice or after a pause without harm: it only moves a
 * deployment that is running, still at the step the job was scheduled for and, when the job names
 * its bake, still in that bake (after a pause and resume the step bakes again, in full).
 */
export function decideAdvance(
  state: DeploymentState,
  stepIndex: number,
  bake?: number,
): AdvanceDecision {
  if (!state.exists || state.status !== 'InProgress' || state.stepIndex !== stepIndex) {
    return { kind: 'none' };
  }
  if (bake !== undefined && bake !== state.bake) return { kind: 'none' };
  const next = stepIndex + 1;
  if (next >= state.steps.length - 1) return { kind: 'complete' };
  const pct = state.steps[next]!;
  return {
    kind: 'step',
    events: [
      {
        type: 'DeploymentStepAdvanced',
        data: {
          ...identity(state),
          stepIndex: next,
          canaryPercentage: pct,
          progress: Math.round((100 * next) / (state.steps.length - 1)),
          bakeTimeSeconds: state.bakeTimeSeconds,
          bake: state.bake + 1,
          type: state.type,
          value: state.value,
          ...(state.isEncrypted ? { isEncrypted: true } : {}),
        },
      },
    ],
  };
}

export interface MetricsDecision {
  events: DeploymentEvent[];
  /** True when these metrics made the deployment roll itself back. */
  rolledBack: boolean;
}

export function decideReportMetrics(
  state: DeploymentState,
  cmd: { deploymentId: string; side: Side; requests: number; errors: number },
): MetricsDecision {
  const d = requireDeployment(state, cmd.deploymentId);
  if (!running(d)) {
    throw new DomainError('invalid_state', `Deployment ${cmd.deploymentId} is ${d.status}`);
  }
  if (cmd.errors > cmd.requests) {
    throw new DomainError('validation', 'errors cannot exceed requests', 'errors');
  }
  const events: DeploymentEvent[] = [
    {
      type: 'DeploymentMetricsReported',
      data: {
        ...identity(d),
        stepIndex: d.stepIndex,
        side: cmd.side,
        requests: cmd.requests,
        errors: cmd.errors,
      },
    },
  ];
  if (cmd.side === 'canary' && d.strategy === 'Canary') {
    const requests = d.current.canary.requests + cmd.requests;
    const errors = d.current.canary.errors + cmd.errors;
    const rate = requests > 0 ? errors / requests : 0;
    if (requests >= d.minRequests && rate > d.errorThreshold) {
      const pct = d.steps[d.stepIndex]!;
      events.push({
        type: 'DeploymentRolledBack',
        data: {
          ...identity(d),
          reason: `Canary error rate ${(rate * 100).toFixed(2)}% exceeded the ${(d.errorThreshold * 100).toFixed(2)}% threshold at ${pct}% (${errors}/${requests} requests)`,
          automatic: true,
          restoredVersion: null,
          errorRate: rate,
        },
      });
      return { events, rolledBack: true };
    }
  }
  return { events, rolledBack: false };
}

const pct = (rate: number) => `${(rate * 100).toFixed(2)}%`;

/**
 * Instances that rejected a canary's value roll it back as errors do: once the canary side has
 * reported at least `max(1, minAppliedInstances)` times, a rejection rate above the error
 * threshold stops it. Undefined when the canary may go on.
 */
export function decideRejectionRollback(
  state: DeploymentState,
  acks: CanaryAcknowledgements,
): DeploymentEvent[] | undefined {
  if (!state.exists || !running(state) || state.strategy !== 'Canary') return undefined;
  const reports = acks.applied + acks.rejected;
  if (acks.rejected === 0 || reports < Math.max(1, state.minAppliedInstances ?? 0)) {
    return undefined;
  }
  const rate = acks.rejected / reports;
  if (rate <= state.errorThreshold) return undefined;
  const why = acks.reason ? `; one said: ${acks.reason.slice(0, 200)}` : '';
  return [
    {
      type: 'DeploymentRolledBack',
      data: {
        ...identity(state),
        reason:
          `Canary rejection rate ${pct(rate)} exceeded the ${pct(state.errorThreshold)} threshold ` +
          `at ${state.steps[state.stepIndex]!}% (${acks.rejected}/${reports} instances rejected${why})`,
        automatic: true,
        restoredVersion: null,
        errorRate: null,
        rejectionRate: rate,
      },
    },
  ];
}

/**
 * Whether a canary step whose bake has ended may count as done: enough live canary instances
 * have applied the value. When not, the step is held (one event per change in the counts).
 */
export function decideAcknowledgementGate(
  state: DeploymentState,
  acks: CanaryAcknowledgements,
): { met: true } | { met: false; events: DeploymentEvent[] } {
  if (!state.exists) return { met: true };
  const required = state.minAppliedInstances ?? 0;
  if (state.strategy !== 'Canary' || acks.applied >= required) return { met: true };
  const same =
    state.held !== null &&
    state.held.applied === acks.applied &&
    state.held.rejected === acks.rejected;
  if (same) return { met: false, events: [] };
  return {
    met: false,
    events: [
      {
        type: 'DeploymentStepHeld',
        data: {
          ...identity(state),
          stepIndex: state.stepIndex,
          applied: acks.applied,
          rejected: acks.rejected,
          required,
        },
      },
    ],
  };
}

export function decidePause(state: DeploymentState, cmd: { deploymentId: string; by: string }) {
  const d = requireDeployment(state, cmd.deploymentId);
  if (d.status === 'Paused') return [];
  if (d.status !== 'InProgress') {
    throw new DomainError('invalid_state', `Deployment ${cmd.deploymentId} is ${d.status}`);
  }
  return [{ type: 'DeploymentPaused', data: { ...identity(d), by: cmd.by } } as DeploymentEvent];
}

export function decideResume(state: DeploymentState, cmd: { deploymentId: string; by: string }) {
  const d = requireDeployment(state, cmd.deploymentId);
  if (d.status === 'InProgress') return [];
  if (d.status !== 'Paused') {
    throw new DomainError('invalid_state', `Deployment ${cmd.deploymentId} is ${d.status}`);
  }
  return [
    {
      type: 'DeploymentResumed',
      data: {
        ...identity(d),
        by: cmd.by,
        stepIndex: d.stepIndex,
        bakeTimeSeconds: d.bakeTimeSeconds,
        bake: d.bake + 1,
      },
    } as DeploymentEvent,
  ];
}

/** Promote: jump to 100 % now. Returns whether the caller must complete it. */
export function requirePromotable(state: DeploymentState, deploymentId: string): Live {
  const d = requireDeployment(state, deploymentId);
  if (!running(d)) {
    throw new DomainError('invalid_state', `Deployment ${deploymentId} is ${d.status}`);
  }
  return d;
}

/**
 * Manual rollback. A running deployment stops (every client gets the old value); a completed one
 * is reverted (the caller restores the previous version on the config stream).
 */
export function decideManualRollback(
  state: DeploymentState,
  cmd: { deploymentId: string; reason: string; restoredVersion: number | null },
): DeploymentEvent[] {
  const d = requireDeployment(state, cmd.deploymentId);
  if (d.status === 'RolledBack') {
    throw new DomainError(
      'invalid_state',
      `Deployment ${cmd.deploymentId} was already rolled back`,
    );
  }
  return [
    {
      type: 'DeploymentRolledBack',
      data: {
        ...identity(d),
        reason: cmd.reason,
        automatic: false,
        restoredVersion: cmd.restoredVersion,
        errorRate: null,
      },
    },
  ];
}

export { bucketOf, onCanary } from './canary-buckets.js';

export type DeploymentCommand =
  | { type: 'StartDeployment'; data: StartDeployment }
  /** The step job: `bake` names the bake it was scheduled in (absent on older jobs). */
  | { type: 'AdvanceStep'; data: { stepIndex: number; bake?: number } }
  | {
      type: 'ReportMetrics';
      data: { deploymentId: string; side: Side; requests: number; errors: number };
    }
  | { type: 'PauseDeployment'; data: { deploymentId: string; by: string } }
  | { type: 'ResumeDeployment'; data: { deploymentId: string; by: string } }
  /** Reaching 100 %: `version` is the config version the completion produced. */
  | {
      type: 'CompleteDeployment';
      data: { deploymentId: string; version: number; promoted: boolean };
    }
  | {
      type: 'RollBackDeployment';
      data: { deploymentId: string; reason: string; restoredVersion: number | null };
    };

/**
 * The deployment's own decisions. Those that also write the config (completing, rolling back)
 * are combined with the config's in the process functions (`deployment-*.process.ts`).
 */
export function decideDeployment(
  command: DeploymentCommand,
  state: DeploymentState,
): DeploymentEvent[] {
  switch (command.type) {
    case 'StartDeployment':
      return decideStartDeploymentStream(state, command.data);
    case 'AdvanceStep': {
      const decision = decideAdvance(state, command.data.stepIndex, command.data.bake);
      if (decision.kind === 'complete') {
        throw new DomainError('invalid_state', 'The last step completes the deployment');
      }
      return decision.kind === 'step' ? decision.events : [];
    }
    case 'ReportMetrics':
      return decideReportMetrics(state, command.data).events;
    case 'PauseDeployment':
      return decidePause(state, command.data);
    case 'ResumeDeployment':
      return decideResume(state, command.data);
    case 'CompleteDeployment': {
      const d = requirePromotable(state, command.data.deploymentId);
      return completionEvents(d, command.data.version, command.data.promoted);
    }
    case 'RollBackDeployment':
      return decideManualRollback(state, command.data);
  }
}

export const deploymentDecider = {
  initialState: initialDeploymentState,
  evolve: evolveDeployment,
  decide: decideDeployment,
};
