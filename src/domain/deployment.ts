/**
 * Deployment aggregate (stream `deployment-{deploymentId}`): how a new value reaches a config.
 * Direct is one step to 100 %. Canary serves the new value to a growing share of clients, step
 * by step after a bake time, and rolls itself back when the canary side's error rate passes the
 * threshold. The config stream records that the deployment holds it (at most one at a time) and,
 * at 100 %, the new version.
 */
import { DomainError } from './errors.js';
import type { ConfigType } from './values.js';

export type Strategy = 'Direct' | 'Canary';
export type DeploymentStatus = 'InProgress' | 'Paused' | 'Completed' | 'RolledBack';
export type Side = 'canary' | 'stable';

export interface RolloutPlan {
  strategy: Strategy;
  /** Canary percentages, rising, ending at 100. Direct: [100]. */
  steps: number[];
  bakeTimeSeconds: number;
  /** Error rate (0..1) of the canary side above which the deployment rolls back. */
  errorThreshold: number;
  /** Requests the canary side must have served in a step before its error rate counts. */
  minRequests: number;
}

export const DEFAULT_CANARY: Omit<RolloutPlan, 'strategy'> = {
  steps: [10, 25, 50, 100],
  bakeTimeSeconds: 300,
  errorThreshold: 0.05,
  minRequests: 100,
};

interface Identity {
  deploymentId: string;
  tenantId: string;
  configId: string;
  key: string;
  environment: string;
}

export interface SideCounts {
  requests: number;
  errors: number;
}

export type DeploymentEvent =
  | {
      type: 'DeploymentStarted';
      data: Identity &
        RolloutPlan & {
          type: ConfigType;
          value: string;
          previousValue: string | null;
          /** Config version the deployment started from (0 for a new config). */
          baseVersion: number;
          approvalId: string | null;
          deployedBy: string;
          isSensitive: boolean;
        };
    }
  | {
      type: 'DeploymentStepAdvanced';
      data: Identity & {
        stepIndex: number;
        canaryPercentage: number;
        progress: number;
        /** How long this step bakes before the next (carried for the job scheduler). */
        bakeTimeSeconds: number;
        /** Which bake this starts (see DeploymentState.bake); absent on older events. */
        bake?: number;
        // Carried so that the cache can serve the canary side without earlier events.
        type: ConfigType;
        value: string;
      };
    }
  | {
      type: 'DeploymentMetricsReported';
      data: Identity & { stepIndex: number; side: Side } & SideCounts;
    }
  | { type: 'DeploymentPaused'; data: Identity & { by: string } }
  | {
      type: 'DeploymentResumed';
      data: Identity & {
        by: string;
        stepIndex: number;
        bakeTimeSeconds: number;
        /** Which bake this starts (see DeploymentState.bake); absent on older events. */
        bake?: number;
      };
    }
  | {
      type: 'DeploymentCompleted';
      data: Identity & { version: number; promoted: boolean };
    }
  | {
      type: 'DeploymentRolledBack';
      data: Identity & {
        reason: string;
        automatic: boolean;
        /** Set when a completed deployment was reverted: the config version restored. */
        restoredVersion: number | null;
        errorRate: number | null;
      };
    };

export type DeploymentState =
  | { exists: false }
  | ({
      exists: true;
      status: DeploymentStatus;
      stepIndex: number;
      type: ConfigType;
      value: string;
      previousValue: string | null;
      baseVersion: number;
      /** Config version the deployment produced, once completed. */
      deployedVersion: number | null;
      /**
       * Bakes started so far: 1 at the start, one more at every step and resume. A step job
       * belongs to one bake; once another began (a pause and resume), the old job is void.
       */
      bake: number;
      /** Counts of the current step, per side. */
      current: Record<Side, SideCounts>;
      totals: Record<Side, SideCounts>;
      approvalId: string | null;
    } & Identity &
      RolloutPlan);

export const initialDeploymentState = (): DeploymentState => ({ exists: false });

const zero = (): Record<Side, SideCounts> => ({
  canary: { requests: 0, errors: 0 },
  stable: { requests: 0, errors: 0 },
});

export function evolveDeployment(state: DeploymentState, event: DeploymentEvent): DeploymentState {
  if (event.type === 'DeploymentStarted') {
    const d = event.data;
    return {
      exists: true,
      status: 'InProgress',
      stepIndex: 0,
      deploymentId: d.deploymentId,
      tenantId: d.tenantId,
      configId: d.configId,
      key: d.key,
      environment: d.environment,
      strategy: d.strategy,
      steps: d.steps,
      bakeTimeSeconds: d.bakeTimeSeconds,
      errorThreshold: d.errorThreshold,
      minRequests: d.minRequests,
      type: d.type,
      value: d.value,
      previousValue: d.previousValue,
      baseVersion: d.baseVersion,
      deployedVersion: null,
      bake: 1,
      current: zero(),
      totals: zero(),
      approvalId: d.approvalId,
    };
  }
  if (!state.exists) return state;
  switch (event.type) {
    case 'DeploymentStepAdvanced':
      return { ...state, stepIndex: event.data.stepIndex, current: zero(), bake: state.bake + 1 };
    case 'DeploymentMetricsReported': {
      const { side, requests, errors } = event.data;
      const add = (c: Record<Side, SideCounts>) => ({
        ...c,
        [side]: { requests: c[side].requests + requests, errors: c[side].errors + errors },
      });
      return {
        ...state,
        current: event.data.stepIndex === state.stepIndex ? add(state.current) : state.current,
        totals: add(state.totals),
      };
    }
    case 'DeploymentPaused':
      return { ...state, status: 'Paused' };
    case 'DeploymentResumed':
      return { ...state, status: 'InProgress', bake: state.bake + 1 };
    case 'DeploymentCompleted':
      return {
        ...state,
        status: 'Completed',
        stepIndex: state.steps.length - 1,
        deployedVersion: event.data.version,
      };
    case 'DeploymentRolledBack':
      return { ...state, status: 'RolledBack' };
  }
}

/** Validates a rollout plan from a request; Direct always becomes one step to 100 %. */
export function planOf(input: {
  strategy: Strategy;
  steps?: number[];
  bakeTimeSeconds?: number;
  errorThreshold?: number;
  minRequests?: number;
}): RolloutPlan {
  if (input.strategy === 'Direct') {
    return {
      strategy: 'Direct',
      steps: [100],
      bakeTimeSeconds: 0,
      errorThreshold: 1,
      minRequests: 0,
    };
  }
  const plan: RolloutPlan = {
    strategy: 'Canary',
    steps: input.steps ?? DEFAULT_CANARY.steps,
    bakeTimeSeconds: input.bakeTimeSeconds ?? DEFAULT_CANARY.bakeTimeSeconds,
    errorThreshold: input.errorThreshold ?? DEFAULT_CANARY.errorThreshold,
    minRequests: input.minRequests ?? DEFAULT_CANARY.minRequests,
  };
  const s = plan.steps;
  if (
    s.length < 2 ||
    s.some((p, i) => !Number.isInteger(p) || p < 1 || p > 100 || (i > 0 && p <= s[i - 1]!)) ||
    s[s.length - 1] !== 100
  ) {
    throw new DomainError(
      'validation',
      'steps must be at least two rising whole percentages from 1 to 100, ending at 100',
      'steps',
    );
  }
  return plan;
}

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

/** Which side of a canary a client is on: stable per (client, deployment), uniform over 0..9999. */
export function bucketOf(clientId: string, deploymentId: string): number {
  // FNV-1a, then murmur3's finaliser for an even spread of similar ids.
  let h = 0x811c9dc5;
  const s = `${clientId}\u0000${deploymentId}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % 10000;
}

/** A client is on the canary side while its bucket is below the share (so it never flips back). */
export const onCanary = (clientId: string, deploymentId: string, percentage: number) =>
  bucketOf(clientId, deploymentId) < percentage * 100;
