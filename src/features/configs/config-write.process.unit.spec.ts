import { expect } from 'chai';
import {
  config,
  limits,
  refused,
  tenant,
  TENANT,
  types,
} from '../../core/testing/domain-fixtures.js';
import { configIdFor } from './config.decider.js';
import { decideCreate, decideDelete, decideRestore } from './config-write.process.js';

const key = 'feature.flag';
const environment = 'Staging';
const configId = configIdFor(TENANT, environment, key);
const create = {
  tenantId: TENANT,
  key,
  environment,
  type: 'String' as const,
  value: 'v1',
  configId,
};

describe('direct configuration writes (process)', function () {
  it('creates a config and registers it with its tenant, in one write', function () {
    const write = decideCreate(tenant(), { exists: false }, create, limits);
    expect(types(write.config)).to.deep.equal(['ConfigurationCreated']);
    expect(types(write.tenant)).to.deep.equal(['ConfigurationRegistered']);
    expect(write.tenant[0]!.data).to.include({ configId, key, environment });
  });

  it('refuses a key already registered, a full quota, a suspended tenant', function () {
    refused(
      () =>
        decideCreate(
          tenant({ configs: [{ key, environment }] }),
          { exists: false },
          create,
          limits,
        ),
      'already_exists',
      'key',
    );
    refused(
      () => decideCreate(tenant({ maxConfigurations: 0 }), { exists: false }, create, limits),
      'quota_exceeded',
    );
    refused(
      () => decideCreate(tenant({ status: 'Suspended' }), { exists: false }, create, limits),
      'invalid_state',
    );
  });

  it('sends writes to environments that need approval to a change request', function () {
    const error = refused(
      () => decideCreate(tenant({ policy: { Staging: 1 } }), { exists: false }, create, limits),
      'approval_required',
      'environment',
    );
    expect(error.details).to.include({ requiredApprovals: 1 });
  });

  it('deletes a config and frees its quota slot; restores it into the quota again', function () {
    const registered = tenant({ configs: [{ key, environment }] });
    const live = config({ key, environment });
    const deletion = decideDelete(registered, live, { configId });
    expect(types(deletion.config)).to.deep.equal(['ConfigurationDeleted']);
    expect(types(deletion.tenant)).to.deep.equal(['ConfigurationReleased']);
    const deleted = config({ key, environment, deleted: true });
    const restore = decideRestore(tenant(), deleted, { configId }, limits);
    expect(types(restore.config)).to.deep.equal(['ConfigurationRestored']);
    expect(types(restore.tenant)).to.deep.equal(['ConfigurationRegistered']);
    refused(
      () => decideRestore(tenant({ maxConfigurations: 0 }), deleted, { configId }, limits),
      'quota_exceeded',
    );
  });

  it('refuses deleting a config that does not exist, or through a protected environment', function () {
    refused(() => decideDelete(tenant(), { exists: false }, { configId }), 'not_found', 'configId');
    const live = config({ key, environment });
    refused(
      () =>
        decideDelete(tenant({ configs: [{ key, environment }], policy: { Staging: 2 } }), live, {
          configId,
        }),
      'approval_required',
    );
  });
});
