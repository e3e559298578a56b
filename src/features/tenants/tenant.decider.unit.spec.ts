import { expect } from 'chai';
import { configIdFor } from '../configs/config.decider.js';
import { ConfigRegistry } from './tenant.registry.js';

import { givenFor } from '../../core/testing/given-when-then.js';
import { DEFAULT_ENVIRONMENTS } from '../environments/environment-set.js';
import {
  TENANT_TIERS,
  TIER_DEFAULTS,
  decideCreateTenant,
  decideDeleteTenant,
  decideRegisterConfig,
  decideReleaseConfig,
  decideUpdateTenant,
  evolveTenant,
  initialTenantState,
  requiredApprovals,
  type QuotaLimits,
  type TenantEvent,
  type TenantProfile,
  type TenantState,
} from './tenant.decider.js';

const given = givenFor(evolveTenant, initialTenantState);

const tenantId = 'acme';
const limits: QuotaLimits = { maxConfigsPerTenant: 1000 };

const created = (profile: Partial<TenantProfile> = {}): TenantEvent => ({
  type: 'TenantCreated',
  data: {
    tenantId,
    name: 'Acme',
    tier: 'Standard',
    status: 'Active',
    maxConfigurations: 500,
    maxEnvironments: 6,
    contactEmail: null,
    metadata: null,
    ...profile,
  },
});
const updated = (changes: Partial<TenantProfile>): TenantEvent => ({
  type: 'TenantUpdated',
  data: { tenantId, changes },
});
const deleted = (): TenantEvent => ({ type: 'TenantDeleted', data: { tenantId } });
const declared = (environment: string): TenantEvent => ({
  type: 'EnvironmentDeclared',
  data: { tenantId, environment },
});

const ref = (key: string, environment = 'Production') => ({
  tenantId,
  configId: configIdFor(tenantId, environment, key),
  key,
  environment,
});
const registered = (key: string, environment = 'Production'): TenantEvent => ({
  type: 'ConfigurationRegistered',
  data: ref(key, environment),
});
const released = (key: string, environment = 'Production'): TenantEvent => ({
  type: 'ConfigurationReleased',
  data: ref(key, environment),
});

const register = (key: string, environment = 'Production', l: QuotaLimits = limits) => {
  return (state: TenantState) => decideRegisterConfig(state, ref(key, environment), l);
};

describe('tenant: create', () => {
  for (const tier of TENANT_TIERS) {
    it(`gives a ${tier} tenant the ${tier} quotas by default`, () => {
      given([])
        .when((s) => decideCreateTenant(s, { tenantId, name: 'Acme', tier }))
        .then([
          {
            type: 'TenantCreated',
            data: {
              tenantId,
              name: 'Acme',
              tier,
              status: 'Active',
              maxConfigurations: TIER_DEFAULTS[tier].maxConfigurations,
              maxEnvironments: TIER_DEFAULTS[tier].maxEnvironments,
              contactEmail: null,
              metadata: null,
            },
          },
          ...DEFAULT_ENVIRONMENTS.map(declared),
        ]);
    });
  }

  it('declares the environments the request names instead of the defaults', () => {
    given([])
      .when((s) =>
        decideCreateTenant(s, {
          tenantId,
          name: 'Acme',
          tier: 'Free',
          environments: ['dev', 'prod'],
        }),
      )
      .then([
        created({ tier: 'Free', maxConfigurations: 100, maxEnvironments: 4 }),
        declared('dev'),
        declared('prod'),
      ]);
  });

  it('refuses more environments than maxEnvironments, and one name twice in any case', () => {
    given([])
      .when((s) =>
        decideCreateTenant(s, { tenantId, name: 'Acme', tier: 'Free', maxEnvironments: 2 }),
      )
      .thenRefused('validation', 'environments');
    given([])
      .when((s) =>
        decideCreateTenant(s, { tenantId, name: 'Acme', tier: 'Free', environments: ['QA', 'qa'] }),
      )
      .thenRefused('validation', 'environments');
  });

  it('has the documented tier defaults', () => {
    expect(TIER_DEFAULTS).to.deep.equal({
      Free: { maxConfigurations: 100, maxEnvironments: 4 },
      Standard: { maxConfigurations: 500, maxEnvironments: 6 },
      Professional: { maxConfigurations: 1000, maxEnvironments: 8 },
      Enterprise: { maxConfigurations: 10000, maxEnvironments: 20 },
    });
  });

  it('uses the quotas and contact details the request gives', () => {
    given([])
      .when((s) =>
        decideCreateTenant(s, {
          tenantId,
          name: 'Acme',
          tier: 'Free',
          maxConfigurations: 7,
          maxEnvironments: 2,
          contactEmail: 'ops@acme.test',
          metadata: { region: 'eu' },
          environments: ['Staging', 'Production'],
        }),
      )
      .then([
        created({
          tier: 'Free',
          maxConfigurations: 7,
          maxEnvironments: 2,
          contactEmail: 'ops@acme.test',
          metadata: { region: 'eu' },
        }),
        declared('Staging'),
        declared('Production'),
      ]);
  });

  it('keeps an explicit quota of 0 instead of replacing it with the tier default', () => {
    given([])
      .when((s) =>
        decideCreateTenant(s, {
          tenantId,
          name: 'Acme',
          tier: 'Standard',
          maxConfigurations: 0,
          maxEnvironments: 0,
          environments: [],
        }),
      )
      .then([created({ maxConfigurations: 0, maxEnvironments: 0 })]);
  });

  it('folds into an active tenant with no configurations', () => {
    const { state } = given([created()]);
    expect(state).to.deep.equal({
      exists: true,
      tenantId,
      configs: ConfigRegistry.empty(),
      approvalPolicy: {},
      // No declaration in the stream (a tenant from before them): the defaults.
      environments: { explicit: false, names: DEFAULT_ENVIRONMENTS },
      name: 'Acme',
      tier: 'Standard',
      status: 'Active',
      maxConfigurations: 500,
      maxEnvironments: 6,
      contactEmail: null,
      metadata: null,
    });
  });

  it('refuses a tenant id that already exists', () => {
    given([created()])
      .when((s) => decideCreateTenant(s, { tenantId, name: 'Other', tier: 'Free' }))
      .thenRefused('already_exists', 'tenantId');
  });

  it('refuses to reuse the id of a deleted tenant', () => {
    given([created(), deleted()])
      .when((s) => decideCreateTenant(s, { tenantId, name: 'Acme again', tier: 'Free' }))
      .thenRefused('already_exists', 'tenantId');
  });
});

describe('tenant: update', () => {
  it('records only the fields that change', () => {
    given([created()])
      .when((s) =>
        decideUpdateTenant(s, {
          tenantId,
          name: 'Acme',
          tier: 'Enterprise',
          maxConfigurations: 500,
          contactEmail: 'ops@acme.test',
        }),
      )
      // maxConfigurations was named (and unchanged); maxEnvironments follows the new tier.
      .then([updated({ tier: 'Enterprise', maxEnvironments: 20, contactEmail: 'ops@acme.test' })]);
  });

  it("gives the tenant the new tier's quotas when it had its old tier's", () => {
    // created(): Standard with Standard's quotas (500 / 6).
    const state = given([created()])
      .when((s) => decideUpdateTenant(s, { tenantId, tier: 'Enterprise' }))
      .then([updated({ tier: 'Enterprise', maxConfigurations: 10000, maxEnvironments: 20 })]);
    expect(state).to.include({ maxConfigurations: 10000, maxEnvironments: 20 });
  });

  it('moves quotas a downgrade had to keep when the tier changes again', () => {
    // Standard (500 / 6) with configurations in 5 environments.
    const registered = ['a', 'b', 'c', 'd', 'e'].map((env, i): TenantEvent => ({
      type: 'ConfigurationRegistered',
      data: { tenantId, configId: `cfg_${i}`, key: 'k', environment: env },
    }));
    const down = given([created(), ...registered])
      .when((s) => decideUpdateTenant(s, { tenantId, tier: 'Free' }))
      .then([updated({ tier: 'Free', maxConfigurations: 100 })]); // 4 environments < 5 in use
    expect(down).to.include({ maxEnvironments: 6 });
    given([created(), ...registered, updated({ tier: 'Free', maxConfigurations: 100 })])
      .when((s) => decideUpdateTenant(s, { tenantId, tier: 'Professional' }))
      .then([updated({ tier: 'Professional', maxConfigurations: 1000, maxEnvironments: 8 })]);
  });

  it('reads an environment called constructor or toString as any other (no approvals)', () => {
    const state = given([created()]).state;
    for (const env of ['constructor', 'toString', 'valueOf', 'hasOwnProperty']) {
      expect(requiredApprovals(state, env), env).to.equal(0);
      expect(requiredApprovals(initialTenantState(), env), env).to.equal(0);
    }
  });

  it('keeps quotas of its own, and quotas named in the request, when the tier changes', () => {
    given([created({ maxConfigurations: 777 })])
      .when((s) => decideUpdateTenant(s, { tenantId, tier: 'Enterprise' }))
      .then([updated({ tier: 'Enterprise', maxEnvironments: 20 })]);
    given([created()])
      .when((s) => decideUpdateTenant(s, { tenantId, tier: 'Free', maxConfigurations: 300 }))
      .then([updated({ tier: 'Free', maxConfigurations: 300, maxEnvironments: 4 })]);
  });

  it('appends nothing when nothing changes', () => {
    given([created({ metadata: { region: 'eu', tags: ['a'] } })])
      .when((s) =>
        decideUpdateTenant(s, {
          tenantId,
          name: 'Acme',
          tier: 'Standard',
          status: 'Active',
          maxConfigurations: 500,
          maxEnvironments: 6,
          contactEmail: null,
          metadata: { region: 'eu', tags: ['a'] },
        }),
      )
      .thenNothing();
  });

  it('appends nothing for an empty update', () => {
    given([created()])
      .when((s) => decideUpdateTenant(s, { tenantId }))
      .thenNothing();
  });

  it('records a metadata change and clearing the contact email', () => {
    const state = given([created({ contactEmail: 'a@acme.test', metadata: { region: 'eu' } })])
      .when((s) =>
        decideUpdateTenant(s, { tenantId, contactEmail: null, metadata: { region: 'us' } }),
      )
      .then([updated({ contactEmail: null, metadata: { region: 'us' } })]);
    expect(state).to.deep.include({ contactEmail: null, metadata: { region: 'us' } });
  });

  it('suspends and reactivates a tenant', () => {
    const suspended = given([created()])
      .when((s) => decideUpdateTenant(s, { tenantId, status: 'Suspended' }))
      .then([updated({ status: 'Suspended' })]);
    expect(suspended).to.include({ status: 'Suspended' });

    given([created(), updated({ status: 'Suspended' })])
      .when((s) => decideUpdateTenant(s, { tenantId, status: 'Active' }))
      .then([updated({ status: 'Active' })]);
  });

  it('refuses an unknown tenant', () => {
    given([])
      .when((s) => decideUpdateTenant(s, { tenantId, name: 'X' }))
      .thenRefused('not_found', 'tenantId');
  });

  it('refuses a deleted tenant', () => {
    given([created(), deleted()])
      .when((s) => decideUpdateTenant(s, { tenantId, name: 'X' }))
      .thenRefused('not_found', 'tenantId');
  });

  describe('lowering quotas', () => {
    const inUse = [
      created(),
      registered('a', 'Development'),
      registered('b', 'Development'),
      registered('c', 'Staging'),
      registered('d', 'Production'),
    ];

    it('refuses maxConfigurations below the configurations in use', () => {
      const error = given(inUse)
        .when((s) => decideUpdateTenant(s, { tenantId, maxConfigurations: 3 }))
        .thenRefused('validation', 'maxConfigurations');
      expect(error.message).to.contain('4');
    });

    it('allows maxConfigurations equal to the configurations in use', () => {
      given(inUse)
        .when((s) => decideUpdateTenant(s, { tenantId, maxConfigurations: 4 }))
        .then([updated({ maxConfigurations: 4 })]);
    });

    it('counts only live configurations', () => {
      given([...inUse, released('a', 'Development'), released('b', 'Development')])
        .when((s) => decideUpdateTenant(s, { tenantId, maxConfigurations: 2 }))
        .then([updated({ maxConfigurations: 2 })]);
    });

    it('refuses maxEnvironments below the declared environments', () => {
      const error = given(inUse)
        .when((s) => decideUpdateTenant(s, { tenantId, maxEnvironments: 2 }))
        .thenRefused('validation', 'maxEnvironments');
      expect(error.message).to.contain('3');
    });

    it('allows maxEnvironments equal to the declared environments', () => {
      given(inUse)
        .when((s) => decideUpdateTenant(s, { tenantId, maxEnvironments: 3 }))
        .then([updated({ maxEnvironments: 3 })]);
    });

    it('refuses the whole update when one quota is too low', () => {
      given(inUse)
        .when((s) => decideUpdateTenant(s, { tenantId, name: 'Renamed', maxConfigurations: 1 }))
        .thenRefused('validation', 'maxConfigurations');
    });
  });
});

describe('tenant: delete', () => {
  it('deletes a live tenant', () => {
    const state = given([created()])
      .when((s) => decideDeleteTenant(s, tenantId))
      .then([deleted()]);
    expect(state).to.include({ status: 'Deleted' });
  });

  it('deletes a suspended tenant', () => {
    given([created(), updated({ status: 'Suspended' })])
      .when((s) => decideDeleteTenant(s, tenantId))
      .then([deleted()]);
  });

  it('refuses a tenant that is already deleted', () => {
    given([created(), deleted()])
      .when((s) => decideDeleteTenant(s, tenantId))
      .thenRefused('not_found', 'tenantId');
  });

  it('refuses an unknown tenant', () => {
    given([])
      .when((s) => decideDeleteTenant(s, tenantId))
      .thenRefused('not_found', 'tenantId');
  });
});

describe('tenant: register configuration', () => {
  it('registers a configuration', () => {
    const state = given([created()])
      .when(register('feature.x'))
      .then([registered('feature.x')]);
    expect(state.exists && [...state.configs.entries()]).to.deep.equal([
      [
        configIdFor(tenantId, 'Production', 'feature.x'),
        { key: 'feature.x', environment: 'Production' },
      ],
    ]);
  });

  it('refuses an unknown tenant', () => {
    given([]).when(register('feature.x')).thenRefused('not_found', 'tenantId');
  });

  it('refuses a deleted tenant', () => {
    given([created(), deleted()]).when(register('feature.x')).thenRefused('not_found', 'tenantId');
  });

  it('refuses a suspended tenant', () => {
    const error = given([created(), updated({ status: 'Suspended' })])
      .when(register('feature.x'))
      .thenRefused('invalid_state', undefined);
    expect(error.message).to.contain('Suspended');
  });

  it('accepts again once the tenant is reactivated', () => {
    given([created(), updated({ status: 'Suspended' }), updated({ status: 'Active' })])
      .when(register('feature.x'))
      .then([registered('feature.x')]);
  });

  describe('uniqueness of (key, environment)', () => {
    it('refuses a key that is already registered in the environment', () => {
      const existing = configIdFor(tenantId, 'Production', 'feature.x');
      given([created(), registered('feature.x')])
        .when((s) =>
          decideRegisterConfig(
            s,
            { tenantId, configId: 'cfg_other', key: 'feature.x', environment: 'Production' },
            limits,
          ),
        )
        .thenRefused('already_exists', 'key', { configId: existing });
    });

    it('refuses a configId that is already registered', () => {
      given([created(), registered('feature.x')])
        .when(register('feature.x'))
        .thenRefused('already_exists', 'key', {
          configId: configIdFor(tenantId, 'Production', 'feature.x'),
        });
    });

    it('allows the same key in another environment', () => {
      given([created(), registered('feature.x', 'Production')])
        .when(register('feature.x', 'Staging'))
        .then([registered('feature.x', 'Staging')]);
    });

    it('allows another key in the same environment', () => {
      given([created(), registered('feature.x')])
        .when(register('feature.y'))
        .then([registered('feature.y')]);
    });

    it('allows the key again after it was released', () => {
      given([created(), registered('feature.x'), released('feature.x')])
        .when(register('feature.x'))
        .then([registered('feature.x')]);
    });

    it('reports a duplicate as already_exists even when the quota is full', () => {
      given([created({ maxConfigurations: 1 }), registered('feature.x')])
        .when(register('feature.x'))
        .thenRefused('already_exists', 'key');
    });
  });

  describe('configuration quota = min(tenant.maxConfigurations, limits.maxConfigsPerTenant)', () => {
    it("refuses when the tenant's own limit is reached", () => {
      given([created({ maxConfigurations: 2 }), registered('a'), registered('b')])
        .when(register('c'))
        .thenRefused('quota_exceeded', undefined, { limit: 2, used: 2 });
    });

    it('refuses when the service-wide limit is lower and reached', () => {
      given([created({ maxConfigurations: 500 }), registered('a'), registered('b')])
        .when(register('c', 'Production', { maxConfigsPerTenant: 2 }))
        .thenRefused('quota_exceeded', undefined, { limit: 2, used: 2 });
    });

    it('allows the last slot under both limits', () => {
      given([created({ maxConfigurations: 3 }), registered('a'), registered('b')])
        .when(register('c', 'Production', { maxConfigsPerTenant: 5 }))
        .then([registered('c')]);
      given([created({ maxConfigurations: 5 }), registered('a'), registered('b')])
        .when(register('c', 'Production', { maxConfigsPerTenant: 3 }))
        .then([registered('c')]);
    });

    it('refuses every configuration when the quota is 0', () => {
      given([created({ maxConfigurations: 0 })])
        .when(register('a'))
        .thenRefused('quota_exceeded', undefined, { limit: 0, used: 0 });
    });

    it('frees a slot when a configuration is released', () => {
      given([created({ maxConfigurations: 2 }), registered('a'), registered('b'), released('a')])
        .when(register('c'))
        .then([registered('c')]);
    });

    it('applies a quota raised by an update', () => {
      given([created({ maxConfigurations: 1 }), registered('a'), updated({ maxConfigurations: 2 })])
        .when(register('b'))
        .then([registered('b')]);
    });
  });

  describe('declared environments', () => {
    it('refuses an environment the tenant has not declared, naming the declared ones', () => {
      given([created(), declared('Development'), declared('Production')])
        .when(register('c', 'Staging'))
        .thenRefused('unknown_environment', 'environment', {
          declaredEnvironments: ['Development', 'Production'],
        });
    });

    it('takes the exact declared name only (commands resolve the case first)', () => {
      given([created(), declared('Production')])
        .when(register('c', 'production'))
        .thenRefused('unknown_environment', 'environment');
    });

    it('reads a tenant from before declarations as declaring the defaults and what it used', () => {
      const before = [created(), registered('a', 'Prod')];
      given(before)
        .when(register('b', 'Prod'))
        .then([registered('b', 'Prod')]);
      given(before)
        .when(register('b', 'Staging'))
        .then([registered('b', 'Staging')]);
      given(before)
        .when(register('b', 'QA'))
        .thenRefused('unknown_environment', 'environment', {
          declaredEnvironments: [...DEFAULT_ENVIRONMENTS, 'Prod'],
        });
    });
  });
});

describe('tenant: release configuration', () => {
  it('releases a registered configuration', () => {
    const state = given([created(), registered('a'), registered('b')])
      .when((s) => decideReleaseConfig(s, ref('a')))
      .then([released('a')]);
    expect(state.exists && [...state.configs.keys()]).to.deep.equal([
      configIdFor(tenantId, 'Production', 'b'),
    ]);
  });

  it('appends nothing for a configuration that is not registered', () => {
    given([created(), registered('a')])
      .when((s) => decideReleaseConfig(s, ref('b')))
      .thenNothing();
    given([created(), registered('a'), released('a')])
      .when((s) => decideReleaseConfig(s, ref('a')))
      .thenNothing();
  });

  it('appends nothing for an unknown tenant', () => {
    given([])
      .when((s) => decideReleaseConfig(s, ref('a')))
      .thenNothing();
  });
});

describe('tenant: evolve', () => {
  it('ignores events for a tenant that was never created', () => {
    const { state } = given([updated({ name: 'X' }), registered('a'), released('a'), deleted()]);
    expect(state).to.deep.equal({ exists: false });
  });

  it('does not mutate the previous state', () => {
    const before = given([created(), registered('a')]).state;
    const snapshot = before.exists ? [...before.configs] : undefined;
    evolveTenant(before, registered('b'));
    evolveTenant(before, released('a'));
    expect(before.exists && [...before.configs]).to.deep.equal(snapshot);
  });
});
