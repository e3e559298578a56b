import { expect } from 'chai';
import {
  config,
  history,
  refused,
  tenant,
  TENANT,
  types,
} from '../../core/testing/domain-fixtures.js';
import { configIdFor } from '../configs/config.decider.js';
import {
  deploymentDecider,
  type DeploymentCommand,
  type RolloutPlan,
} from './deployment.decider.js';
import {
  decideCanaryStep,
  decideOnAcknowledgements,
  decidePromotion,
  decideResumption,
  decideRollback,
} from './deployment-progress.process.js';

const key = 'feature.flag';
const environment = 'Staging';
const configId = configIdFor(TENANT, environment, key);
const deploymentId = 'dep_1';
const canary: RolloutPlan = {
  strategy: 'Canary',
  steps: [10, 50, 100],
  bakeTimeSeconds: 60,
  errorThreshold: 0.1,
  minRequests: 20,
};

const start: DeploymentCommand = {
  type: 'StartDeployment',
  data: {
    deploymentId,
    tenantId: TENANT,
    configId,
    key,
    environment,
    type: 'String',
    value: 'new',
    previousValue: 'old',
    baseVersion: 1,
    plan: canary,
    approvalId: null,
    deployedBy: 'alice',
    isSensitive: false,
  },
};
const step = (stepIndex: number, bake?: number): DeploymentCommand => ({
  type: 'AdvanceStep',
  data: { stepIndex, bake },
});
const held = () => config({ key, environment, values: ['old'], heldBy: deploymentId });

describe('deployment progress (process)', function () {
  describe('a canary step', function () {
    it('advances to the next step after its bake, the config untouched', function () {
      const write = decideCanaryStep(
        { deployment: history(deploymentDecider, [start]), tenant: tenant(), config: held() },
        { stepIndex: 0, bake: 1, by: 'system' },
      );
      expect(types(write.deployment)).to.deep.equal(['DeploymentStepAdvanced']);
      expect(write.deployment[0]!.data).to.include({ stepIndex: 1, canaryPercentage: 50, bake: 2 });
      expect(write.config).to.deep.equal([]);
    });

    it('completes after the last bake: the value becomes the config’s next version in the same write', function () {
      const write = decideCanaryStep(
        {
          deployment: history(deploymentDecider, [start, step(0)]),
          tenant: tenant(),
          config: held(),
        },
        { stepIndex: 1, by: 'system' },
      );
      expect(types(write.config)).to.deep.equal([
        'ConfigurationUpdated',
        'ConfigurationDeploymentEnded',
      ]);
      expect(write.config[0]!.data).to.include({ version: 2, value: 'new' });
      expect(types(write.deployment)).to.deep.equal([
        'DeploymentStepAdvanced',
        'DeploymentCompleted',
      ]);
      expect(write.deployment[1]!.data).to.include({ version: 2, promoted: false });
    });

    it('pauses instead, where it is, when the tenant is suspended', function () {
      const write = decideCanaryStep(
        {
          deployment: history(deploymentDecider, [start]),
          tenant: tenant({ status: 'Suspended' }),
          config: held(),
        },
        { stepIndex: 0, by: 'system' },
      );
      expect(types(write.deployment)).to.deep.equal(['DeploymentPaused']);
      expect(write.config).to.deep.equal([]);
    });

    it('does nothing when the job is late, repeated, or from an earlier bake', function () {
      const moved = history(deploymentDecider, [start, step(0)]);
      const s = { deployment: moved, tenant: tenant(), config: held() };
      expect(decideCanaryStep(s, { stepIndex: 0, by: 'system' })).to.deep.equal({
        deployment: [],
        config: [],
      });
      const resumed = history(deploymentDecider, [
        start,
        { type: 'PauseDeployment', data: { deploymentId, by: 'bob' } },
        { type: 'ResumeDeployment', data: { deploymentId, by: 'bob' } },
      ]);
      const early = decideCanaryStep(
        { ...s, deployment: resumed },
        { stepIndex: 0, bake: 1, by: 'system' },
      );
      expect(early.deployment).to.deep.equal([]);
    });
  });

  describe('acknowledgements', function () {
    /** A canary that needs 3 instances on its canary side to have applied it. */
    const gated: DeploymentCommand = {
      ...start,
      data: { ...start.data, plan: { ...canary, minAppliedInstances: 3 } },
    } as DeploymentCommand;
    const given = (commands: DeploymentCommand[] = [gated]) => ({
      deployment: history(deploymentDecider, commands),
      tenant: tenant(),
      config: held(),
    });
    const step0 = (acks: { applied: number; rejected: number; reason?: string }) => ({
      stepIndex: 0,
      bake: 1,
      by: 'system',
      acks,
    });

    it('moves on after the bake alone when the plan asks for none (as before acknowledgements)', function () {
      const write = decideCanaryStep(given([start]), step0({ applied: 0, rejected: 0 }));
      expect(types(write.deployment)).to.deep.equal(['DeploymentStepAdvanced']);
      expect(write.deployment[0]!.data).to.not.have.property('acknowledgements');
    });

    it('holds a step whose bake ended before enough canary instances applied it', function () {
      const write = decideCanaryStep(given(), step0({ applied: 2, rejected: 0 }));
      expect(types(write.deployment)).to.deep.equal(['DeploymentStepHeld']);
      expect(write.deployment[0]!.data).to.include({
        stepIndex: 0,
        applied: 2,
        rejected: 0,
        required: 3,
      });
      expect(write.config).to.deep.equal([]);
    });

    it('holds once per change in the counts: the same counts again decide nothing', function () {
      const s = given();
      const first = decideCanaryStep(s, step0({ applied: 1, rejected: 0 }));
      const afterHold = {
        ...s,
        deployment: first.deployment.reduce(deploymentDecider.evolve, s.deployment),
      };
      expect(decideCanaryStep(afterHold, step0({ applied: 1, rejected: 0 }))).to.deep.equal({
        deployment: [],
        config: [],
      });
      expect(
        types(
          decideOnAcknowledgements(afterHold, { by: 'app', acks: { applied: 2, rejected: 0 } })
            .deployment,
        ),
      ).to.deep.equal(['DeploymentStepHeld']);
    });

    it('moves a held step on once enough have applied it, recording the counts', function () {
      const s = given();
      const hold = decideCanaryStep(s, step0({ applied: 0, rejected: 0 }));
      const afterHold = {
        ...s,
        deployment: hold.deployment.reduce(deploymentDecider.evolve, s.deployment),
      };
      const write = decideOnAcknowledgements(afterHold, {
        by: 'api-key:k1',
        acks: { applied: 3, rejected: 0 },
      });
      expect(types(write.deployment)).to.deep.equal(['DeploymentStepAdvanced']);
      expect(write.deployment[0]!.data).to.deep.include({
        stepIndex: 1,
        canaryPercentage: 50,
        bake: 2,
        acknowledgements: { applied: 3, rejected: 0 },
      });
    });

    it('leaves a step that is still baking to its step job, however many applied it', function () {
      expect(
        decideOnAcknowledgements(given(), { by: 'app', acks: { applied: 10, rejected: 0 } }),
      ).to.deep.equal({ deployment: [], config: [] });
    });

    it('completes a held last step: the value becomes the next version', function () {
      const s = given([gated, step(0)]);
      const hold = decideCanaryStep(s, {
        stepIndex: 1,
        by: 'system',
        acks: { applied: 1, rejected: 0 },
      });
      expect(types(hold.deployment)).to.deep.equal(['DeploymentStepHeld']);
      const afterHold = {
        ...s,
        deployment: hold.deployment.reduce(deploymentDecider.evolve, s.deployment),
      };
      const write = decideOnAcknowledgements(afterHold, {
        by: 'app',
        acks: { applied: 4, rejected: 0 },
      });
      expect(types(write.deployment)).to.deep.equal([
        'DeploymentStepAdvanced',
        'DeploymentCompleted',
      ]);
      expect(write.config[0]!.data).to.include({ version: 2, value: 'new' });
    });

    it('rolls back when the rejection rate passes the error threshold, saying so', function () {
      const write = decideOnAcknowledgements(given(), {
        by: 'app',
        acks: { applied: 2, rejected: 1, reason: 'maxAttempts must be below 10' },
      });
      expect(types(write.deployment)).to.deep.equal(['DeploymentRolledBack']);
      expect(types(write.config)).to.deep.equal(['ConfigurationDeploymentEnded']);
      const data = write.deployment[0]!.data as unknown as Record<string, unknown>;
      expect(data).to.include({
        automatic: true,
        errorRate: null,
        restoredVersion: null,
        reason:
          'Canary rejection rate 33.33% exceeded the 10.00% threshold at 10% ' +
          '(1/3 instances rejected; one said: maxAttempts must be below 10)',
      });
      expect(data.rejectionRate).to.be.closeTo(1 / 3, 1e-9);
    });

    it('rolls back from the step job too, even for a suspended tenant (the safe direction)', function () {
      const write = decideCanaryStep(
        { ...given(), tenant: tenant({ status: 'Suspended' }) },
        step0({ applied: 0, rejected: 3 }),
      );
      expect(types(write.deployment)).to.deep.equal(['DeploymentRolledBack']);
    });

    it('waits for minAppliedInstances reports (at least one) before the rejection rate counts', function () {
      // 1 of 2 rejected is 50 %, but the plan wants 3 reports first.
      expect(
        decideOnAcknowledgements(given(), { by: 'app', acks: { applied: 1, rejected: 1 } }),
      ).to.deep.equal({ deployment: [], config: [] });
      // Without the option a single report counts: one rejection of one is 100 %.
      expect(
        types(
          decideOnAcknowledgements(given([start]), { by: 'app', acks: { applied: 0, rejected: 1 } })
            .deployment,
        ),
      ).to.deep.equal(['DeploymentRolledBack']);
      // At or under the threshold: no rollback (1 of 10 is exactly 10 %).
      expect(
        decideOnAcknowledgements(given([start]), { by: 'app', acks: { applied: 9, rejected: 1 } }),
      ).to.deep.equal({ deployment: [], config: [] });
    });

    it('changes nothing for a finished deployment', function () {
      const rolledBack = history(deploymentDecider, [
        gated,
        { type: 'RollBackDeployment', data: { deploymentId, reason: 'no', restoredVersion: null } },
      ]);
      expect(
        decideOnAcknowledgements(
          { deployment: rolledBack, tenant: tenant(), config: held() },
          { by: 'app', acks: { applied: 0, rejected: 5 } },
        ),
      ).to.deep.equal({ deployment: [], config: [] });
    });
  });

  describe('promote', function () {
    it('completes now, marked promoted', function () {
      const write = decidePromotion(
        { deployment: history(deploymentDecider, [start]), tenant: tenant(), config: held() },
        deploymentId,
      );
      expect(types(write.deployment)).to.deep.equal([
        'DeploymentStepAdvanced',
        'DeploymentCompleted',
      ]);
      expect(write.deployment[1]!.data).to.include({ promoted: true });
    });

    it('is refused for a suspended tenant, and once finished', function () {
      refused(
        () =>
          decidePromotion(
            {
              deployment: history(deploymentDecider, [start]),
              tenant: tenant({ status: 'Suspended' }),
              config: held(),
            },
            deploymentId,
          ),
        'invalid_state',
      );
      const rolledBack = history(deploymentDecider, [
        start,
        {
          type: 'RollBackDeployment',
          data: { deploymentId, reason: 'no', restoredVersion: null },
        },
      ]);
      refused(
        () =>
          decidePromotion(
            { deployment: rolledBack, tenant: tenant(), config: held() },
            deploymentId,
          ),
        'invalid_state',
      );
    });
  });

  it('resumes only for an active tenant', function () {
    const paused = history(deploymentDecider, [
      start,
      { type: 'PauseDeployment', data: { deploymentId, by: 'bob' } },
    ]);
    expect(
      types(
        decideResumption({ deployment: paused, tenant: tenant() }, { deploymentId, by: 'bob' }),
      ),
    ).to.deep.equal(['DeploymentResumed']);
    refused(
      () =>
        decideResumption(
          { deployment: paused, tenant: tenant({ status: 'Suspended' }) },
          { deploymentId, by: 'bob' },
        ),
      'invalid_state',
    );
  });

  describe('manual rollback', function () {
    it('stops a running deployment and frees the config', function () {
      const write = decideRollback(
        { deployment: history(deploymentDecider, [start]), tenant: tenant(), config: held() },
        { deploymentId, reason: 'errors' },
      );
      expect(types(write.config)).to.deep.equal(['ConfigurationDeploymentEnded']);
      expect(write.deployment[0]!.data).to.include({ automatic: false, restoredVersion: null });
    });

    it('reverts a completed deployment as a new version, where direct writes are allowed', function () {
      const completed = decidePromotion(
        { deployment: history(deploymentDecider, [start]), tenant: tenant(), config: held() },
        deploymentId,
      );
      const after = completed.deployment.reduce(
        deploymentDecider.evolve,
        history(deploymentDecider, [start]),
      );
      // The config as the completion left it: version 2 holds the deployed value.
      const cfg = config({ key, environment, values: ['old', 'new'] });
      const write = decideRollback(
        { deployment: after, tenant: tenant(), config: cfg },
        { deploymentId, reason: 'bad' },
      );
      expect(types(write.config)).to.deep.equal(['ConfigurationRolledBack']);
      expect(write.config[0]!.data).to.include({ version: 3, value: 'old', toVersion: 1 });
      expect(write.deployment[0]!.data).to.include({ restoredVersion: 1 });
      refused(
        () =>
          decideRollback(
            { deployment: after, tenant: tenant({ policy: { Staging: 1 } }), config: cfg },
            { deploymentId, reason: 'bad' },
          ),
        'approval_required',
        'environment',
      );
    });

    it('refuses to revert a deployment that created the configuration', function () {
      const created = history(deploymentDecider, [
        {
          ...start,
          data: { ...start.data, baseVersion: 0, previousValue: null },
        } as DeploymentCommand,
        { type: 'CompleteDeployment', data: { deploymentId, version: 1, promoted: true } },
      ]);
      refused(
        () =>
          decideRollback(
            { deployment: created, tenant: tenant(), config: config({ key, environment }) },
            { deploymentId, reason: 'bad' },
          ),
        'invalid_state',
      );
    });
  });
});
