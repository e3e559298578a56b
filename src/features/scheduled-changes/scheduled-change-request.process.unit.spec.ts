import { expect } from 'chai';
import {
  config,
  limits,
  refused,
  tenant,
  TENANT,
  types,
} from '../../core/testing/domain-fixtures.js';
import type { ConfigurationState } from '../configs/config.decider.js';
import type { TenantState } from '../tenants/tenant.decider.js';
import { fold } from '../../core/commands/decider.js';
import {
  changeRequestDecider,
  scheduleIdFor,
  type ApprovalState,
} from '../change-requests/change-request.decider.js';
import {
  decideSubmission,
  type ChangeRequestInput,
} from '../change-requests/change-request-submit.process.js';
import { decideApproval } from '../change-requests/change-request-approval.process.js';
import { scheduledChangeDecider, type ScheduledChangeState } from './scheduled-change.decider.js';
import {
  decideApplyScheduledRequest,
  decideCancelScheduledRequest,
} from './scheduled-change-request.process.js';

const now = new Date('2030-01-01T00:00:00.000Z');
const applyAt = '2030-01-01T06:00:00.000Z';
const at = (iso: string) => new Date(iso);
const direct = {
  strategy: 'Direct' as const,
  steps: [100],
  bakeTimeSeconds: 0,
  errorThreshold: 1,
  minRequests: 0,
};
const expiry = {
  approvalExpiryMs: 86_400_000,
  approvalMinExpiryMs: 60_000,
  approvalMaxExpiryMs: 604_800_000,
};
const production = (values: unknown[] = ['off']) => config({ environment: 'Production', values });
const registered = (cfg: ConfigurationState) => tenant({ configs: cfg.exists ? [cfg] : [] });

/** Given: alice asked for a change at `applyAt` against the config as it is. */
function requested(
  cfg: ConfigurationState,
  overrides: Partial<ChangeRequestInput> = {},
): ApprovalState {
  const events = decideSubmission(
    { tenant: registered(cfg), config: cfg },
    {
      tenantId: TENANT,
      key: 'feature.flag',
      environment: 'Production',
      value: 'on',
      rollout: direct,
      applyAt,
      ...overrides,
    },
    { approvalId: 'apr_0001', requestedBy: 'alice', now, limits: expiry },
  );
  return fold(changeRequestDecider, changeRequestDecider.initialState(), events);
}

/** Given: bob's approval (the last needed) at `when`; the request and its schedule after it. */
function approved(
  cfg: ConfigurationState,
  t: TenantState,
  overrides: Partial<ChangeRequestInput> = {},
  when = at('2030-01-01T01:00:00Z'),
) {
  const write = decideApproval(
    { approval: requested(cfg, overrides), config: cfg, tenant: t },
    { approvalId: 'apr_0001', approver: 'bob', comments: null, now: when },
    limits,
  );
  const approval = fold(changeRequestDecider, requested(cfg, overrides), write.approval);
  const schedule: ScheduledChangeState = fold(
    scheduledChangeDecider,
    scheduledChangeDecider.initialState(),
    write.schedule,
  );
  return { write, approval, schedule };
}

describe('change request with applyAt (process)', function () {
  it('submitted: it expires at applyAt at the latest, and applyAt must leave time to approve', function () {
    const r = requested(production());
    expect(r).to.include({ applyAt, expiresAt: applyAt, status: 'Pending' });
    // A later applyAt keeps the usual expiry.
    const later = requested(production(), { applyAt: '2030-02-01T00:00:00.000Z' });
    expect(later).to.include({ expiresAt: '2030-01-02T00:00:00.000Z' });
    refused(
      () => requested(production(), { applyAt: '2030-01-01T00:00:30.000Z' }),
      'validation',
      'applyAt',
    );
    refused(
      () => requested(production(), { applyAt: '2029-12-31T00:00:00Z' }),
      'validation',
      'applyAt',
    );
  });

  it('approved: schedules it (same id) and writes nothing to the config, tenant or deployment', function () {
    const cfg = production();
    const { write, approval, schedule } = approved(cfg, registered(cfg));
    expect(types(write.approval)).to.deep.equal(['ApprovalGranted', 'ApprovalApproved']);
    expect(types(write.schedule)).to.deep.equal(['ChangeScheduled']);
    expect([...write.config, ...write.tenant, ...write.deployment]).to.deep.equal([]);
    expect(approval).to.include({ status: 'Approved', scheduleId: scheduleIdFor('apr_0001') });
    expect(schedule).to.include({
      scheduleId: 'sch_0001',
      approvalId: 'apr_0001',
      status: 'Pending',
      applyAt,
      baseVersion: 1,
      value: 'on',
    });
  });

  it('approved after applyAt: refused as expired, nothing scheduled', function () {
    const cfg = production();
    refused(() => approved(cfg, registered(cfg), {}, at('2030-01-01T06:00:00Z')), 'invalid_state');
  });

  it('at its time: carried out as the approval would have been (new version, deployment done)', function () {
    const cfg = production();
    const t = registered(cfg);
    const { approval, schedule } = approved(cfg, t);
    const write = decideApplyScheduledRequest(
      { schedule, approval, config: cfg, tenant: t },
      { now: at(applyAt) },
      limits,
    );
    expect(types(write.config)).to.deep.equal([
      'ConfigurationDeploymentStarted',
      'ConfigurationUpdated',
      'ConfigurationDeploymentEnded',
    ]);
    expect(types(write.deployment)).to.deep.equal(['DeploymentStarted', 'DeploymentCompleted']);
    expect(write.deployment[0]!.data).to.include({ deployedBy: 'bob', approvalId: 'apr_0001' });
    expect(types(write.schedule)).to.deep.equal(['ScheduledChangeApplied']);
    expect(write.schedule[0]!.data).to.include({ version: 2, deploymentId: 'dep_0001' });
  });

  it('before its time, or a second time: nothing', function () {
    const cfg = production();
    const t = registered(cfg);
    const { approval, schedule } = approved(cfg, t);
    const early = decideApplyScheduledRequest(
      { schedule, approval, config: cfg, tenant: t },
      { now: at('2030-01-01T05:59:59Z') },
      limits,
    );
    expect(Object.values(early).flat()).to.deep.equal([]);
    const done = fold(scheduledChangeDecider, schedule, [
      {
        type: 'ScheduledChangeApplied',
        data: {
          scheduleId: 'sch_0001',
          tenantId: TENANT,
          configId: cfg.exists ? cfg.configId : '',
          version: 2,
        },
      },
    ]);
    const again = decideApplyScheduledRequest(
      { schedule: done, approval, config: cfg, tenant: t },
      { now: at(applyAt) },
      limits,
    );
    expect(Object.values(again).flat()).to.deep.equal([]);
  });

  it('fails as stale, saying which versions, when the config moved in between', function () {
    const cfg = production();
    const t = registered(cfg);
    const { approval, schedule } = approved(cfg, t);
    const moved = production(['off', 'manual']);
    const write = decideApplyScheduledRequest(
      { schedule, approval, config: moved, tenant: t },
      { now: at(applyAt) },
      limits,
    );
    expect([...write.config, ...write.tenant, ...write.deployment]).to.deep.equal([]);
    expect(types(write.schedule)).to.deep.equal(['ScheduledChangeFailed']);
    expect(write.schedule[0]!.data).to.include({
      reason: 'stale: scheduled against version 1, the configuration is now at version 2',
      currentVersion: 2,
    });
  });

  it('creates a new key at its time; a full quota then fails it instead of retrying', function () {
    const none: ConfigurationState = { exists: false };
    const t = tenant();
    const { approval, schedule } = approved(none, t, { type: 'String' });
    expect(schedule).to.include({ baseVersion: 0 });
    const write = decideApplyScheduledRequest(
      { schedule, approval, config: none, tenant: t },
      { now: at(applyAt) },
      limits,
    );
    expect(types(write.tenant)).to.deep.equal(['ConfigurationRegistered']);
    expect(types(write.config)).to.deep.equal(['ConfigurationCreated']);
    expect(write.schedule[0]!.data).to.include({ version: 1 });
    const full = decideApplyScheduledRequest(
      { schedule, approval, config: none, tenant: tenant({ maxConfigurations: 0 }) },
      { now: at(applyAt) },
      limits,
    );
    expect(types(full.schedule)).to.deep.equal(['ScheduledChangeFailed']);
    expect([...full.config, ...full.tenant]).to.deep.equal([]);
  });

  it('deletes at its time; a canary starts (no version yet); a suspended tenant fails it', function () {
    const cfg = production();
    const t = registered(cfg);
    const del = approved(cfg, t, { action: 'Delete', value: undefined });
    const deleted = decideApplyScheduledRequest(
      { schedule: del.schedule, approval: del.approval, config: cfg, tenant: t },
      { now: at(applyAt) },
      limits,
    );
    expect(types(deleted.config)).to.deep.equal(['ConfigurationDeleted']);
    expect(types(deleted.tenant)).to.deep.equal(['ConfigurationReleased']);
    const canary = approved(cfg, t, {
      rollout: { ...direct, strategy: 'Canary' as const, steps: [10, 100], errorThreshold: 0.1 },
    });
    const started = decideApplyScheduledRequest(
      { schedule: canary.schedule, approval: canary.approval, config: cfg, tenant: t },
      { now: at(applyAt) },
      limits,
    );
    expect(types(started.config)).to.deep.equal(['ConfigurationDeploymentStarted']);
    expect(started.schedule[0]!.data).to.include({ version: null, deploymentId: 'dep_0001' });
    const suspended = tenant({
      configs: [{ key: 'feature.flag', environment: 'Production' }],
      status: 'Suspended',
    });
    const held = decideApplyScheduledRequest(
      { schedule: canary.schedule, approval: canary.approval, config: cfg, tenant: suspended },
      { now: at(applyAt) },
      limits,
    );
    expect(types(held.schedule)).to.deep.equal(['ScheduledChangeFailed']);
    expect(held.schedule[0]!.data).to.include({ reason: `Tenant '${TENANT}' is Suspended` });
  });

  it('cancelled before its time: request and schedule end together; not once applied', function () {
    const cfg = production();
    const t = registered(cfg);
    const { approval, schedule } = approved(cfg, t);
    const write = decideCancelScheduledRequest(
      { schedule, approval },
      { approvalId: 'apr_0001', by: 'dave', comments: 'window moved' },
    );
    expect(types(write.approval)).to.deep.equal(['ApprovalCancelled']);
    expect(types(write.schedule)).to.deep.equal(['ScheduledChangeCancelled']);
    const done = fold(scheduledChangeDecider, schedule, [
      {
        type: 'ScheduledChangeApplied',
        data: { scheduleId: 'sch_0001', tenantId: TENANT, configId: 'x', version: 2 },
      },
    ]);
    refused(
      () =>
        decideCancelScheduledRequest(
          { schedule: done, approval },
          { approvalId: 'apr_0001', by: 'dave', comments: null },
        ),
      'invalid_state',
    );
    // A pending request is cancelled as before (its requester), not through its schedule.
    refused(
      () =>
        decideCancelScheduledRequest(
          { schedule, approval: requested(cfg) },
          { approvalId: 'apr_0001', by: 'alice', comments: null },
        ),
      'invalid_state',
    );
  });
});
