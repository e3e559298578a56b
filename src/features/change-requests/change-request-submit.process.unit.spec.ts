import { expect } from 'chai';
import { config, refused, tenant, TENANT, types } from '../../core/testing/domain-fixtures.js';
import type { ConfigurationState } from '../configs/config.decider.js';
import type { TenantState } from '../tenants/tenant.decider.js';
import {
  decideSubmission,
  proposalHasSchema,
  type ChangeRequestInput,
} from './change-request-submit.process.js';

const direct = {
  strategy: 'Direct',
  steps: [100],
  bakeTimeSeconds: 0,
  errorThreshold: 1,
  minRequests: 0,
} as const;
const canary = { ...direct, strategy: 'Canary', steps: [10, 100] } as const;
const now = new Date('2030-01-01T00:00:00.000Z');
const limits = {
  approvalExpiryMs: 86_400_000,
  approvalMinExpiryMs: 60_000,
  approvalMaxExpiryMs: 604_800_000,
};
const input = (overrides: Partial<ChangeRequestInput> = {}): ChangeRequestInput => ({
  tenantId: TENANT,
  key: 'feature.flag',
  environment: 'Production',
  value: 'on',
  rollout: { ...direct, steps: [100] },
  ...overrides,
});
const submit = (
  given: { tenant?: TenantState; config?: ConfigurationState },
  request: ChangeRequestInput,
) =>
  decideSubmission(
    { tenant: given.tenant ?? tenant(), config: given.config ?? { exists: false } },
    request,
    { approvalId: 'apr_0123', requestedBy: 'alice', now, limits },
  );
const live = () => config({ environment: 'Production', values: ['off'] });
const dataOf = (events: { data: unknown }[]) => events[0]!.data as Record<string, unknown>;

describe('change request submission (process)', function () {
  it('records the proposal against the config as it is now, with its deployment id', function () {
    const events = submit({ config: live() }, input({ description: 'turn it on' }));
    expect(types(events)).to.deep.equal(['ApprovalRequested']);
    expect(dataOf(events)).to.include({
      type: 'String',
      action: 'Update',
      proposedValue: 'on',
      currentValue: 'off',
      baseVersion: 1,
      requiredApprovals: 1,
      deploymentId: 'dep_0123',
      expiresAt: '2030-01-02T00:00:00.000Z',
    });
    expect(dataOf(events).newConfig).to.equal(null);
  });

  it('requires the type of a new key, and the existing type of an existing one', function () {
    refused(() => submit({}, input()), 'validation', 'type');
    const created = submit({}, input({ type: 'String', tags: ['a'] }));
    expect(dataOf(created)).to.include({ baseVersion: 0, currentValue: null });
    expect(dataOf(created).newConfig).to.deep.equal({ description: null, tags: ['a'] });
    refused(() => submit({ config: live() }, input({ type: 'Integer' })), 'validation', 'type');
  });

  it('creates a new key directly, never by canary', function () {
    refused(
      () => submit({}, input({ type: 'String', rollout: { ...canary, steps: [10, 100] } })),
      'validation',
      'strategy',
    );
  });

  it('keeps the expiry within its bounds', function () {
    refused(
      () => submit({ config: live() }, input({ expiresInSeconds: 59 })),
      'validation',
      'expiresInSeconds',
    );
    refused(
      () => submit({ config: live() }, input({ expiresInSeconds: 604_801 })),
      'validation',
      'expiresInSeconds',
    );
    const events = submit({ config: live() }, input({ expiresInSeconds: 60 }));
    expect(dataOf(events).expiresAt).to.equal('2030-01-01T00:01:00.000Z');
  });

  it('refuses to delete what does not exist, and anything for a suspended tenant', function () {
    refused(() => submit({}, input({ action: 'Delete' })), 'not_found', 'configId');
    refused(
      () => submit({ tenant: tenant({ status: 'Suspended' }), config: live() }, input()),
      'invalid_state',
    );
    const deletion = submit({ config: live() }, input({ action: 'Delete', value: undefined }));
    expect(dataOf(deletion)).to.include({
      action: 'Delete',
      proposedValue: '',
      deploymentId: null,
    });
  });

  it('asks for at least one approval, more where the policy says so', function () {
    const staging = config({ environment: 'Staging', values: ['off'] });
    expect(
      dataOf(submit({ config: staging }, input({ environment: 'Staging' }))).requiredApprovals,
    ).to.equal(1);
    const strict = tenant({ policy: { Production: 3 } });
    expect(dataOf(submit({ tenant: strict, config: live() }, input())).requiredApprovals).to.equal(
      3,
    );
  });

  it('checks a schema for updates of configs that keep theirs', function () {
    expect(proposalHasSchema(live(), input())).to.equal(true);
    expect(proposalHasSchema(live(), input({ action: 'Delete' }))).to.equal(false);
    expect(proposalHasSchema({ exists: false }, input({ type: 'String' }))).to.equal(false);
    const deleted = config({ environment: 'Production', deleted: true });
    expect(proposalHasSchema(deleted, input({ type: 'Integer' }))).to.equal(false);
    expect(proposalHasSchema(deleted, input())).to.equal(true);
  });
});
