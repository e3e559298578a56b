import { expect } from 'chai';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { webhookMessageOf } from './webhook-events.js';

const recorded = (type: string, data: Record<string, unknown>): RecordedEvent => ({
  id: '00000000-0000-4000-8000-000000000001',
  type,
  data,
  metadata: {
    userId: 'alice',
    timestamp: '2026-12-05T10:00:00.000Z',
    correlationId: 'c',
    schemaVersion: 1,
  },
  streamId: 'config-cfg_1',
  revision: 0n,
  position: 42n,
  recordedAt: new Date('2026-12-05T10:00:01.000Z'),
});

const versioned = {
  configId: 'cfg_1',
  tenantId: 'acme',
  key: 'db.password',
  environment: 'Production',
  type: 'String',
  version: 3,
  value: 's3cret',
  previousValue: 'old',
  changeDescription: null,
};

describe('webhook messages', function () {
  it('a config change names the key, version and who, with its value', function () {
    const m = webhookMessageOf(
      recorded('ConfigurationUpdated', { ...versioned, isSensitive: false }),
    )!;
    expect(m.type).to.equal('config.changed');
    expect(m.payload).to.deep.equal({
      type: 'config.changed',
      timestamp: '2026-12-05T10:00:00.000Z',
      tenantId: 'acme',
      eventId: '00000000-0000-4000-8000-000000000001',
      position: '42',
      data: {
        configId: 'cfg_1',
        key: 'db.password',
        environment: 'Production',
        type: 'String',
        version: 3,
        changeType: 'Updated',
        value: 's3cret',
        changedBy: 'alice',
      },
    });
  });

  it('never carries a sensitive value, nor a previous value', function () {
    for (const type of [
      'ConfigurationCreated',
      'ConfigurationUpdated',
      'ConfigurationRolledBack',
    ]) {
      const m = webhookMessageOf(recorded(type, { ...versioned, isSensitive: true }))!;
      expect(JSON.stringify(m.payload)).to.not.include('s3cret').and.not.include('old');
    }
    const started = webhookMessageOf(
      recorded('DeploymentStarted', {
        deploymentId: 'dep_1',
        tenantId: 'acme',
        configId: 'cfg_1',
        key: 'k',
        environment: 'Production',
        value: 's3cret',
        previousValue: 'old',
        isSensitive: true,
      }),
    )!;
    expect(started.type).to.equal('deployment.started');
    expect(JSON.stringify(started.payload)).to.not.include('s3cret').and.not.include('old');
    const requested = webhookMessageOf(
      recorded('ApprovalRequested', {
        approvalId: 'apr_1',
        tenantId: 'acme',
        proposedValue: 's3cret',
        isSensitive: true,
      }),
    )!;
    expect(requested.type).to.equal('change-request.opened');
    expect(JSON.stringify(requested.payload)).to.not.include('s3cret');
  });

  it('maps change request and deployment events to their types; others to none', function () {
    const of = (type: string) =>
      webhookMessageOf(recorded(type, { tenantId: 'acme', approvalId: 'a', deploymentId: 'd' }))
        ?.type;
    expect(of('ApprovalApproved')).to.equal('change-request.approved');
    expect(of('ApprovalRejected')).to.equal('change-request.rejected');
    expect(of('ApprovalExpired')).to.equal('change-request.expired');
    expect(of('DeploymentStepAdvanced')).to.equal('deployment.step');
    expect(of('DeploymentCompleted')).to.equal('deployment.completed');
    expect(of('DeploymentRolledBack')).to.equal('deployment.rolled-back');
    expect(of('ApprovalGranted')).to.equal(undefined);
    expect(of('DeploymentMetricsReported')).to.equal(undefined);
    expect(of('ConfigurationDeploymentStarted')).to.equal(undefined);
    expect(webhookMessageOf(recorded('TenantCreated', { name: 'x' }))).to.equal(undefined);
  });

  it('sends a change set awaiting approval as a change request, never its values', function () {
    const set = { changeSetId: 'cs_1', tenantId: 'acme' };
    const opened = webhookMessageOf(
      recorded('ChangeSetRequested', {
        ...set,
        environment: 'Production',
        source: 'Promotion',
        fromEnvironment: 'Staging',
        description: null,
        items: [{ key: 'db.password', action: 'Update', value: 's3cret', currentValue: 'old' }],
        requestedBy: 'alice',
        requiredApprovals: 1,
        expiresAt: '2026-12-08T10:00:00.000Z',
      }),
    )!;
    expect(opened.type).to.equal('change-request.opened');
    expect(opened.payload.data).to.deep.include({
      changeSetId: 'cs_1',
      keys: [{ key: 'db.password', action: 'Update' }],
      requiredApprovals: 1,
    });
    expect(JSON.stringify(opened.payload)).to.not.include('s3cret').and.not.include('old');
    const of = (type: string, data: Record<string, unknown> = {}) =>
      webhookMessageOf(recorded(type, { ...set, ...data }))?.type;
    // Applied at once (no approval needed): its keys' config.changed say it all.
    expect(of('ChangeSetRequested', { requiredApprovals: 0 })).to.equal(undefined);
    expect(of('ChangeSetApplied', { appliedBy: 'alice' })).to.equal(undefined);
    expect(of('ChangeSetApplied', { appliedBy: 'bob', approved: true })).to.equal(
      'change-request.approved',
    );
    expect(of('ChangeSetRejected')).to.equal('change-request.rejected');
    expect(of('ChangeSetCancelled')).to.equal('change-request.cancelled');
    expect(of('ChangeSetExpired')).to.equal('change-request.expired');
    expect(of('ChangeSetApprovalGranted')).to.equal(undefined);
  });
});
