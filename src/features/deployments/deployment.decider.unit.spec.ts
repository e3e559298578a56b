import { expect } from 'chai';
import {
  DEFAULT_CANARY,
  bucketOf,
  completionEvents,
  decideAdvance,
  decideManualRollback,
  decidePause,
  decideReportMetrics,
  decideResume,
  decideStartDeploymentStream,
  evolveDeployment,
  initialDeploymentState,
  onCanary,
  planOf,
  requireDeployment,
  type DeploymentEvent,
  type DeploymentState,
  type RolloutPlan,
} from './deployment.decider.js';
import { DomainError, type DomainErrorCode } from '../../core/domain-error.js';

const identity = {
  deploymentId: 'dep_1',
  tenantId: 'acme',
  configId: 'cfg_1',
  key: 'greeting',
  environment: 'Staging',
};

const canaryPlan = (overrides: Partial<RolloutPlan> = {}): RolloutPlan => ({
  strategy: 'Canary',
  steps: [10, 50, 100],
  bakeTimeSeconds: 60,
  errorThreshold: 0.1,
  minRequests: 20,
  ...overrides,
});

function started(plan: RolloutPlan = canaryPlan()): DeploymentEvent[] {
  return decideStartDeploymentStream(initialDeploymentState(), {
    ...identity,
    type: 'String',
    value: 'new',
    previousValue: 'old',
    baseVersion: 3,
    plan,
    approvalId: null,
    deployedBy: 'alice',
    isSensitive: false,
  });
}

const fold = (events: DeploymentEvent[], from: DeploymentState = initialDeploymentState()) =>
  events.reduce(evolveDeployment, from);

/** A canary deployment moved through `steps` advances (via decideAdvance, like the step job). */
function atStep(stepIndex: number, plan: RolloutPlan = canaryPlan()): DeploymentState {
  let state = fold(started(plan));
  for (let i = 0; i < stepIndex; i++) {
    const decision = decideAdvance(state, i);
    if (decision.kind !== 'step') throw new Error(`could not advance from step ${i}`);
    state = fold(decision.events, state);
  }
  return state;
}

const paused = (s: DeploymentState) =>
  fold(decidePause(s, { deploymentId: 'dep_1', by: 'bob' }), s);

const completed = (s: DeploymentState) =>
  fold(completionEvents(requireDeployment(s, 'dep_1'), 4, false), s);

function refused(fn: () => unknown, code: DomainErrorCode, field?: string): DomainError {
  let failure: unknown;
  try {
    fn();
  } catch (error) {
    failure = error;
  }
  expect(failure, `expected ${code}`).to.be.instanceOf(DomainError);
  const error = failure as DomainError;
  expect(error.code).to.equal(code);
  expect(error.field).to.equal(field);
  return error;
}

const metrics = (
  state: DeploymentState,
  requests: number,
  errors: number,
  side: 'canary' | 'stable' = 'canary',
) => decideReportMetrics(state, { deploymentId: 'dep_1', side, requests, errors });

describe('deployment aggregate (unit)', function () {
  describe('planOf', function () {
    it('makes Direct one step to 100 %, whatever else is sent', function () {
      expect(
        planOf({
          strategy: 'Direct',
          steps: [5, 10],
          bakeTimeSeconds: 99,
          errorThreshold: 0.2,
          minRequests: 7,
        }),
      ).to.deep.equal({
        strategy: 'Direct',
        steps: [100],
        bakeTimeSeconds: 0,
        errorThreshold: 1,
        minRequests: 0,
      });
    });

    it('fills a Canary plan from the defaults', function () {
      expect(planOf({ strategy: 'Canary' })).to.deep.equal({
        strategy: 'Canary',
        ...DEFAULT_CANARY,
      });
      expect(
        planOf({
          strategy: 'Canary',
          steps: [1, 100],
          bakeTimeSeconds: 0.3,
          errorThreshold: 0,
          minRequests: 0,
        }),
      ).to.deep.equal({
        strategy: 'Canary',
        steps: [1, 100],
        bakeTimeSeconds: 0.3,
        errorThreshold: 0,
        minRequests: 0,
      });
    });

    const invalid: [string, number[]][] = [
      ['a single step', [100]],
      ['no steps', []],
      ['not ending at 100', [10, 50]],
      ['falling', [50, 10, 100]],
      ['repeating', [10, 10, 100]],
      ['repeating 100', [10, 100, 100]],
      ['starting at 0', [0, 100]],
      ['above 100', [10, 101]],
      ['fractions', [10.5, 100]],
      ['negative', [-10, 100]],
    ];
    for (const [why, steps] of invalid) {
      it(`refuses Canary steps ${why}: ${JSON.stringify(steps)}`, function () {
        const error = refused(() => planOf({ strategy: 'Canary', steps }), 'validation', 'steps');
        expect(error.message).to.equal(
          'steps must be at least two rising whole percentages from 1 to 100, ending at 100',
        );
      });
    }
  });

  describe('start, evolve and completion', function () {
    it('starts at step 0 with zero counts', function () {
      const state = requireDeployment(fold(started()), 'dep_1');
      expect(state).to.deep.include({
        status: 'InProgress',
        stepIndex: 0,
        value: 'new',
        previousValue: 'old',
        baseVersion: 3,
        deployedVersion: null,
        current: { canary: { requests: 0, errors: 0 }, stable: { requests: 0, errors: 0 } },
        totals: { canary: { requests: 0, errors: 0 }, stable: { requests: 0, errors: 0 } },
      });
    });

    it('refuses to start a deployment stream twice', function () {
      const state = fold(started());
      refused(
        () =>
          decideStartDeploymentStream(state, {
            ...identity,
            type: 'String',
            value: 'x',
            previousValue: null,
            baseVersion: 1,
            plan: canaryPlan(),
            approvalId: null,
            deployedBy: 'a',
            isSensitive: false,
          }),
        'already_exists',
        'deploymentId',
      );
    });

    it('completes through the last step, or straight to Completed when already there', function () {
      const early = completionEvents(requireDeployment(atStep(0), 'dep_1'), 4, true);
      expect(early).to.deep.equal([
        {
          type: 'DeploymentStepAdvanced',
          data: {
            ...identity,
            stepIndex: 2,
            canaryPercentage: 100,
            progress: 100,
            bakeTimeSeconds: 60,
            type: 'String',
            value: 'new',
          },
        },
        { type: 'DeploymentCompleted', data: { ...identity, version: 4, promoted: true } },
      ]);
      const direct = fold(started(planOf({ strategy: 'Direct' })));
      expect(completionEvents(requireDeployment(direct, 'dep_1'), 4, false)).to.deep.equal([
        { type: 'DeploymentCompleted', data: { ...identity, version: 4, promoted: false } },
      ]);
      const done = requireDeployment(fold(early, atStep(0)), 'dep_1');
      expect(done).to.deep.include({ status: 'Completed', stepIndex: 2, deployedVersion: 4 });
    });
  });

  describe('decideAdvance (the step job)', function () {
    it('moves a running deployment from its current step to the next', function () {
      const decision = decideAdvance(atStep(0), 0);
      expect(decision).to.deep.equal({
        kind: 'step',
        events: [
          {
            type: 'DeploymentStepAdvanced',
            data: {
              ...identity,
              stepIndex: 1,
              canaryPercentage: 50,
              progress: 50,
              bakeTimeSeconds: 60,
              bake: 2,
              type: 'String',
              value: 'new',
            },
          },
        ],
      });
    });

    it('reports progress by step over a longer plan, and completes at the last step', function () {
      const plan = canaryPlan({ steps: [10, 25, 50, 100] });
      const seen: [number, number][] = [];
      let state = atStep(0, plan);
      for (let i = 0; i < 2; i++) {
        const d = decideAdvance(state, i);
        if (d.kind !== 'step') throw new Error('expected a step');
        const e = d.events[0]!;
        if (e.type !== 'DeploymentStepAdvanced') throw new Error('expected a step event');
        seen.push([e.data.canaryPercentage, e.data.progress]);
        state = fold(d.events, state);
      }
      expect(seen).to.deep.equal([
        [25, 33],
        [50, 67],
      ]);
      expect(decideAdvance(state, 2)).to.deep.equal({ kind: 'complete' });
    });

    it('completes from the step before 100 %', function () {
      expect(decideAdvance(atStep(1), 1)).to.deep.equal({ kind: 'complete' });
      expect(decideAdvance(atStep(0, canaryPlan({ steps: [5, 100] })), 0)).to.deep.equal({
        kind: 'complete',
      });
    });

    it('does nothing for a missing, paused, finished or already-moved deployment', function () {
      expect(decideAdvance(initialDeploymentState(), 0)).to.deep.equal({ kind: 'none' });
      expect(decideAdvance(paused(atStep(0)), 0)).to.deep.equal({ kind: 'none' });
      expect(decideAdvance(atStep(1), 0), 'late job for an old step').to.deep.equal({
        kind: 'none',
      });
      expect(decideAdvance(atStep(0), 1), 'job for a future step').to.deep.equal({
        kind: 'none',
      });
      const done = completed(atStep(1));
      expect(decideAdvance(done, 1)).to.deep.equal({ kind: 'none' });
      expect(decideAdvance(done, 2)).to.deep.equal({ kind: 'none' });
      const rolledBack = fold(
        decideManualRollback(atStep(0), {
          deploymentId: 'dep_1',
          reason: 'x',
          restoredVersion: null,
        }),
        atStep(0),
      );
      expect(decideAdvance(rolledBack, 0)).to.deep.equal({ kind: 'none' });
    });

    it('moves again once resumed', function () {
      const p = paused(atStep(0));
      const resumed = fold(decideResume(p, { deploymentId: 'dep_1', by: 'bob' }), p);
      expect(decideAdvance(resumed, 0).kind).to.equal('step');
    });
  });

  describe('decideReportMetrics', function () {
    it('records metrics without rolling back below minRequests, however bad the rate', function () {
      const state = atStep(0);
      const decision = metrics(state, 19, 19);
      expect(decision).to.deep.equal({
        rolledBack: false,
        events: [
          {
            type: 'DeploymentMetricsReported',
            data: { ...identity, stepIndex: 0, side: 'canary', requests: 19, errors: 19 },
          },
        ],
      });
    });

    it('rolls back once the canary side reaches minRequests with a rate above the threshold', function () {
      let state = atStep(0);
      const first = metrics(state, 10, 5);
      expect(first.rolledBack).to.equal(false);
      state = fold(first.events, state);
      const second = metrics(state, 10, 0); // 5/20 = 25 % > 10 %
      expect(second.rolledBack).to.equal(true);
      expect(second.events[1]).to.deep.equal({
        type: 'DeploymentRolledBack',
        data: {
          ...identity,
          reason: 'Canary error rate 25.00% exceeded the 10.00% threshold at 10% (5/20 requests)',
          automatic: true,
          restoredVersion: null,
          errorRate: 0.25,
        },
      });
      const after = requireDeployment(fold(second.events, state), 'dep_1');
      expect(after.status).to.equal('RolledBack');
      expect(after.current.canary).to.deep.equal({ requests: 20, errors: 5 });
    });

    it('does not roll back at a rate equal to the threshold', function () {
      expect(metrics(atStep(0), 20, 2).rolledBack, '2/20 = 10 %').to.equal(false);
      expect(metrics(atStep(0), 20, 3).rolledBack, '3/20 = 15 %').to.equal(true);
      const zero = atStep(0, canaryPlan({ errorThreshold: 0, minRequests: 0 }));
      expect(metrics(zero, 0, 0).rolledBack).to.equal(false);
      expect(metrics(zero, 100, 0).rolledBack).to.equal(false);
      expect(metrics(zero, 100, 1).rolledBack).to.equal(true);
    });

    it('counts each step afresh: errors of an earlier step do not count at the next', function () {
      let state = atStep(0);
      state = fold(metrics(state, 15, 15).events, state); // below minRequests at 10 %
      const step = decideAdvance(state, 0);
      if (step.kind !== 'step') throw new Error('expected a step');
      state = fold(step.events, state);
      const live = requireDeployment(state, 'dep_1');
      expect(live.current.canary).to.deep.equal({ requests: 0, errors: 0 });
      expect(live.totals.canary).to.deep.equal({ requests: 15, errors: 15 });
      // 10 requests, 1 error at 50 %: 1/10 alone is under minRequests; with step 0 it would be 16/25.
      const decision = metrics(state, 10, 1);
      expect(decision.rolledBack).to.equal(false);
      const data = decision.events[0]!.data as { stepIndex: number };
      expect(data.stepIndex).to.equal(1);
      state = fold(decision.events, state);
      expect(metrics(state, 10, 2).rolledBack, '3/20 at 50 %').to.equal(true);
    });

    it('ignores the stable side for the rollback decision, but counts it', function () {
      const state = atStep(0);
      const decision = metrics(state, 1000, 1000, 'stable');
      expect(decision.rolledBack).to.equal(false);
      expect(decision.events).to.have.length(1);
      const after = requireDeployment(fold(decision.events, state), 'dep_1');
      expect(after.totals.stable).to.deep.equal({ requests: 1000, errors: 1000 });
      expect(after.current.stable).to.deep.equal({ requests: 1000, errors: 1000 });
      expect(after.current.canary).to.deep.equal({ requests: 0, errors: 0 });
      // Stable errors do not add to the canary rate either.
      expect(metrics(fold(decision.events, state), 20, 0).rolledBack).to.equal(false);
    });

    it('still judges a paused canary', function () {
      expect(metrics(paused(atStep(0)), 20, 20).rolledBack).to.equal(true);
    });

    it('refuses errors above requests, unknown and finished deployments', function () {
      refused(() => metrics(atStep(0), 1, 2), 'validation', 'errors');
      refused(() => metrics(initialDeploymentState(), 1, 0), 'not_found', 'deploymentId');
      refused(() => metrics(completed(atStep(1)), 1, 0), 'invalid_state');
      const rolledBack = fold(metrics(atStep(0), 20, 20).events, atStep(0));
      refused(() => metrics(rolledBack, 1, 0), 'invalid_state');
    });
  });

  describe('pause, resume and manual rollback', function () {
    it('voids a step job from before a pause once resumed: the step bakes again in full', function () {
      const running = atStep(1); // bake 2
      expect(requireDeployment(running, 'dep_1').bake).to.equal(2);
      const resumed = fold(
        decideResume(paused(running), { deploymentId: 'dep_1', by: 'carol' }),
        paused(running),
      );
      expect(requireDeployment(resumed, 'dep_1').bake).to.equal(3);
      // The job scheduled when step 1 began (bake 2) does nothing; the resume's job (bake 3) moves.
      expect(decideAdvance(resumed, 1, 2)).to.deep.equal({ kind: 'none' });
      expect(decideAdvance(resumed, 1, 3)).to.deep.equal({ kind: 'complete' });
      // Jobs from before bakes were counted still move by step alone.
      expect(decideAdvance(resumed, 1)).to.deep.equal({ kind: 'complete' });
    });

    it('pauses and resumes, each idempotently', function () {
      const running = atStep(1);
      expect(decidePause(running, { deploymentId: 'dep_1', by: 'bob' })).to.deep.equal([
        { type: 'DeploymentPaused', data: { ...identity, by: 'bob' } },
      ]);
      const p = paused(running);
      expect(requireDeployment(p, 'dep_1').status).to.equal('Paused');
      expect(decidePause(p, { deploymentId: 'dep_1', by: 'bob' })).to.deep.equal([]);
      expect(decideResume(p, { deploymentId: 'dep_1', by: 'carol' })).to.deep.equal([
        {
          type: 'DeploymentResumed',
          data: { ...identity, by: 'carol', stepIndex: 1, bakeTimeSeconds: 60, bake: 3 },
        },
      ]);
      expect(decideResume(running, { deploymentId: 'dep_1', by: 'carol' })).to.deep.equal([]);
    });

    it('refuses to pause or resume a finished or unknown deployment', function () {
      const done = completed(atStep(1));
      refused(() => decidePause(done, { deploymentId: 'dep_1', by: 'b' }), 'invalid_state');
      refused(() => decideResume(done, { deploymentId: 'dep_1', by: 'b' }), 'invalid_state');
      refused(
        () => decidePause(initialDeploymentState(), { deploymentId: 'dep_1', by: 'b' }),
        'not_found',
        'deploymentId',
      );
    });

    it('rolls back running and completed deployments once', function () {
      const cmd = { deploymentId: 'dep_1', reason: 'why', restoredVersion: 3 };
      expect(decideManualRollback(completed(atStep(1)), cmd)).to.deep.equal([
        {
          type: 'DeploymentRolledBack',
          data: {
            ...identity,
            reason: 'why',
            automatic: false,
            restoredVersion: 3,
            errorRate: null,
          },
        },
      ]);
      const once = fold(decideManualRollback(paused(atStep(0)), cmd), paused(atStep(0)));
      expect(requireDeployment(once, 'dep_1').status).to.equal('RolledBack');
      refused(() => decideManualRollback(once, cmd), 'invalid_state');
    });
  });

  describe('sticky bucketing', function () {
    const ids = Array.from({ length: 10_000 }, (_, i) => `client-${i}`);
    const share = (deploymentId: string, pct: number) =>
      (100 * ids.filter((id) => onCanary(id, deploymentId, pct)).length) / ids.length;

    it('is deterministic and within 0..9999', function () {
      for (const id of ids.slice(0, 500)) {
        const b = bucketOf(id, 'dep_a');
        expect(bucketOf(id, 'dep_a')).to.equal(b);
        expect(Number.isInteger(b) && b >= 0 && b < 10_000, `${id}: ${b}`).to.equal(true);
      }
      // Unicode ids too.
      expect(bucketOf('clïent-✓', 'dep_a')).to.equal(bucketOf('clïent-✓', 'dep_a'));
    });

    it('spreads similar ids evenly: 10/25/50 % within ±2 points', function () {
      for (const dep of ['dep_a', 'dep_0123456789abcdef0123456789abcdef']) {
        for (const pct of [10, 25, 50]) {
          expect(share(dep, pct), `${dep} at ${pct} %`).to.be.within(pct - 2, pct + 2);
        }
        expect(share(dep, 0)).to.equal(0);
        expect(share(dep, 100)).to.equal(100);
      }
    });

    it('buckets independently per deployment', function () {
      const both = ids.filter((id) => onCanary(id, 'dep_a', 50) && onCanary(id, 'dep_b', 50));
      // Independent halves overlap on about a quarter.
      expect((100 * both.length) / ids.length).to.be.within(23, 27);
    });

    it('never moves a client back to stable as the percentage grows', function () {
      for (const id of ids.slice(0, 2000)) {
        let was = false;
        for (let pct = 0; pct <= 100; pct++) {
          const now = onCanary(id, 'dep_a', pct);
          if (was) expect(now, `${id} left the canary at ${pct} %`).to.equal(true);
          was = now;
        }
        expect(was).to.equal(true);
      }
    });
  });
});
