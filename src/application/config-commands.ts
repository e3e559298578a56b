import {
  WrongExpectedVersionError,
  type AppendRequest,
  type EventStore,
} from '../core/event-store/event-store.js';
import {
  configIdFor,
  decideCreateConfig,
  decideDeleteConfig,
  decideRestoreConfig,
  decideRollbackConfig,
  decideUpdateConfig,
  evolveConfiguration,
  initialConfigurationState,
  requireLive,
  type ConfigurationEvent,
  type ConfigurationState,
  type CreateConfig,
  type UpdateConfig,
} from '../domain/configuration.js';
import { DomainError } from '../domain/errors.js';
import {
  decideRegisterConfig,
  decideReleaseConfig,
  requireActiveTenant,
  requireDirectWrites,
  type QuotaLimits,
} from '../domain/tenant.js';
import {
  expectedFor,
  fold,
  load,
  retryOnConflict,
  toNewEvents,
  type CommandContext,
  type Decider,
  type DomainEvent,
} from './command-handling.js';
import { configStream, tenantStream } from './streams.js';
import { tenantDecider, type CommandResult } from './tenant-commands.js';
import type { SchemaRegistry } from './schema-registry.js';

export const configDecider: Decider<ConfigurationState, ConfigurationEvent> = {
  initial: initialConfigurationState,
  evolve: evolveConfiguration,
};

export type ConfigResult = CommandResult<ConfigurationState>;

/** Checks the caller may change this config; throws to refuse. Runs before any decision. */
export type ConfigGuard = (tenantId: string, environment: string, configId: string) => void;

const allowAll: ConfigGuard = () => undefined;

export class ConfigCommands {
  constructor(
    private readonly store: EventStore,
    private readonly limits: QuotaLimits,
    /** Checks values of configurations that name a schema (none: no schema checks). */
    private readonly schemas?: SchemaRegistry,
  ) {}

  /**
   * Registers the key with its tenant (quota, uniqueness) and creates the config stream in one
   * atomic append. Losing a race on the tenant stream re-runs the decision on fresh state, so of
   * racing creates for one key exactly one succeeds and the rest get 'already_exists'.
   */
  create(cmd: CreateConfig, ctx: CommandContext): Promise<ConfigResult> {
    const configId = configIdFor(cmd.tenantId, cmd.environment, cmd.key);
    return retryOnConflict(async () => {
      const [tenant, config] = await Promise.all([
        load(this.store, tenantStream(cmd.tenantId), tenantDecider),
        load(this.store, configStream(configId), configDecider),
      ]);
      const configEvents = decideCreateConfig(config.state, cmd);
      const tenantEvents = decideRegisterConfig(
        tenant.state,
        { tenantId: cmd.tenantId, configId, key: cmd.key, environment: cmd.environment },
        this.limits,
      );
      requireDirectWrites(tenant.state, cmd.environment);
      return this.appendBoth(tenant.revision, tenantEvents, config, configId, configEvents, ctx);
    });
  }

  /** A stale or concurrent version is the caller's conflict to resolve: never retried. */
  async update(cmd: UpdateConfig, ctx: CommandContext, guard = allowAll): Promise<ConfigResult> {
    return this.single(cmd.configId, ctx, guard, (state) => decideUpdateConfig(state, cmd));
  }

  async rollback(
    cmd: {
      configId: string;
      toVersion: number;
      expectedVersion?: number;
      changeDescription?: string | null;
    },
    ctx: CommandContext,
    guard = allowAll,
  ): Promise<ConfigResult> {
    return this.single(cmd.configId, ctx, guard, (state) => decideRollbackConfig(state, cmd));
  }

  /** Soft delete: the stream and history stay, the tenant's quota slot is freed. */
  delete(
    cmd: { configId: string; expectedVersion?: number },
    ctx: CommandContext,
    guard = allowAll,
  ): Promise<ConfigResult> {
    return this.withTenant(
      cmd.configId,
      ctx,
      guard,
      (config, tenantState) => {
        const configEvents = decideDeleteConfig(config, cmd);
        const live = requireLive(config, cmd.configId);
        const tenantEvents = decideReleaseConfig(tenantState, {
          tenantId: live.tenantId,
          configId: live.configId,
          key: live.key,
          environment: live.environment,
        });
        return { configEvents, tenantEvents };
      },
      cmd.expectedVersion !== undefined,
    );
  }

  restore(cmd: { configId: string }, ctx: CommandContext, guard = allowAll): Promise<ConfigResult> {
    return this.withTenant(
      cmd.configId,
      ctx,
      guard,
      (config, tenantState) => {
        const configEvents = decideRestoreConfig(config, cmd);
        if (!config.exists) return { configEvents, tenantEvents: [] };
        const tenantEvents = decideRegisterConfig(
          tenantState,
          {
            tenantId: config.tenantId,
            configId: config.configId,
            key: config.key,
            environment: config.environment,
          },
          this.limits,
        );
        return { configEvents, tenantEvents };
      },
      false,
    );
  }

  private async single(
    configId: string,
    ctx: CommandContext,
    guard: ConfigGuard,
    decide: (state: ConfigurationState) => ConfigurationEvent[],
  ): Promise<ConfigResult> {
    const streamId = configStream(configId);
    const config = await load(this.store, streamId, configDecider);
    if (config.state.exists) {
      guard(config.state.tenantId, config.state.environment, configId);
      const tenant = await load(this.store, tenantStream(config.state.tenantId), tenantDecider);
      requireActiveTenant(tenant.state, config.state.tenantId);
      requireDirectWrites(tenant.state, config.state.environment);
    }
    const events = decide(config.state);
    if (events.length === 0) return { state: config.state, position: undefined, appended: 0 };
    await this.schemas?.checkOutcome(config.state, events);
    try {
      const result = await this.store.append([
        { streamId, expected: expectedFor(config.revision), events: toNewEvents(events, ctx) },
      ]);
      return {
        state: fold(configDecider, config.state, events),
        position: result.position,
        appended: events.length,
      };
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) throw await this.conflict(configId);
      throw error;
    }
  }

  /**
   * Commands that change a config and its tenant's registry together. When the caller named a
   * version (`strict`), losing the race on the config stream is their conflict; races on the
   * tenant stream alone are retried.
   */
  private withTenant(
    configId: string,
    ctx: CommandContext,
    guard: ConfigGuard,
    decide: (
      config: ConfigurationState,
      tenant: import('../domain/tenant.js').TenantState,
    ) => { configEvents: ConfigurationEvent[]; tenantEvents: DomainEvent[] },
    strict: boolean,
  ): Promise<ConfigResult> {
    return retryOnConflict(async () => {
      const config = await load(this.store, configStream(configId), configDecider);
      if (!config.state.exists) {
        throw new DomainError('not_found', `Configuration '${configId}' not found`, 'configId');
      }
      guard(config.state.tenantId, config.state.environment, configId);
      const tenant = await load(this.store, tenantStream(config.state.tenantId), tenantDecider);
      requireActiveTenant(tenant.state, config.state.tenantId);
      requireDirectWrites(tenant.state, config.state.environment);
      const { configEvents, tenantEvents } = decide(config.state, tenant.state);
      try {
        return await this.appendBoth(
          tenant.revision,
          tenantEvents,
          config,
          configId,
          configEvents,
          ctx,
        );
      } catch (error) {
        if (
          strict &&
          error instanceof WrongExpectedVersionError &&
          error.streamId === configStream(configId)
        ) {
          throw await this.conflict(configId);
        }
        throw error;
      }
    });
  }

  private async appendBoth(
    tenantRevision: bigint,
    tenantEvents: DomainEvent[],
    config: { state: ConfigurationState; revision: bigint },
    configId: string,
    configEvents: ConfigurationEvent[],
    ctx: CommandContext,
  ): Promise<ConfigResult> {
    if (configEvents.length === 0) return { state: config.state, position: undefined, appended: 0 };
    await this.schemas?.checkOutcome(config.state, configEvents);
    const state = fold(configDecider, config.state, configEvents);
    const tenantId = (state as { tenantId: string }).tenantId;
    const requests: AppendRequest[] = [];
    if (tenantEvents.length > 0) {
      requests.push({
        streamId: tenantStream(tenantId),
        expected: expectedFor(tenantRevision),
        events: toNewEvents(tenantEvents, ctx),
      });
    }
    requests.push({
      streamId: configStream(configId),
      expected: expectedFor(config.revision),
      events: toNewEvents(configEvents, ctx),
    });
    const result = await this.store.append(requests);
    return {
      state,
      position: result.position,
      appended: configEvents.length + tenantEvents.length,
    };
  }

  private async conflict(configId: string): Promise<DomainError> {
    const { state } = await load(this.store, configStream(configId), configDecider);
    const currentVersion = state.exists ? state.version : undefined;
    return new DomainError(
      'version_conflict',
      `Configuration was changed concurrently; it is now at version ${currentVersion}`,
      'expectedVersion',
      { currentVersion },
    );
  }
}
