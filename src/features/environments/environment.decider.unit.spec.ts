import { expect } from 'chai';
import { givenFor } from '../../core/testing/given-when-then.js';
import { configIdFor } from '../configs/config.decider.js';
import {
  decideRegisterConfig,
  decideSetApprovalPolicy,
  requiredApprovals,
  type TenantEvent,
  type TenantState,
} from '../tenants/tenant.decider.js';
import { environmentDecider, type EnvironmentCommand } from './environment.decider.js';
import { DEFAULT_ENVIRONMENTS, resolveEnvironment } from './environment-set.js';

const given = givenFor(environmentDecider.evolve, environmentDecider.initialState);
const when = (command: EnvironmentCommand) => (state: TenantState) =>
  environmentDecider.decide(command, state);

const tenantId = 'acme';
const created = (maxEnvironments = 4): TenantEvent => ({
  type: 'TenantCreated',
  data: {
    tenantId,
    name: 'Acme',
    tier: 'Free',
    status: 'Active',
    maxConfigurations: 100,
    maxEnvironments,
    contactEmail: null,
    metadata: null,
  },
});
const declared = (environment: string): TenantEvent => ({
  type: 'EnvironmentDeclared',
  data: { tenantId, environment },
});
const renamed = (environment: string, newName: string): TenantEvent => ({
  type: 'EnvironmentRenamed',
  data: { tenantId, environment, newName },
});
const removed = (environment: string): TenantEvent => ({
  type: 'EnvironmentRemoved',
  data: { tenantId, environment },
});
const ref = (key: string, environment: string) => ({
  tenantId,
  configId: configIdFor(tenantId, environment, key),
  key,
  environment,
});
const registered = (key: string, environment: string): TenantEvent => ({
  type: 'ConfigurationRegistered',
  data: ref(key, environment),
});
const released = (key: string, environment: string): TenantEvent => ({
  type: 'ConfigurationReleased',
  data: ref(key, environment),
});
const suspended: TenantEvent = {
  type: 'TenantUpdated',
  data: { tenantId, changes: { status: 'Suspended' } },
};

/** A tenant created after declarations existed: the defaults, declared explicitly. */
const newTenant = [created(), ...DEFAULT_ENVIRONMENTS.map(declared)];

const declare = (environment: string) =>
  when({ type: 'DeclareEnvironment', data: { tenantId, environment } });
const rename = (environment: string, newName: string) =>
  when({ type: 'RenameEnvironment', data: { tenantId, environment, newName } });
const remove = (environment: string) =>
  when({ type: 'RemoveEnvironment', data: { tenantId, environment } });

const names = (state: TenantState) => (state.exists ? state.environments.names : undefined);

describe('environments: declare', () => {
  it('declares a new environment after the others', () => {
    const state = given(newTenant)
      .when(declare('QA'))
      .then([declared('QA')]);
    expect(names(state)).to.deep.equal([...DEFAULT_ENVIRONMENTS, 'QA']);
  });

  it('refuses a name already declared, in any case, naming the declared spelling', () => {
    given(newTenant).when(declare('Production')).thenRefused('already_exists', 'name');
    const error = given(newTenant)
      .when(declare('production'))
      .thenRefused('already_exists', 'name');
    expect(error.message).to.contain("'Production'");
  });

  it('counts declared environments against maxEnvironments', () => {
    given([...newTenant, declared('QA')])
      .when(declare('Perf'))
      .thenRefused('quota_exceeded', 'name', { limit: 4, used: 4 });
    // Removing one frees a place.
    given([...newTenant, declared('QA'), removed('QA')])
      .when(declare('Perf'))
      .then([declared('Perf')]);
  });

  it('refuses changes for a suspended or unknown tenant', () => {
    given([...newTenant, suspended])
      .when(declare('QA'))
      .thenRefused('invalid_state');
    given([]).when(declare('QA')).thenRefused('not_found', 'tenantId');
  });
});

describe('environments: a tenant from before declarations', () => {
  // Its stream has configurations in `Prod` (free text then) and no Environment* event.
  const before = [created(6), registered('a', 'Prod'), registered('b', 'Production')];

  it('is read as declaring the defaults and every environment it used', () => {
    const { state } = given(before);
    expect(names(state)).to.deep.equal([...DEFAULT_ENVIRONMENTS, 'Prod']);
    expect(state.exists && state.environments.explicit).to.equal(false);
  });

  it('writes those out as declarations before its first environment command', () => {
    const state = given(before)
      .when(declare('QA'))
      .then([...[...DEFAULT_ENVIRONMENTS, 'Prod'].map(declared), declared('QA')]);
    expect(names(state)).to.deep.equal([...DEFAULT_ENVIRONMENTS, 'Prod', 'QA']);
    expect(state.exists && state.environments.explicit).to.equal(true);
  });

  it('writes nothing when the command changes nothing', () => {
    given(before).when(rename('Staging', 'Staging')).thenNothing();
  });

  it('counts its implicit environments against the quota', () => {
    given([created(4), registered('a', 'Prod')])
      .when(declare('QA'))
      .thenRefused('quota_exceeded', 'name', { limit: 4, used: 4 });
  });
});

describe('environments: rename', () => {
  it('renames an empty environment, matched without regard to case', () => {
    const state = given(newTenant)
      .when(rename('staging', 'PreProduction'))
      .then([renamed('Staging', 'PreProduction')]);
    expect(names(state)).to.deep.equal(['Development', 'PreProduction', 'Production']);
  });

  it('may change only the case of a name', () => {
    given([created(), declared('qa')])
      .when(rename('qa', 'QA'))
      .then([renamed('qa', 'QA')]);
  });

  it('refuses an environment holding configurations, and allows it once they are gone', () => {
    const used = [...newTenant, registered('a', 'Staging')];
    const error = given(used)
      .when(rename('Staging', 'QA'))
      .thenRefused('invalid_state', 'environment', { used: 1 });
    expect(error.message).to.contain('1 configuration');
    given([...used, released('a', 'Staging')])
      .when(rename('Staging', 'QA'))
      .then([renamed('Staging', 'QA')]);
  });

  it('refuses a name another environment has, in any case', () => {
    given(newTenant).when(rename('Staging', 'PRODUCTION')).thenRefused('already_exists', 'name');
  });

  it('answers not found for an undeclared environment, naming the declared ones', () => {
    given(newTenant)
      .when(rename('Nope', 'QA'))
      .thenRefused('not_found', 'environment', { declaredEnvironments: [...DEFAULT_ENVIRONMENTS] });
  });

  it('carries the approval policy to the new name', () => {
    const withPolicy = given(newTenant)
      .when((s) =>
        decideSetApprovalPolicy(s, { tenantId, environment: 'staging', requiredApprovals: 2 }),
      )
      .then([
        {
          type: 'ApprovalPolicySet',
          data: { tenantId, environment: 'Staging', requiredApprovals: 2 },
        },
      ]);
    const state = [renamed('Staging', 'QA')].reduce(environmentDecider.evolve, withPolicy);
    expect(requiredApprovals(state, 'QA')).to.equal(2);
    expect(requiredApprovals(state, 'Staging')).to.equal(0);
  });
});

describe('environments: remove', () => {
  it('removes an empty environment; configurations can no longer be registered in it', () => {
    const state = given(newTenant)
      .when(remove('STAGING'))
      .then([removed('Staging')]);
    expect(names(state)).to.deep.equal(['Development', 'Production']);
    expect(() => decideRegisterConfig(state, ref('a', 'Staging'), { maxConfigsPerTenant: 100 }))
      .to.throw()
      .with.property('code', 'unknown_environment');
  });

  it('refuses an environment holding configurations', () => {
    given([...newTenant, registered('a', 'Production')])
      .when(remove('Production'))
      .thenRefused('invalid_state', 'environment', { used: 1 });
  });

  it('drops its approval policy, and a new environment of that name starts from the default', () => {
    const policy: TenantEvent = {
      type: 'ApprovalPolicySet',
      data: { tenantId, environment: 'Production', requiredApprovals: 3 },
    };
    const state = given([...newTenant, policy])
      .when(remove('Production'))
      .then([removed('Production')]);
    const again = [declared('Production')].reduce(environmentDecider.evolve, state);
    expect(requiredApprovals(again, 'Production')).to.equal(1);
  });

  it('refuses approval policies for undeclared environments', () => {
    given(newTenant)
      .when((s) =>
        decideSetApprovalPolicy(s, { tenantId, environment: 'Nope', requiredApprovals: 1 }),
      )
      .thenRefused('unknown_environment', 'environment');
  });
});

describe('environments: names', () => {
  it('resolve exactly first, then without regard to case', () => {
    expect(resolveEnvironment(['Production', 'production'], 'production')).to.equal('production');
    expect(resolveEnvironment(['Production'], 'PRODUCTION')).to.equal('Production');
    expect(resolveEnvironment(['Production'], 'Prod')).to.equal(undefined);
  });
});
