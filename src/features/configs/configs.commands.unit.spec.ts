import { expect } from 'chai';
import { InMemoryEventStore } from '../../core/event-store/memory/in-memory-event-store.js';
import type {
  AppendRequest,
  EventStore,
  ReadStreamOptions,
} from '../../core/event-store/event-store.js';
import { CommandHandler } from '../../core/commands/command-handler.js';
import { DomainError } from '../../core/domain-error.js';
import { tenantStream } from '../../core/streams.js';
import {
  decideRegisterConfig,
  evolveTenant,
  initialTenantState,
  tenantDecider,
  type TenantEvent,
  type TenantState,
} from '../tenants/tenant.decider.js';
import { TenantCommands } from '../tenants/tenants.commands.js';
import { ConfigCommands } from './configs.commands.js';

const ctx = { userId: 'tester', correlationId: 'c1' };
const limits = { maxConfigsPerTenant: 1000 };
const keysOf = (s: TenantState) => (s.exists ? [...s.configs.values()].map((c) => c.key) : []);
const register = (state: TenantState, key: string) =>
  decideRegisterConfig(
    state,
    { tenantId: 't1', configId: `id-${key}`, key, environment: 'Staging' },
    limits,
  );
/** The tenant folded from its whole stream, with nothing kept. */
async function fresh(store: EventStore): Promise<TenantState> {
  const { events } = await store.readStream(tenantStream('t1'));
  return events.reduce(
    (s, e) => evolveTenant(s, e as unknown as TenantEvent),
    initialTenantState(),
  );
}

async function given(keys: string[]) {
  const store = new InMemoryEventStore();
  await new TenantCommands(store).create(
    { tenantId: 't1', name: 'T', tier: 'Free', maxConfigurations: 5 },
    ctx,
  );
  const configs = new ConfigCommands(store, limits);
  for (const key of keys) {
    await configs.create(
      { tenantId: 't1', key, environment: 'Staging', type: 'String', value: key },
      ctx,
    );
  }
  return { store, configs, handler: new CommandHandler(store) };
}

describe('config commands on kept tenant states', function () {
  it('two commands staging different keys on one kept state see only their own', async function () {
    const { store, handler } = await given(['a']);
    // Both have read and staged before either appends.
    let arrived = 0;
    let release!: () => void;
    const barrier = new Promise<void>((r) => (release = r));
    const seen: Record<string, string[][]> = { b: [], c: [] };
    const gated = {
      readStream: (id: string, o?: ReadStreamOptions) => store.readStream(id, o),
      async append(r: AppendRequest[]) {
        if (++arrived === 2) release();
        await barrier;
        return store.append(r);
      },
    } as EventStore;
    const gatedHandler = new CommandHandler(gated);
    await gatedHandler.state(tenantDecider, tenantStream('t1')); // kept: both start from it
    const write = (key: 'b' | 'c') =>
      gatedHandler.run(ctx, async (attempt) => {
        const tenant = await attempt.read(tenantDecider, tenantStream('t1'));
        attempt.stage(tenant, register(tenant.state, key));
        seen[key]!.push(keysOf(tenant.state).sort());
      });
    await Promise.all([write('b'), write('c')]);
    // The first attempt of each saw the base and its own key only; the loser then saw both.
    expect(seen.b![0]).to.deep.equal(['a', 'b']);
    expect(seen.c![0]).to.deep.equal(['a', 'c']);
    expect(keysOf(await handler.state(tenantDecider, tenantStream('t1'))).sort()).to.deep.equal(
      keysOf(await fresh(store)).sort(),
    );
    expect(keysOf(await fresh(store)).sort()).to.deep.equal(['a', 'b', 'c']);
  });

  it('what an attempt staged and never appended stays out of the kept state', async function () {
    const { store, configs, handler } = await given(['a', 'b', 'c', 'd']);
    await handler.state(tenantDecider, tenantStream('t1'));
    // Refused after staging (as a later check or an exception does).
    for (const key of ['x', 'y']) {
      await handler
        .run(ctx, async (attempt) => {
          const tenant = await attempt.read(tenantDecider, tenantStream('t1'));
          attempt.stage(tenant, register(tenant.state, key));
          throw new DomainError('validation', 'refused after staging');
        })
        .catch((e) => expect(e).to.be.instanceOf(DomainError));
    }
    const kept = await handler.state(tenantDecider, tenantStream('t1'));
    expect(keysOf(kept).sort()).to.deep.equal(['a', 'b', 'c', 'd']);
    // The fifth slot is still free, exactly once, and 'x' can be created.
    await configs.create(
      { tenantId: 't1', key: 'x', environment: 'Staging', type: 'String', value: 'x' },
      ctx,
    );
    const refused = await configs
      .create({ tenantId: 't1', key: 'y', environment: 'Staging', type: 'String', value: 'y' }, ctx)
      .catch((e: DomainError) => e.code);
    expect(refused).to.equal('quota_exceeded');
    expect(keysOf(await handler.state(tenantDecider, tenantStream('t1'))).sort()).to.deep.equal(
      keysOf(await fresh(store)).sort(),
    );
  });

  it('a lost race is decided again on the winner’s state, not on what the loser staged', async function () {
    const { store, configs, handler } = await given(['a', 'b', 'c']);
    await handler.state(tenantDecider, tenantStream('t1'));
    // Two creates of different keys race for the last two slots, two more for none.
    const results = await Promise.allSettled(
      ['d', 'e', 'f', 'g'].map((key) =>
        configs.create(
          { tenantId: 't1', key, environment: 'Staging', type: 'String', value: key },
          ctx,
        ),
      ),
    );
    const refused = results.filter((r) => r.status === 'rejected');
    expect(
      refused.map((r) => ((r as PromiseRejectedResult).reason as DomainError).code),
    ).to.deep.equal(['quota_exceeded', 'quota_exceeded']);
    const kept = await handler.state(tenantDecider, tenantStream('t1'));
    expect(kept.exists && kept.configs.size).to.equal(5);
    expect(keysOf(kept).sort()).to.deep.equal(keysOf(await fresh(store)).sort());
  });
});
