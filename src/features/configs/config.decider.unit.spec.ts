import { expect } from 'chai';
import {
  configIdFor,
  decideCreateConfig,
  decideDeleteConfig,
  decideRestoreConfig,
  decideRollbackConfig,
  decideUpdateConfig,
  evolveConfiguration,
  initialConfigurationState,
  type ConfigAttributes,
  type ConfigurationEvent,
  type ConfigurationState,
  type CreateConfig,
} from './config.decider.js';
import { DomainError } from '../../core/domain-error.js';
import { givenFor } from '../../core/testing/given-when-then.js';
import { normaliseValue, type ConfigType } from './config-values.js';

const given = givenFor(evolveConfiguration, initialConfigurationState);

const tenantId = 'acme';
const environment = 'production';
const key = 'checkout.timeout';
const configId = configIdFor(tenantId, environment, key);
const identity = { configId, tenantId, key, environment };

// Event builders: the version is the version the event produces.
const created = (
  value: string,
  extra: Partial<
    ConfigAttributes & {
      version: number;
      previousValue: string | null;
      changeDescription: string | null;
    }
  > = {},
): ConfigurationEvent => ({
  type: 'ConfigurationCreated',
  data: {
    ...identity,
    type: 'String',
    value,
    previousValue: null,
    version: 1,
    description: null,
    tags: [],
    isSensitive: false,
    defaultValue: null,
    schemaId: null,
    changeDescription: null,
    ...extra,
  },
});
type Extra = { type?: ConfigType; isSensitive?: boolean; changeDescription?: string | null };
const updated = (
  version: number,
  value: string,
  previousValue: string,
  extra: Extra & { description?: string | null; tags?: string[] } = {},
): ConfigurationEvent => ({
  type: 'ConfigurationUpdated',
  data: {
    ...identity,
    type: 'String',
    version,
    value,
    previousValue,
    changeDescription: null,
    isSensitive: false,
    ...extra,
  },
});
const rolledBack = (
  version: number,
  value: string,
  previousValue: string,
  toVersion: number,
  extra: Extra = {},
): ConfigurationEvent => ({
  type: 'ConfigurationRolledBack',
  data: {
    ...identity,
    type: 'String',
    version,
    value,
    previousValue,
    toVersion,
    changeDescription: `Rolled back to version ${toVersion}`,
    isSensitive: false,
    ...extra,
  },
});
const deleted = (version: number, value: string, extra: Extra = {}): ConfigurationEvent => ({
  type: 'ConfigurationDeleted',
  data: {
    ...identity,
    type: 'String',
    version,
    value,
    previousValue: value,
    changeDescription: null,
    isSensitive: false,
    ...extra,
  },
});
const restored = (version: number, value: string, extra: Extra = {}): ConfigurationEvent => ({
  type: 'ConfigurationRestored',
  data: {
    ...identity,
    type: 'String',
    version,
    value,
    previousValue: value,
    changeDescription: null,
    isSensitive: false,
    ...extra,
  },
});

const create =
  (cmd: Partial<CreateConfig> = {}) =>
  (state: ConfigurationState) =>
    decideCreateConfig(state, { tenantId, environment, key, type: 'String', value: 'a', ...cmd });

/** a → b → c at versions 1, 2, 3. */
const threeVersions = [created('a'), updated(2, 'b', 'a'), updated(3, 'c', 'b')];

describe('configuration: configIdFor', () => {
  it('is deterministic', () => {
    expect(configIdFor('acme', 'production', 'k')).to.equal(configIdFor('acme', 'production', 'k'));
  });

  it("is 'cfg_' and 32 hex digits, at most 50 characters even for long inputs", () => {
    const long = 'x'.repeat(1000);
    for (const id of [
      configIdFor('a', 'b', 'c'),
      configIdFor(long, long, long),
      configIdFor('', '', ''),
    ]) {
      expect(id).to.match(/^cfg_[0-9a-f]{32}$/);
      expect(id.length).to.be.at.most(50);
    }
  });

  it('differs when the tenant, the environment or the key differs', () => {
    const ids = new Set([
      configIdFor('acme', 'production', 'k'),
      configIdFor('other', 'production', 'k'),
      configIdFor('acme', 'staging', 'k'),
      configIdFor('acme', 'production', 'k2'),
      configIdFor('acme', 'k', 'production'),
      configIdFor('production', 'acme', 'k'),
      configIdFor('acmeproduction', '', 'k'),
    ]);
    expect(ids.size).to.equal(7);
  });
});

describe('configuration: create', () => {
  it('creates version 1 with the defaults', () => {
    const state = given([])
      .when(create({ value: 'a' }))
      .then([created('a')]);
    expect(state).to.deep.equal({
      exists: true,
      deleted: false,
      ...identity,
      type: 'String',
      description: null,
      tags: [],
      isSensitive: false,
      isEncrypted: false,
      defaultValue: null,
      schemaId: null,
      version: 1,
      value: 'a',
      values: ['a'],
      activeDeploymentId: null,
    });
  });

  it('an encrypted config is sensitive, flags every value event, and stays encrypted', () => {
    const [event] = decideCreateConfig(initialConfigurationState(), {
      tenantId: 't1',
      environment: 'dev',
      key: 'db.password',
      type: 'String',
      value: 'p',
      isEncrypted: true,
    });
    expect(event!.data).to.include({ isEncrypted: true, isSensitive: true });
    const state = evolveConfiguration(initialConfigurationState(), event!);
    const [updated] = decideUpdateConfig(state, {
      configId: event!.data.configId,
      expectedVersion: 1,
      value: 'q',
    });
    expect(updated!.data).to.include({ isEncrypted: true, isSensitive: true });
    expect(() =>
      decideUpdateConfig(state, {
        configId: event!.data.configId,
        expectedVersion: 1,
        isSensitive: false,
      }),
    ).to.throw(DomainError, /always sensitive/);
    // Deleted and created again without asking: still encrypted (its history is).
    const [deleted] = decideDeleteConfig(state, { configId: event!.data.configId });
    const gone = evolveConfiguration(state, deleted!);
    expect(deleted!.data).to.include({ isEncrypted: true });
    const [again] = decideCreateConfig(gone, {
      tenantId: 't1',
      environment: 'dev',
      key: 'db.password',
      type: 'String',
      value: 'r',
    });
    expect(again!.data).to.include({ isEncrypted: true, isSensitive: true });
  });

  it('derives the configId from tenant, environment and key', () => {
    const [event] = decideCreateConfig(initialConfigurationState(), {
      tenantId: 't1',
      environment: 'dev',
      key: 'k1',
      type: 'String',
      value: 'v',
    });
    expect(event!.data.configId).to.equal(configIdFor('t1', 'dev', 'k1'));
  });

  it('records every attribute the command gives', () => {
    given([])
      .when(
        create({
          type: 'Integer',
          value: 30,
          description: 'Checkout timeout in seconds',
          tags: ['checkout', 'timeouts'],
          isSensitive: true,
          defaultValue: 10,
          schemaId: 'schema-1',
          changeDescription: 'initial',
        }),
      )
      .then([
        created('30', {
          type: 'Integer',
          description: 'Checkout timeout in seconds',
          tags: ['checkout', 'timeouts'],
          isSensitive: true,
          defaultValue: '10',
          schemaId: 'schema-1',
          changeDescription: 'initial',
        }),
      ]);
  });

  it('normalises the value and the default value for the type', () => {
    given([])
      .when(create({ type: 'Integer', value: ' 42 ', defaultValue: '7' }))
      .then([created('42', { type: 'Integer', defaultValue: '7' })]);
    given([])
      .when(create({ type: 'Boolean', value: true, defaultValue: 'FALSE' }))
      .then([created('true', { type: 'Boolean', defaultValue: 'false' })]);
    given([])
      .when(create({ type: 'JSON', value: { b: [1, 2], a: null } }))
      .then([created('{"b":[1,2],"a":null}', { type: 'JSON' })]);
    given([])
      .when(create({ type: 'Number', value: '1e3' }))
      .then([created('1000', { type: 'Number' })]);
  });

  it('treats a null default value as none', () => {
    given([])
      .when(create({ defaultValue: null }))
      .then([created('a')]);
  });

  it("refuses a value that does not fit the type, naming 'value'", () => {
    given([])
      .when(create({ type: 'Integer', value: 'abc' }))
      .thenRefused('validation', 'value');
  });

  it("refuses a default value that does not fit the type, naming 'defaultValue'", () => {
    given([])
      .when(create({ type: 'Boolean', value: true, defaultValue: 'maybe' }))
      .thenRefused('validation', 'defaultValue');
  });

  it('refuses a key that already exists', () => {
    given([created('a')])
      .when(create({ value: 'b' }))
      .thenRefused('already_exists', 'key', { configId });
  });

  it('refuses a key that was deleted and restored', () => {
    given([created('a'), deleted(2, 'a'), restored(3, 'a')])
      .when(create({ value: 'b' }))
      .thenRefused('already_exists', 'key', { configId });
  });

  it('checks existence before validating the value', () => {
    given([created('a')])
      .when(create({ type: 'Integer', value: 'abc' }))
      .thenRefused('already_exists', 'key');
  });

  it('continues the version history when a deleted key is created again', () => {
    const state = given([created('a'), updated(2, 'b', 'a'), deleted(3, 'b')])
      .when(create({ value: 'c', description: 'again' }))
      .then([created('c', { version: 4, previousValue: 'b', description: 'again' })]);
    expect(state).to.deep.include({
      deleted: false,
      version: 4,
      value: 'c',
      values: ['a', 'b', 'b', 'c'],
      description: 'again',
    });
  });

  it('takes the attributes of the new creation, not the deleted one', () => {
    const state = given([
      created('a', { description: 'old', tags: ['x'], isSensitive: true }),
      deleted(2, 'a', { isSensitive: true }),
    ])
      .when(create({ type: 'Integer', value: 5 }))
      .then([created('5', { type: 'Integer', version: 3, previousValue: 'a' })]);
    expect(state).to.deep.include({
      type: 'Integer',
      description: null,
      tags: [],
      isSensitive: false,
    });
  });
});

describe('configuration: update', () => {
  it('records a new value as the next version', () => {
    const state = given([created('a')])
      .when((s) =>
        decideUpdateConfig(s, {
          configId,
          expectedVersion: 1,
          value: 'b',
          changeDescription: 'why',
        }),
      )
      .then([
        {
          type: 'ConfigurationUpdated',
          data: {
            ...identity,
            type: 'String',
            version: 2,
            value: 'b',
            previousValue: 'a',
            changeDescription: 'why',
            isSensitive: false,
          },
        },
      ]);
    expect(state).to.deep.include({ version: 2, value: 'b', values: ['a', 'b'] });
  });

  it("normalises the value with the configuration's type", () => {
    given([created('5', { type: 'Integer' })])
      .when((s) => decideUpdateConfig(s, { configId, expectedVersion: 1, value: ' 8 ' }))
      .then([updated(2, '8', '5', { type: 'Integer' })]);
  });

  it("refuses a value that does not fit the configuration's type", () => {
    given([created('5', { type: 'Integer' })])
      .when((s) => decideUpdateConfig(s, { configId, expectedVersion: 1, value: 'eight' }))
      .thenRefused('validation', 'value');
  });

  it('requires an expected version', () => {
    given(threeVersions)
      .when((s) => decideUpdateConfig(s, { configId, expectedVersion: undefined, value: 'd' }))
      .thenRefused('precondition_required', 'expectedVersion', { currentVersion: 3 });
  });

  it('requires an expected version even when nothing would change', () => {
    given([created('a')])
      .when((s) => decideUpdateConfig(s, { configId, expectedVersion: undefined }))
      .thenRefused('precondition_required', 'expectedVersion', { currentVersion: 1 });
  });

  it('refuses a stale expected version, reporting the current version', () => {
    const error = given(threeVersions)
      .when((s) => decideUpdateConfig(s, { configId, expectedVersion: 2, value: 'd' }))
      .thenRefused('version_conflict', 'expectedVersion', { currentVersion: 3 });
    expect(error.details?.currentVersion).to.equal(3);
  });

  it('refuses an expected version from the future', () => {
    given(threeVersions)
      .when((s) => decideUpdateConfig(s, { configId, expectedVersion: 4, value: 'd' }))
      .thenRefused('version_conflict', 'expectedVersion', { currentVersion: 3 });
  });

  it('checks the version before validating the value', () => {
    given([created('5', { type: 'Integer' })])
      .when((s) => decideUpdateConfig(s, { configId, expectedVersion: 0, value: 'eight' }))
      .thenRefused('version_conflict', 'expectedVersion');
  });

  it('appends nothing when nothing changes', () => {
    const history = [
      created('true', { type: 'Boolean', description: 'd', tags: ['x', 'y'], isSensitive: true }),
    ];
    for (const cmd of [
      {},
      { value: true },
      { value: ' TRUE ' },
      { description: 'd' },
      { tags: ['x', 'y'] },
      { isSensitive: true },
      { changeDescription: 'only a comment' },
      { value: 'true', description: 'd', tags: ['x', 'y'], isSensitive: true },
    ]) {
      given(history)
        .when((s) => decideUpdateConfig(s, { configId, expectedVersion: 1, ...cmd }))
        .thenNothing();
    }
  });

  it('records a description change without a value change', () => {
    const state = given([created('a', { description: 'old' })])
      .when((s) => decideUpdateConfig(s, { configId, expectedVersion: 1, description: 'new' }))
      .then([updated(2, 'a', 'a', { description: 'new' })]);
    expect(state).to.deep.include({ description: 'new', value: 'a', version: 2 });
  });

  it('clears the description with null', () => {
    const state = given([created('a', { description: 'old' })])
      .when((s) => decideUpdateConfig(s, { configId, expectedVersion: 1, description: null }))
      .then([updated(2, 'a', 'a', { description: null })]);
    expect(state).to.include({ description: null });
  });

  it('records a tags change', () => {
    const state = given([created('a', { tags: ['x'] })])
      .when((s) => decideUpdateConfig(s, { configId, expectedVersion: 1, tags: ['x', 'y'] }))
      .then([updated(2, 'a', 'a', { tags: ['x', 'y'] })]);
    expect(state).to.deep.include({ tags: ['x', 'y'] });
  });

  it('records an isSensitive change', () => {
    const state = given([created('a')])
      .when((s) => decideUpdateConfig(s, { configId, expectedVersion: 1, isSensitive: true }))
      .then([updated(2, 'a', 'a', { isSensitive: true })]);
    expect(state).to.include({ isSensitive: true });
  });

  it('keeps description, tags and isSensitive that a value update does not mention', () => {
    const state = given([created('a', { description: 'd', tags: ['x'], isSensitive: true })])
      .when((s) => decideUpdateConfig(s, { configId, expectedVersion: 1, value: 'b' }))
      .then([updated(2, 'b', 'a', { isSensitive: true })]);
    expect(state).to.deep.include({ description: 'd', tags: ['x'], isSensitive: true });
  });

  it('records several changes in one event', () => {
    given([created('a')])
      .when((s) =>
        decideUpdateConfig(s, {
          configId,
          expectedVersion: 1,
          value: 'b',
          description: 'd',
          tags: ['t'],
          isSensitive: true,
        }),
      )
      .then([updated(2, 'b', 'a', { description: 'd', tags: ['t'], isSensitive: true })]);
  });

  it('refuses an unknown configuration', () => {
    given([])
      .when((s) => decideUpdateConfig(s, { configId, expectedVersion: 1, value: 'b' }))
      .thenRefused('not_found', 'configId');
  });

  it('refuses a deleted configuration', () => {
    given([created('a'), deleted(2, 'a')])
      .when((s) => decideUpdateConfig(s, { configId, expectedVersion: 2, value: 'b' }))
      .thenRefused('not_found', 'configId');
  });

  it('updates a restored configuration at its new version', () => {
    given([created('a'), deleted(2, 'a'), restored(3, 'a')])
      .when((s) => decideUpdateConfig(s, { configId, expectedVersion: 3, value: 'b' }))
      .then([updated(4, 'b', 'a')]);
  });
});

describe('configuration: rollback', () => {
  it('records the old value as a new version', () => {
    const state = given(threeVersions)
      .when((s) => decideRollbackConfig(s, { configId, toVersion: 1 }))
      .then([rolledBack(4, 'a', 'c', 1)]);
    expect(state).to.deep.include({
      version: 4,
      value: 'a',
      values: ['a', 'b', 'c', 'a'],
      deleted: false,
    });
  });

  it('records the change description it is given', () => {
    given(threeVersions)
      .when((s) =>
        decideRollbackConfig(s, { configId, toVersion: 2, changeDescription: 'bad deploy' }),
      )
      .then([rolledBack(4, 'b', 'c', 2, { changeDescription: 'bad deploy' })]);
  });

  it('keeps the current isSensitive flag', () => {
    given([created('a', { isSensitive: true }), updated(2, 'b', 'a', { isSensitive: true })])
      .when((s) => decideRollbackConfig(s, { configId, toVersion: 1 }))
      .then([rolledBack(3, 'a', 'b', 1, { isSensitive: true })]);
  });

  it('checks the expected version when one is given', () => {
    given(threeVersions)
      .when((s) => decideRollbackConfig(s, { configId, toVersion: 1, expectedVersion: 3 }))
      .then([rolledBack(4, 'a', 'c', 1)]);
    given(threeVersions)
      .when((s) => decideRollbackConfig(s, { configId, toVersion: 1, expectedVersion: 2 }))
      .thenRefused('version_conflict', 'expectedVersion', { currentVersion: 3 });
  });

  for (const toVersion of [0, -1, 4, 99, 1.5, Number.NaN]) {
    it(`refuses version ${toVersion} when the configuration is at version 3`, () => {
      const error = given(threeVersions)
        .when((s) => decideRollbackConfig(s, { configId, toVersion }))
        .thenRefused('validation', 'version');
      expect(error.message).to.contain('between 1 and 3');
    });
  }

  it('appends nothing when rolling back to the current version', () => {
    given(threeVersions)
      .when((s) => decideRollbackConfig(s, { configId, toVersion: 3 }))
      .thenNothing();
  });

  it('appends nothing when the old value equals the current value', () => {
    given([created('a'), updated(2, 'b', 'a'), updated(3, 'a', 'b')])
      .when((s) => decideRollbackConfig(s, { configId, toVersion: 1 }))
      .thenNothing();
  });

  it('can roll back to a rollback', () => {
    given([...threeVersions, rolledBack(4, 'a', 'c', 1), updated(5, 'e', 'a')])
      .when((s) => decideRollbackConfig(s, { configId, toVersion: 4 }))
      .then([rolledBack(6, 'a', 'e', 4)]);
  });

  it('refuses an unknown configuration', () => {
    given([])
      .when((s) => decideRollbackConfig(s, { configId, toVersion: 1 }))
      .thenRefused('not_found', 'configId');
  });

  it('refuses a deleted configuration', () => {
    given([...threeVersions, deleted(4, 'c')])
      .when((s) => decideRollbackConfig(s, { configId, toVersion: 1 }))
      .thenRefused('not_found', 'configId');
  });

  it('reaches versions from before a delete and re-create of the same type', () => {
    given([created('a'), deleted(2, 'a'), created('b', { version: 3, previousValue: 'a' })])
      .when((s) => decideRollbackConfig(s, { configId, toVersion: 1 }))
      .then([rolledBack(4, 'a', 'b', 1)]);
  });

  // Regression: a key deleted and created again with another type keeps its old values in the rollback
  // history, and rollback does not check them against the current type. Reproduction:
  //   created('hello', type String) v1, deleted v2, created('5', type Integer) v3,
  //   decideRollbackConfig(state, { configId, toVersion: 1 })
  // returns ConfigurationRolledBack { version: 4, value: 'hello' } for an Integer configuration
  // (typedValue('Integer', 'hello') is NaN on the read path). Expected: refused ('validation').
  it('never rolls back to a value that does not fit the current type', () => {
    const history = [
      created('hello', { type: 'String' }),
      deleted(2, 'hello'),
      created('5', { type: 'Integer', version: 3, previousValue: 'hello' }),
    ];
    let events: ConfigurationEvent[] = [];
    let failure: unknown;
    try {
      events = decideRollbackConfig(given(history).state, { configId, toVersion: 1 });
    } catch (error) {
      failure = error;
    }
    for (const event of events) {
      const value = (event.data as { value: string }).value;
      expect(() => normaliseValue('Integer', value), value).not.to.throw();
    }
    expect(failure, 'expected the rollback to be refused').to.be.instanceOf(DomainError);
    expect((failure as DomainError).code).to.equal('validation');
  });
});

describe('configuration: delete', () => {
  it('records the deletion as the next version, keeping the value', () => {
    const state = given(threeVersions)
      .when((s) => decideDeleteConfig(s, { configId }))
      .then([deleted(4, 'c')]);
    expect(state).to.deep.include({
      deleted: true,
      version: 4,
      value: 'c',
      values: ['a', 'b', 'c', 'c'],
    });
  });

  it('carries the isSensitive flag', () => {
    given([created('s3cret', { isSensitive: true })])
      .when((s) => decideDeleteConfig(s, { configId }))
      .then([deleted(2, 's3cret', { isSensitive: true })]);
  });

  it('checks the expected version when one is given', () => {
    given(threeVersions)
      .when((s) => decideDeleteConfig(s, { configId, expectedVersion: 3 }))
      .then([deleted(4, 'c')]);
    given(threeVersions)
      .when((s) => decideDeleteConfig(s, { configId, expectedVersion: 1 }))
      .thenRefused('version_conflict', 'expectedVersion', { currentVersion: 3 });
  });

  it('refuses a configuration that is already deleted', () => {
    given([created('a'), deleted(2, 'a')])
      .when((s) => decideDeleteConfig(s, { configId }))
      .thenRefused('not_found', 'configId');
  });

  it('refuses an unknown configuration', () => {
    given([])
      .when((s) => decideDeleteConfig(s, { configId }))
      .thenRefused('not_found', 'configId');
  });
});

describe('configuration: restore', () => {
  it('restores a deleted configuration as the next version, with its value', () => {
    const state = given([...threeVersions, deleted(4, 'c')])
      .when((s) => decideRestoreConfig(s, { configId }))
      .then([restored(5, 'c')]);
    expect(state).to.deep.include({
      deleted: false,
      version: 5,
      value: 'c',
      values: ['a', 'b', 'c', 'c', 'c'],
    });
  });

  it('carries the isSensitive flag', () => {
    given([created('s3cret', { isSensitive: true }), deleted(2, 's3cret', { isSensitive: true })])
      .when((s) => decideRestoreConfig(s, { configId }))
      .then([restored(3, 's3cret', { isSensitive: true })]);
  });

  it('refuses a configuration that is not deleted', () => {
    given([created('a')])
      .when((s) => decideRestoreConfig(s, { configId }))
      .thenRefused('invalid_state', undefined);
    given([created('a'), deleted(2, 'a'), restored(3, 'a')])
      .when((s) => decideRestoreConfig(s, { configId }))
      .thenRefused('invalid_state', undefined);
  });

  it('refuses an unknown configuration', () => {
    given([])
      .when((s) => decideRestoreConfig(s, { configId }))
      .thenRefused('not_found', 'configId');
  });

  it('can be deleted and restored again', () => {
    given([created('a'), deleted(2, 'a'), restored(3, 'a')])
      .when((s) => decideDeleteConfig(s, { configId, expectedVersion: 3 }))
      .then([deleted(4, 'a')]);
  });
});

describe("configuration: every versioned event carries the configuration's type", () => {
  it('on update, rollback, delete and restore', () => {
    let state = given([created('1', { type: 'Integer' })]).state;
    const decisions = [
      (s: ConfigurationState) => decideUpdateConfig(s, { configId, expectedVersion: 1, value: 2 }),
      (s: ConfigurationState) => decideRollbackConfig(s, { configId, toVersion: 1 }),
      (s: ConfigurationState) => decideDeleteConfig(s, { configId }),
      (s: ConfigurationState) => decideRestoreConfig(s, { configId }),
    ];
    const types: string[] = [];
    for (const decide of decisions) {
      const events = decide(state);
      expect(events).to.have.length(1);
      types.push(events[0]!.type);
      expect(events[0]!.data.type, events[0]!.type).to.equal('Integer');
      state = events.reduce(evolveConfiguration, state);
    }
    expect(types).to.deep.equal([
      'ConfigurationUpdated',
      'ConfigurationRolledBack',
      'ConfigurationDeleted',
      'ConfigurationRestored',
    ]);
  });
});

describe('configuration: evolve', () => {
  it('ignores events other than creation for a configuration that does not exist', () => {
    for (const event of [
      updated(2, 'b', 'a'),
      rolledBack(2, 'a', 'b', 1),
      deleted(2, 'a'),
      restored(2, 'a'),
    ]) {
      expect(evolveConfiguration(initialConfigurationState(), event)).to.deep.equal({
        exists: false,
      });
    }
  });

  it('does not mutate the previous state', () => {
    const before = given(threeVersions).state;
    const snapshot = structuredClone(before);
    evolveConfiguration(before, updated(4, 'd', 'c', { tags: ['z'], description: 'x' }));
    evolveConfiguration(before, deleted(4, 'c'));
    expect(before).to.deep.equal(snapshot);
  });

  it('keeps one value per version through a full lifecycle', () => {
    const { state } = given([
      created('a'),
      updated(2, 'b', 'a'),
      rolledBack(3, 'a', 'b', 1),
      deleted(4, 'a'),
      restored(5, 'a'),
      updated(6, 'c', 'a'),
      deleted(7, 'c'),
      created('d', { version: 8, previousValue: 'c' }),
    ]);
    expect(state).to.deep.include({
      deleted: false,
      version: 8,
      value: 'd',
      values: ['a', 'b', 'a', 'a', 'a', 'c', 'c', 'd'],
    });
  });
});
