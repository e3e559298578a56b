/**
 * What a deployment stream (`deployment-{deploymentId}`) records, the state it folds to, and
 * `evolve`; deployment.decider.ts decides from it.
 */
import type { ConfigType } from '../configs/config-values.js';
import type { RolloutPlan } from './rollout-plan.js';

export type DeploymentStatus = 'InProgress' | 'Paused' | 'Completed' | 'RolledBack';
export type Side = 'canary' | 'stable';

export interface Identity {
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

/**
 * What the live instances on a canary's canary side last reported for its value (each instance
 * counted once, by its newest report): read from the acknowledgement table by the caller and
 * recorded on the events it decides.
 */
export interface CanaryAcknowledgements {
  applied: number;
  rejected: number;
  /** One rejection's reason, for the rollback's. */
  reason?: string;
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
          /** The values are encrypted at rest (absent: not). */
          isEncrypted?: boolean;
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
        /** Canary acknowledgements the step was allowed on (when the plan asks for them). */
        acknowledgements?: { applied: number; rejected: number };
        // Carried so that the cache can serve the canary side without earlier events.
        type: ConfigType;
        value: string;
        isEncrypted?: boolean;
      };
    }
  | {
      type: 'DeploymentMetricsReported';
      data: Identity & { stepIndex: number; side: Side } & SideCounts;
    }
  | {
      /**
       * A step's bake ended but too few canary instances had applied the value: it stays where
       * it is until enough have (decided again as acknowledgements arrive), or someone steps in.
       */
      type: 'DeploymentStepHeld';
      data: Identity & { stepIndex: number; applied: number; rejected: number; required: number };
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
        /** Rolled back by the instances' rejections (absent otherwise). */
        rejectionRate?: number;
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
      /** Set while the current step is held for acknowledgements: the counts it was held on. */
      held: { applied: number; rejected: number } | null;
      /** Counts of the current step, per side. */
      current: Record<Side, SideCounts>;
      totals: Record<Side, SideCounts>;
      approvalId: string | null;
      isEncrypted: boolean;
      /* What the view shows besides (see deployment.view.ts); no decision reads them. */
      isSensitive: boolean;
      deployedBy: string;
      /** Percent of the steps done, as the last step event said. */
      progress: number;
      /** Each finished step's counts. */
      history: ({ stepIndex: number } & Record<Side, SideCounts>)[];
      /** The held step's required acknowledgements, as the hold recorded them. */
      heldRequired: number;
      promoted: boolean | null;
      rollback: { reason: string; automatic: boolean; restoredVersion: number | null } | null;
    } & Identity &
      RolloutPlan);

export const initialDeploymentState = (): DeploymentState => ({ exists: false });

export const zero = (): Record<Side, SideCounts> => ({
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
      ...(d.minAppliedInstances ? { minAppliedInstances: d.minAppliedInstances } : {}),
      held: null,
      type: d.type,
      value: d.value,
      previousValue: d.previousValue,
      baseVersion: d.baseVersion,
      deployedVersion: null,
      bake: 1,
      current: zero(),
      totals: zero(),
      approvalId: d.approvalId,
      isEncrypted: d.isEncrypted ?? false,
      isSensitive: d.isSensitive,
      deployedBy: d.deployedBy,
      progress: 0,
      history: [],
      heldRequired: 0,
      promoted: null,
      rollback: null,
    };
  }
  if (!state.exists) return state;
  switch (event.type) {
    case 'DeploymentStepAdvanced':
      return {
        ...state,
        stepIndex: event.data.stepIndex,
        progress: event.data.progress,
        current: zero(),
        history: [...state.history, { stepIndex: state.stepIndex, ...state.current }],
        bake: state.bake + 1,
        held: null,
      };
    case 'DeploymentStepHeld':
      return {
        ...state,
        held: { applied: event.data.applied, rejected: event.data.rejected },
        heldRequired: event.data.required,
      };
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
      return { ...state, status: 'InProgress', bake: state.bake + 1, held: null };
    case 'DeploymentCompleted':
      return {
        ...state,
        status: 'Completed',
        stepIndex: state.steps.length - 1,
        progress: 100,
        deployedVersion: event.data.version,
        promoted: event.data.promoted,
        held: null,
      };
    case 'DeploymentRolledBack': {
      const { reason, automatic, restoredVersion } = event.data;
      return { ...state, status: 'RolledBack', rollback: { reason, automatic, restoredVersion } };
    }
  }
}
