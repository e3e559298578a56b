import { expect } from 'chai';
import {
  config,
  history,
  limits,
  refused,
  tenant,
  TENANT,
  types,
} from '../../core/testing/domain-fixtures.js';
import type { ConfigurationState } from '../configs/config.decider.js';
import type { TenantState } from '../tenants/tenant.decider.js';
import { changeRequestDecider, type ApprovalState } from './change-request.decider.js';
import { decideSubmission, type ChangeRequestInput } from './change-request-submit.process.js';
import { decideApproval } from './change-request-approval.process.js';

const now = new Date('2030-01-01T00:00:00.000Z');
const direct = {
  strategy: 'Direct',
  steps: [100],
  bakeTimeSeconds: 0,
  errorThreshold: 1,
  minRequests: 0,
} as const;
const canary = { ...direct, strategy: 'Canary', steps: [10, 100], errorThreshold: 0.1 } as const;
const expiry = {
  approvalExpiryMs: 86_400_000,
  approvalMinExpiryMs: 60_000,
  approvalMaxExpiryMs: 604_800_000,
};

/** Given: a request submitted by alice against the config and tenant as they are. */
function requested(
  cfg: ConfigurationState,
  overrides: Partial<ChangeRequestInput> = {},
  t: TenantState = tenant({ configs: cfg.exists ? [cfg] : [] }),
): ApprovalState {
  const events = decideSubmission(
    { tenant: t, config: cfg },
    {
      tenantId: TENANT,
      key: 'feature.flag',
      environment: 'Production',
      value: 'on',
      rollout: { ...direct, steps: [100] },
      ...overrides,
    },
    { approvalId: 'apr_0001', requestedBy: 'alice', now, limits: expiry },
  );
  return events.reduce(changeRequestDecider.evolve, changeRequestDecider.initialState());
}

const approve = (
  s: { approval: ApprovalState; config: ConfigurationState; tenant: TenantState },
  approver = 'bob',
) =>
  decideApproval(
    s,
    { approvalId: 'apr_0001', approver, comments: null, now: new Date('2030-01-01T01:00:00Z') },
    limits,
  );

const live = () => config({ environment: 'Production', values: ['off'] });
const registered = (cfg: ConfigurationState) => tenant({ configs: cfg.exists ? [cfg] : [] });

describe('change request approval (process)', function () {
  it('records an approval that is not the last one needed, and nothing else', function () {
    const cfg = live();
    const t = tenant({
      configs: [{ key: 'feature.flag', environment: 'Production' }],
      policy: { Production: 2 },
    });
    const write = approve({ approval: requested(cfg, {}, t), config: cfg, tenant: t });
    expect(write.approved).to.equal(false);
    expect(types(write.approval)).to.deep.equal(['ApprovalGranted']);
    expect([...write.config, ...write.tenant, ...write.deployment]).to.deep.equal([]);
  });

  it('applies a Direct update with the last approval: new version, deployment started and completed', function () {
    const cfg = live();
    const write = approve({ approval: requested(cfg), config: cfg, tenant: registered(cfg) });
    expect(write.approved).to.equal(true);
    expect(types(write.approval)).to.deep.equal(['ApprovalGranted', 'ApprovalApproved']);
    expect(types(write.config)).to.deep.equal([
      'ConfigurationDeploymentStarted',
      'ConfigurationUpdated',
      'ConfigurationDeploymentEnded',
    ]);
    expect(write.config[1]!.data).to.include({ version: 2, value: 'on' });
    expect(types(write.deployment)).to.deep.equal(['DeploymentStarted', 'DeploymentCompleted']);
    expect(write.deployment[0]!.data).to.include({
      deploymentId: 'dep_0001',
      approvalId: 'apr_0001',
      deployedBy: 'bob',
    });
  });

  it('starts a canary with the last approval: the config is held, its version unchanged', function () {
    const cfg = live();
    const write = approve({
      approval: requested(cfg, { rollout: { ...canary, steps: [10, 100] } }),
      config: cfg,
      tenant: registered(cfg),
    });
    expect(types(write.config)).to.deep.equal(['ConfigurationDeploymentStarted']);
    expect(types(write.deployment)).to.deep.equal(['DeploymentStarted']);
  });

  it('creates a new key on approval, registering it with its tenant (quota)', function () {
    const none: ConfigurationState = { exists: false };
    const approval = requested(none, { type: 'String' });
    const write = approve({ approval, config: none, tenant: tenant() });
    expect(types(write.tenant)).to.deep.equal(['ConfigurationRegistered']);
    expect(types(write.config)).to.deep.equal(['ConfigurationCreated']);
    expect(types(write.deployment)).to.deep.equal(['DeploymentStarted', 'DeploymentCompleted']);
    const full = tenant({ maxConfigurations: 0 });
    refused(() => approve({ approval, config: none, tenant: full }), 'quota_exceeded');
  });

  it('deletes on approval of a Delete, freeing the quota slot; nothing deployed', function () {
    const cfg = live();
    const write = approve({
      approval: requested(cfg, { action: 'Delete', value: undefined }),
      config: cfg,
      tenant: registered(cfg),
    });
    expect(types(write.config)).to.deep.equal(['ConfigurationDeleted']);
    expect(types(write.tenant)).to.deep.equal(['ConfigurationReleased']);
    expect(write.deployment).to.deep.equal([]);
  });

  it('refuses a request the config moved away from (stale), and self-approval', function () {
    const cfg = live();
    const approval = requested(cfg);
    const moved = config({ environment: 'Production', values: ['off', 'maybe'] });
    refused(() => approve({ approval, config: moved, tenant: registered(cfg) }), 'stale');
    refused(
      () => approve({ approval, config: cfg, tenant: registered(cfg) }, 'alice'),
      'forbidden',
      'approver',
    );
  });

  it('carries nothing out for a suspended tenant', function () {
    const cfg = live();
    const approval = requested(cfg);
    const suspended = tenant({
      configs: [{ key: 'feature.flag', environment: 'Production' }],
      status: 'Suspended',
    });
    refused(() => approve({ approval, config: cfg, tenant: suspended }), 'invalid_state');
  });

  it('is refused for a request that does not exist', function () {
    const cfg = live();
    const approval = history(changeRequestDecider, []) as ApprovalState;
    refused(() => approve({ approval, config: cfg, tenant: registered(cfg) }), 'not_found');
  });
});
