/**
 * How a deployment rolls out: Direct (one step to 100 %) or Canary (rising steps, a bake time
 * each, an error threshold that rolls it back). Validated here once, for every route that takes one.
 */
import { DomainError } from '../../core/domain-error.js';

export type Strategy = 'Direct' | 'Canary';

export interface RolloutPlan {
  strategy: Strategy;
  /** Canary percentages, rising, ending at 100. Direct: [100]. */
  steps: number[];
  bakeTimeSeconds: number;
  /** Error rate (0..1) of the canary side above which the deployment rolls back. */
  errorThreshold: number;
  /** Requests the canary side must have served in a step before its error rate counts. */
  minRequests: number;
  /**
   * Canary only: live instances on the canary side that must have reported the value applied
   * before a step counts as done (absent: 0, a step is done when its bake ends, as before
   * acknowledgements existed). Also the reports needed before the rejection rate counts.
   */
  minAppliedInstances?: number;
}

export const DEFAULT_CANARY: Omit<RolloutPlan, 'strategy'> = {
  steps: [10, 25, 50, 100],
  bakeTimeSeconds: 300,
  errorThreshold: 0.05,
  minRequests: 100,
};

/** Validates a rollout plan from a request; Direct always becomes one step to 100 %. */
export function planOf(input: {
  strategy: Strategy;
  steps?: number[];
  bakeTimeSeconds?: number;
  errorThreshold?: number;
  minRequests?: number;
  minAppliedInstances?: number;
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
    // Absent unless asked for: deployments without it read (and answer) as they always did.
    ...(input.minAppliedInstances ? { minAppliedInstances: input.minAppliedInstances } : {}),
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
