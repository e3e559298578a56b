/**
 * Change sets: several keys of one environment changed as one operation (promotions, imports).
 * A set is planned against the target's config streams; where the environment needs approval it
 * waits as one change request, otherwise it applies at once. Applying appends every key's events,
 * the tenant registrations of new keys and the set's own events in ONE atomic append with the
 * revisions read: all keys or none, and a key that moved since the plan refuses the whole set.
 */
import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../core/event-store/event-store.js';
import { DomainError } from '../../core/domain-error.js';
import { notFound, type CommandContext } from '../../core/commands/command-handling.js';
import { CommandHandler, type Attempt, type Stream } from '../../core/commands/command-handler.js';
import { fold } from '../../core/commands/decider.js';
import { changeSetStream, configStream, tenantStream } from '../../core/streams.js';
import { configDecider, configIdFor, type ConfigurationState } from '../configs/config.decider.js';
import {
  decideRegisterConfig,
  requireActiveTenant,
  requiredApprovals,
  tenantDecider,
  type QuotaLimits,
  type TenantState,
} from '../tenants/tenant.decider.js';
import type { SchemaRegistry } from '../config-schemas/schema-registry.js';
import {
  appliesSet,
  changeSetDecider,
  decideApplyItems,
  decideChangeSet,
  planItem,
  requireFresh,
  type ChangeSetCommand,
  type ChangeSetEvent,
  type ChangeSetItem,
  type ChangeSetSource,
  type ChangeSetState,
  type PlannedItem,
  type Proposal,
} from './change-set.decider.js';

export const newChangeSetId = () => `cs_${randomUUID().replace(/-/g, '')}`;

export interface ChangeSetLimits extends QuotaLimits {
  approvalExpiryMs: number;
}

export interface ProposeInput {
  tenantId: string;
  environment: string;
  source: ChangeSetSource;
  fromEnvironment: string | null;
  description: string | null;
  proposals: Proposal[];
  /** The target versions the caller saw (key → version, 0 = absent): any other is a conflict. */
  expectedVersions?: Record<string, number>;
  /** Plan and check only; nothing is written. */
  dryRun?: boolean;
}

export interface ProposeOutcome {
  /** DryRun: nothing written; Applied: every key changed; Pending: waits for approval. */
  outcome: 'DryRun' | 'Applied' | 'Pending' | 'Unchanged';
  planned: PlannedItem[];
  changeSet: ChangeSetState | undefined;
  /** Each changed key's version after the set applied. */
  versions: Record<string, number>;
  position: bigint | undefined;
}

/** Checks the caller may review a set of this environment; throws to refuse. */
export type SetGuard = (environment: string) => void;

type Loads = Map<string, Stream<ConfigurationState>>;

export class ChangeSetCommands {
  private readonly handler: CommandHandler;

  constructor(
    store: EventStore,
    private readonly limits: ChangeSetLimits,
    private readonly schemas?: SchemaRegistry,
  ) {
    this.handler = new CommandHandler(store);
  }

  async propose(
    input: ProposeInput,
    ctx: CommandContext,
    now = new Date(),
  ): Promise<ProposeOutcome> {
    const { result, position } = await this.handler.run(ctx, async (attempt) => {
      const tenant = await attempt.read(tenantDecider, tenantStream(input.tenantId));
      requireActiveTenant(tenant.state, input.tenantId);
      const configs = await this.loadConfigs(
        attempt,
        input.proposals.map((p) => configIdFor(input.tenantId, input.environment, p.key)),
      );
      const stateOf = (key: string) =>
        configs.get(configIdFor(input.tenantId, input.environment, key))!.state;
      requireFresh(
        Object.entries(input.expectedVersions ?? {})
          .map(([key, expectedVersion]) => {
            const s = configs.get(configIdFor(input.tenantId, input.environment, key))?.state;
            const live = s?.exists && !s.deleted ? s.version : 0;
            return { key, expectedVersion, currentVersion: live };
          })
          .filter((c) => c.currentVersion !== c.expectedVersion),
        input.environment,
      );
      const planned = planAll(input, stateOf);
      const items = planned.flatMap((p) => (p.item ? [p.item] : []));
      for (const item of items) {
        await this.schemas?.checkValue(stateOf(item.key), item.value, `keys.${item.key}`);
      }
      const unwritten = { planned, changeSet: undefined, versions: {} };
      if (input.dryRun) return { outcome: 'DryRun' as const, ...unwritten };
      if (items.length === 0) return { outcome: 'Unchanged' as const, ...unwritten };
      const changeSetId = newChangeSetId();
      const setEvents = decideChangeSet(
        {
          type: 'RequestChangeSet',
          data: {
            changeSetId,
            tenantId: input.tenantId,
            environment: input.environment,
            source: input.source,
            fromEnvironment: input.fromEnvironment,
            description: input.description,
            items,
            requestedBy: ctx.userId,
            requiredApprovals: requiredApprovals(tenant.state, input.environment),
            expiresAt: new Date(now.getTime() + this.limits.approvalExpiryMs).toISOString(),
          },
        },
        changeSetDecider.initialState(),
      );
      const set = attempt.create(changeSetDecider, changeSetStream(input.tenantId, changeSetId));
      return this.commit(attempt, setEvents, set, tenant, configs, planned);
    });
    return { ...result, position };
  }

  /**
   * Promotes keys from one environment to another: their current values (from their streams),
   * planned against the target's keys and applied as one set (one change request where the
   * target needs approval). A key the source does not have is refused, naming it.
   */
  async promote(
    input: {
      tenantId: string;
      from: string;
      to: string;
      keys: string[];
      expectedVersions?: Record<string, number>;
      description?: string | null;
      dryRun?: boolean;
    },
    ctx: CommandContext,
  ): Promise<ProposeOutcome> {
    if (input.from === input.to) {
      throw new DomainError('validation', 'from and to must be different environments', 'to');
    }
    const sources = new Map(
      await Promise.all(
        input.keys.map(async (k) => {
          const id = configIdFor(input.tenantId, input.from, k);
          return [
            id,
            { state: await this.handler.state(configDecider, configStream(id)) },
          ] as const;
        }),
      ),
    );
    const missing = input.keys.filter((k) => {
      const s = sources.get(configIdFor(input.tenantId, input.from, k))!.state;
      return !s.exists || s.deleted;
    });
    if (missing.length > 0) {
      const errors = missing.map((k) => ({
        field: `keys.${k}`,
        message: `'${k}' is not in ${input.from}`,
      }));
      throw new DomainError(
        'validation',
        errors.map((e) => e.message).join('; '),
        errors[0]!.field,
        {
          errors,
        },
      );
    }
    const proposals = input.keys.map((key): Proposal => {
      const s = sources.get(configIdFor(input.tenantId, input.from, key))!.state;
      if (!s.exists) throw new Error('unreachable: checked above');
      return {
        key,
        type: s.type,
        value: s.value,
        isSensitive: s.isSensitive,
        description: s.description,
        tags: s.tags,
      };
    });
    return this.propose(
      {
        tenantId: input.tenantId,
        environment: input.to,
        source: 'Promotion',
        fromEnvironment: input.from,
        description: input.description ?? null,
        proposals,
        ...(input.expectedVersions ? { expectedVersions: input.expectedVersions } : {}),
        dryRun: input.dryRun ?? false,
      },
      ctx,
    );
  }

  approve(
    cmd: { tenantId: string; changeSetId: string; comments: string | null },
    ctx: CommandContext,
    guard: SetGuard,
    now = () => new Date(),
  ) {
    return this.onSet(cmd, ctx, guard, () => ({
      type: 'ApproveChangeSet',
      data: {
        changeSetId: cmd.changeSetId,
        approver: ctx.userId,
        comments: cmd.comments,
        now: now(),
      },
    }));
  }

  reject(
    cmd: { tenantId: string; changeSetId: string; comments: string | null },
    ctx: CommandContext,
    guard: SetGuard,
  ) {
    return this.onSet(cmd, ctx, guard, () => ({
      type: 'RejectChangeSet',
      data: {
        changeSetId: cmd.changeSetId,
        by: ctx.userId,
        comments: cmd.comments,
        now: new Date(),
      },
    }));
  }

  cancel(
    cmd: { tenantId: string; changeSetId: string; comments: string | null },
    ctx: CommandContext,
    guard: SetGuard,
  ) {
    return this.onSet(cmd, ctx, guard, () => ({
      type: 'CancelChangeSet',
      data: {
        changeSetId: cmd.changeSetId,
        by: ctx.userId,
        comments: cmd.comments,
        now: new Date(),
      },
    }));
  }

  /** The expiry job. Late or repeated runs append at most one expiry, never after resolution. */
  async expire(
    cmd: { tenantId: string; changeSetId: string },
    ctx: CommandContext,
    now = new Date(),
  ) {
    const { state, position } = await this.handler.handle(
      changeSetDecider,
      changeSetStream(cmd.tenantId, cmd.changeSetId),
      { type: 'ExpireChangeSet', data: { now } },
      ctx,
    );
    return { state, position };
  }

  /** The environment a set changes (for the caller's authorisation), or undefined. */
  async environmentOf(tenantId: string, changeSetId: string): Promise<string | undefined> {
    const state = await this.handler.state(
      changeSetDecider,
      changeSetStream(tenantId, changeSetId),
    );
    return state.exists ? state.environment : undefined;
  }

  /** Racing reviewers: the loser re-reads a set that is no longer pending. */
  private async onSet(
    cmd: { tenantId: string; changeSetId: string },
    ctx: CommandContext,
    guard: SetGuard,
    command: (set: ChangeSetState) => ChangeSetCommand,
  ): Promise<ProposeOutcome> {
    const { result, position } = await this.handler.run(ctx, async (attempt) => {
      const set = await attempt.read(
        changeSetDecider,
        changeSetStream(cmd.tenantId, cmd.changeSetId),
      );
      if (!set.state.exists) throw notFound('Change set', cmd.changeSetId, 'changeSetId');
      guard(set.state.environment);
      const s = set.state;
      const events = decideChangeSet(command(s), s);
      if (!appliesSet(events)) {
        attempt.stage(set, events);
        return {
          outcome: 'Pending' as const,
          planned: [],
          changeSet: set.state,
          versions: {},
        };
      }
      const tenant = await attempt.read(tenantDecider, tenantStream(s.tenantId));
      requireActiveTenant(tenant.state, s.tenantId);
      const configs = await this.loadConfigs(
        attempt,
        s.items.map((i) => i.configId),
      );
      // The schema may have a new version since the set was requested.
      for (const item of s.items) {
        await this.schemas?.checkValue(
          configs.get(item.configId)!.state,
          item.value,
          `keys.${item.key}`,
        );
      }
      const planned = s.items.map((i) => ({ key: i.key, action: i.action, item: i }));
      return this.commit(attempt, events, set, tenant, configs, planned);
    });
    return { ...result, position };
  }

  private async loadConfigs(attempt: Attempt, configIds: string[]): Promise<Loads> {
    const unique = [...new Set(configIds)];
    const loaded = await Promise.all(
      unique.map((id) => attempt.read(configDecider, configStream(id))),
    );
    return new Map(unique.map((id, i) => [id, loaded[i]!]));
  }

  /** Stages the set's events and, when they apply it, every key's events: one append. */
  private async commit(
    attempt: Attempt,
    setEvents: ChangeSetEvent[],
    set: Stream<ChangeSetState>,
    tenant: Stream<TenantState>,
    configs: Loads,
    planned: PlannedItem[],
  ): Promise<Omit<ProposeOutcome, 'position'>> {
    const after = fold(changeSetDecider, set.state, setEvents);
    if (!after.exists) throw new Error('a change set command left no change set');
    const versions: Record<string, number> = {};
    if (appliesSet(setEvents)) {
      // States as read, before anything is staged on them.
      const states = new Map([...configs].map(([id, l]) => [id, l.state]));
      const byConfig = decideApplyItems(after.items, states, {
        tenantId: after.tenantId,
        environment: after.environment,
        description: describe(after),
      });
      let tenantState = tenant.state;
      const tenantEvents = [];
      for (const item of after.items) {
        const s = states.get(item.configId);
        if (s?.exists && !s.deleted) continue;
        const registered = decideRegisterConfig(
          tenantState,
          {
            tenantId: after.tenantId,
            configId: item.configId,
            key: item.key,
            environment: after.environment,
          },
          this.limits,
        );
        tenantState = fold(tenantDecider, tenantState, registered);
        tenantEvents.push(...registered);
      }
      attempt.stage(tenant, tenantEvents);
      for (const item of after.items) {
        const events = byConfig.get(item.configId)!;
        await this.schemas?.checkOutcome(states.get(item.configId)!, events);
        attempt.stage(configs.get(item.configId)!, events);
        const last = events.at(-1);
        if (last && 'version' in last.data) versions[item.key] = last.data.version;
      }
    }
    attempt.stage(set, setEvents);
    return {
      outcome: after.status === 'Applied' ? 'Applied' : 'Pending',
      planned,
      changeSet: after,
      versions,
    };
  }
}

/** Each key's change description names the set, so its history tells where a value came from. */
function describe(set: Extract<ChangeSetState, { exists: true }>): string {
  const what = set.source === 'Promotion' ? `Promoted from ${set.fromEnvironment}` : 'Imported';
  return `${what} (change set ${set.changeSetId})`;
}

/** Plans every proposal; all refused keys are named at once (nothing is written). */
function planAll(input: ProposeInput, stateOf: (key: string) => ConfigurationState): PlannedItem[] {
  const planned: PlannedItem[] = [];
  const errors: { field: string; message: string }[] = [];
  const seen = new Set<string>();
  for (const p of input.proposals) {
    if (seen.has(p.key)) {
      errors.push({ field: `keys.${p.key}`, message: `'${p.key}' is given more than once` });
      continue;
    }
    seen.add(p.key);
    try {
      planned.push(planItem(stateOf(p.key), input.tenantId, input.environment, p));
    } catch (error) {
      if (!(error instanceof DomainError) || error.code !== 'validation') throw error;
      errors.push({ field: error.field ?? `keys.${p.key}`, message: error.message });
    }
  }
  if (errors.length > 0) {
    throw new DomainError('validation', errors.map((e) => e.message).join('; '), errors[0]!.field, {
      errors,
    });
  }
  return planned;
}

export type { ChangeSetItem };
