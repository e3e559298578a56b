/**
 * Configuration commands, through the one command handler. The rules that span the config and
 * its tenant are the pure functions of `config-write.process.ts`; what stays here is I/O: the
 * caller's guard, the schema check (it reads the schema's stream) and what a lost race means.
 */
import type { EventStore } from '../../core/event-store/event-store.js';
import {
  configDecider,
  configIdFor,
  type ConfigurationState,
  type CreateConfig,
  type UpdateConfig,
} from './config.decider.js';
import { DomainError } from '../../core/domain-error.js';
import {
  declaredEnvironment,
  tenantDecider,
  type QuotaLimits,
  type TenantState,
} from '../tenants/tenant.decider.js';
import type { CommandContext, CommandResult } from '../../core/commands/command-handling.js';
import {
  CommandHandler,
  type Attempt,
  type HandleOptions,
  type Stream,
} from '../../core/commands/command-handler.js';
import { configStream, tenantStream } from '../../core/streams.js';
import type { SchemaRegistry } from '../config-schemas/schema-registry.js';
import {
  decideCreate,
  decideDelete,
  decideRestore,
  requireDirectWrite,
  requireExisting,
  type ConfigWrite,
} from './config-write.process.js';

export type ConfigResult = CommandResult<ConfigurationState>;

/** Checks the caller may change this config; throws to refuse. Runs before any decision. */
export type ConfigGuard = (tenantId: string, environment: string, configId: string) => void;

const allowAll: ConfigGuard = () => undefined;

export class ConfigCommands {
  private readonly handler: CommandHandler;

  constructor(
    store: EventStore,
    private readonly limits: QuotaLimits,
    /** Checks values of configurations that name a schema (none: no schema checks). */
    private readonly schemas?: SchemaRegistry,
  ) {
    this.handler = new CommandHandler(store);
  }

  /**
   * Registers the key with its tenant (quota, uniqueness) and creates the config stream in one
   * atomic append. Losing a race on the tenant stream re-runs the decision on fresh state, so of
   * racing creates for one key exactly one succeeds and the rest get 'already_exists'.
   */
  create(cmd: CreateConfig, ctx: CommandContext): Promise<ConfigResult> {
    return this.write(ctx, async (attempt) => {
      const tenant = await attempt.read(tenantDecider, tenantStream(cmd.tenantId));
      // `production` is Production: the declared spelling names the config (and its id).
      const environment = declaredEnvironment(tenant.state, cmd.tenantId, cmd.environment);
      const configId = configIdFor(cmd.tenantId, environment, cmd.key);
      const config = await attempt.read(configDecider, configStream(configId));
      const write = decideCreate(
        tenant.state,
        config.state,
        { ...cmd, environment, configId },
        this.limits,
      );
      return this.stage(attempt, tenant, config, write);
    });
  }

  /** A stale or concurrent version is the caller's conflict to resolve: never retried. */
  update(cmd: UpdateConfig, ctx: CommandContext, guard = allowAll): Promise<ConfigResult> {
    return this.single(cmd.configId, ctx, guard, { type: 'UpdateConfig', data: cmd });
  }

  rollback(
    cmd: {
      configId: string;
      toVersion: number;
      expectedVersion?: number;
      changeDescription?: string | null;
    },
    ctx: CommandContext,
    guard = allowAll,
  ): Promise<ConfigResult> {
    return this.single(cmd.configId, ctx, guard, { type: 'RollbackConfig', data: cmd });
  }

  /**
   * Soft delete: the stream and history stay, the tenant's quota slot is freed. When the caller
   * named a version, losing the race on the config stream is their conflict; races on the tenant
   * stream alone are decided again.
   */
  delete(
    cmd: { configId: string; expectedVersion?: number },
    ctx: CommandContext,
    guard = allowAll,
  ): Promise<ConfigResult> {
    return this.withTenant(
      cmd.configId,
      ctx,
      guard,
      (tenant, config) => decideDelete(tenant, config, cmd),
      cmd.expectedVersion !== undefined,
    );
  }

  restore(cmd: { configId: string }, ctx: CommandContext, guard = allowAll): Promise<ConfigResult> {
    return this.withTenant(
      cmd.configId,
      ctx,
      guard,
      (tenant, config) => decideRestore(tenant, config, cmd, this.limits),
      false,
    );
  }

  private single(
    configId: string,
    ctx: CommandContext,
    guard: ConfigGuard,
    command: Parameters<typeof configDecider.decide>[0],
  ): Promise<ConfigResult> {
    return this.write(
      ctx,
      async (attempt) => {
        const config = await attempt.read(configDecider, configStream(configId));
        if (config.state.exists) {
          guard(config.state.tenantId, config.state.environment, configId);
          const tenant = await attempt.read(tenantDecider, tenantStream(config.state.tenantId));
          requireDirectWrite(tenant.state, config.state);
        }
        const events = configDecider.decide(command, config.state);
        await this.schemas?.checkOutcome(config.state, events);
        attempt.stage(config, events);
        return config.state;
      },
      () => this.conflict(configId),
    );
  }

  private withTenant(
    configId: string,
    ctx: CommandContext,
    guard: ConfigGuard,
    decide: (tenant: TenantState, config: ConfigurationState) => ConfigWrite,
    strict: boolean,
  ): Promise<ConfigResult> {
    return this.write(
      ctx,
      async (attempt) => {
        const config = await attempt.read(configDecider, configStream(configId));
        const c = requireExisting(config.state, configId);
        guard(c.tenantId, c.environment, configId);
        const tenant = await attempt.read(tenantDecider, tenantStream(c.tenantId));
        return this.stage(attempt, tenant, config, decide(tenant.state, config.state));
      },
      (error) =>
        strict && error.streamId === configStream(configId) ? this.conflict(configId) : undefined,
    );
  }

  /** Stages a write to both streams once its outcome matches the config's schema. */
  private async stage(
    attempt: Attempt,
    tenant: Stream<TenantState>,
    config: Stream<ConfigurationState>,
    write: ConfigWrite,
  ): Promise<ConfigurationState> {
    // A write that changes the config nothing writes nothing, to either stream.
    if (write.config.length === 0) return config.state;
    await this.schemas?.checkOutcome(config.state, write.config);
    attempt.stage(tenant, write.tenant);
    attempt.stage(config, write.config);
    return config.state;
  }

  private async write(
    ctx: CommandContext,
    work: (attempt: Attempt) => Promise<ConfigurationState>,
    onConflict?: HandleOptions['onConflict'],
  ): Promise<ConfigResult> {
    const { result, position, appended } = await this.handler.run(ctx, work, { onConflict });
    return { state: result, position, appended };
  }

  private async conflict(configId: string): Promise<DomainError> {
    const state = await this.handler.state(configDecider, configStream(configId));
    const currentVersion = state.exists ? state.version : undefined;
    return new DomainError(
      'version_conflict',
      `Configuration was changed concurrently; it is now at version ${currentVersion}`,
      'expectedVersion',
      { currentVersion },
    );
  }
}
