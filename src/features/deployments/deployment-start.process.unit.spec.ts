import { expect } from 'chai';
import { config, refused, tenant, types } from '../../core/testing/domain-fixtures.js';
import type { ConfigurationState } from '../configs/config.decider.js';
import { decideDirectDeployment } from './deployment-start.process.js';
import type { RolloutPlan } from './deployment.decider.js';

const direct: RolloutPlan = {
  strategy: 'Direct',
  steps: [100],
  bakeTimeSeconds: 0,
  errorThreshold: 1,
  minRequests: 0,
};
const canary: RolloutPlan = {
  strategy: 'Canary',
  steps: [10, 100],
  bakeTimeSeconds: 60,
  errorThreshold: 0.1,
  minRequests: 20,
};
const live = () => config({ values: ['old'] }) as Extract<ConfigurationState, { exists: true }>;
const start = (
  overrides: { value?: unknown; rollout?: RolloutPlan; expectedVersion?: number } = {},
) => ({
  deploymentId: 'dep_1',
  value: 'new',
  rollout: direct,
  deployedBy: 'alice',
  ...overrides,
});

describe('deployment start (process)', function () {
  it('completes a Direct deployment in the same write as its start', function () {
    const write = decideDirectDeployment(tenant(), live(), start());
    expect(write.value).to.equal('new');
    expect(types(write.deployment)).to.deep.equal(['DeploymentStarted', 'DeploymentCompleted']);
    expect(types(write.config)).to.deep.equal([
      'ConfigurationDeploymentStarted',
      'ConfigurationUpdated',
      'ConfigurationDeploymentEnded',
    ]);
  });

  it('holds the config for a canary, its version unchanged', function () {
    const write = decideDirectDeployment(tenant(), live(), start({ rollout: canary }));
    expect(types(write.deployment)).to.deep.equal(['DeploymentStarted']);
    expect(types(write.config)).to.deep.equal(['ConfigurationDeploymentStarted']);
  });

  it('refuses a stale version, the current value, a held config, a protected environment', function () {
    refused(
      () => decideDirectDeployment(tenant(), live(), start({ expectedVersion: 2 })),
      'version_conflict',
      'expectedVersion',
    );
    refused(
      () => decideDirectDeployment(tenant(), live(), start({ value: 'old' })),
      'validation',
      'value',
    );
    const held = config({ values: ['old'], heldBy: 'dep_0' }) as Extract<
      ConfigurationState,
      { exists: true }
    >;
    refused(() => decideDirectDeployment(tenant(), held, start()), 'invalid_state');
    refused(
      () => decideDirectDeployment(tenant({ policy: { Staging: 1 } }), live(), start()),
      'approval_required',
    );
    refused(
      () => decideDirectDeployment(tenant({ status: 'Suspended' }), live(), start()),
      'invalid_state',
    );
  });
});
