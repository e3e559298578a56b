/**
 * Change requests and deployments. Each command reads the streams it needs, decides, and appends
 * to all of them in one atomic append with the revisions it read: an approval that starts a
 * deployment writes the approval, the deployment and the config (and, for a new config, the
 * tenant) together, so a deployment starts exactly once even when approvers race.
 */
import { randomUUID } from 'node:crypto';
import {
  WrongExpectedVersionError,
  type AppendRequest,
  type EventStore,
} from '../core/event-store/event-store.js';
import {
  decideApprove,
  decideCancel,
  decideExpire,
  decideReject,
  decideRequest,
  evolveApproval,
  initialApprovalState,
  type ApprovalEvent,
  type ApprovalState,
  type ChangeAction,
} from '../domain/approval.js';
import {
  configIdFor,
  decideAbortDeployment,
  decideCompleteDeployment,
  decideCreateConfig,
  decideDeleteConfig,
  requireLive,
  decideRevertDeployment,
  decideStartDeployment,
  type ConfigurationEvent,
  type ConfigurationState,
} from '../domain/configuration.js';
import {
  completionEvents,
  decideAdvance,
  decideManualRollback,
  decidePause,
  decideReportMetrics,
  decideResume,
  decideStartDeploymentStream,
  evolveDeployment,
  initialDeploymentState,
  requireDeployment,
  requirePromotable,
  type DeploymentEvent,
  type DeploymentState,
  type RolloutPlan,
  type Side,
} from '../domain/deployment.js';
import { DomainError } from '../domain/errors.js';
import {
  decideRegisterConfig,
  decideReleaseConfig,
  requireActiveTenant,
  requireDirectWrites,
  requiredApprovals,
  type QuotaLimits,
} from '../domain/tenant.js';
import { normaliseValue, type ConfigType } from '../domain/values.js';
import {
  expectedFor,
  fold,
  load,
  retryOnConflict,
  toNewEvents,
  type CommandContext,
  type Decider,
  type DomainEvent,
  type Loaded,
} from './command-handling.js';
import { configDecider, type ConfigGuard } from './config-commands.js';
import { approvalStream, configStream, deploymentStream, tenantStream } from './streams.js';
import { tenantDecider } from './tenant-commands.js';
import type { SchemaRegistry } from './schema-registry.js';

/** The deployment an approved Update starts (fixed when it was requested). */
function plannedDeployment(r: Extract<ApprovalState, { exists: true }>): string {
  if (r.deploymentId === null) {
    throw new DomainError('invalid_state', `Change request ${r.approvalId} deploys nothing`);
  }
  return r.deploymentId;
}

export const approvalDecider: Decider<ApprovalState, ApprovalEvent> = {
  initial: initialApprovalState,
  evolve: evolveApproval,
};
export const deploymentDecider: Decider<DeploymentState, DeploymentEvent> = {
  initial: initialDeploymentState,
  evolve: evolveDeployment,
};

export const newApprovalId = () => `apr_${randomUUID().replace(/-/g, '')}`;
export const newDeploymentId = () => `dep_${randomUUID().replace(/-/g, '')}`;

export interface WorkflowLimits extends QuotaLimits {
  approvalExpiryMs: number;
  approvalMinExpiryMs: number;
  approvalMaxExpiryMs: number;
}

export interface WorkflowResult<S> {
  state: S;
  position: bigint | undefined;
}

/** Collects appends to several streams so they go out as one atomic append. */
class Batch {
  private readonly requests: AppendRequest[] = [];
  constructor(private readonly ctx: CommandContext) {}
  add(streamId: string, loaded: Loaded<unknown>, events: DomainEvent[]): this {
    if (events.length) {
      this.requests.push({
        streamId,
        expected: expectedFor(loaded.revision),
        events: toNewEvents(events, this.ctx),
      });
    }
    return this;
  }
  async commit(store: EventStore): Promise<bigint | undefined> {
    if (!this.requests.length) return undefined;
    return (await store.append(this.requests)).position;
  }
}

export interface ChangeRequestInput {
  tenantId: string;
  key: string;
  environment: string;
  /** Update (the default) proposes `value`; Delete proposes deleting the config. */
  action?: ChangeAction;
  /** Required for a new config; must match an existing config's type. */
  type?: ConfigType;
  value?: unknown;
  description?: string | null;
  rollout: RolloutPlan;
  expiresInSeconds?: number;
  isSensitive?: boolean;
  tags?: string[];
}

export class WorkflowCommands {
  constructor(
    private readonly store: EventStore,
    private readonly limits: WorkflowLimits,
    /** Told when a deployment finishes (metrics). */
    private readonly onFinished: (outcome: 'completed' | 'rolled_back') => void = () => undefined,
    /** Checks proposed and deployed values against the config's schema, if it names one. */
    private readonly schemas?: SchemaRegistry,
  ) {}

  // ---- change requests -------------------------------------------------------------------

  /** Tenant, key and environment of a config, from its own stream. */
  async configIdentity(configId: string) {
    const { state } = await load(this.store, configStream(configId), configDecider);
    return state.exists
      ? { tenantId: state.tenantId, key: state.key, environment: state.environment }
      : undefined;
  }

  async requestChange(input: ChangeRequestInput, ctx: CommandContext, now = new Date()) {
    const configId = configIdFor(input.tenantId, input.environment, input.key);
    const [tenant, config] = await Promise.all([
      load(this.store, tenantStream(input.tenantId), tenantDecider),
      load(this.store, configStream(configId), configDecider),
    ]);
    requireActiveTenant(tenant.state, input.tenantId);
    const c = config.state;
    const live = c.exists && !c.deleted;
    const action = input.action ?? 'Update';
    if (action === 'Delete' && !live) throw notFound('Configuration', configId, 'configId');
    // A deleted config comes back with its old type unless the request names another.
    const type = live ? c.type : (input.type ?? (c.exists ? c.type : undefined));
    if (!type)
      throw new DomainError('validation', 'type is required for a new configuration', 'type');
    if (live && input.type && input.type !== c.type) {
      throw new DomainError(
        'validation',
        `type must be ${c.type}, the configuration's type`,
        'type',
      );
    }
    if (!live && input.rollout.strategy === 'Canary') {
      throw new DomainError(
        'validation',
        'A new configuration is created directly: use strategy Direct',
        'strategy',
      );
    }
    const proposedValue = action === 'Delete' ? '' : normaliseValue(type, input.value);
    // A deleted config comes back with its schema: the proposal must match it too.
    if (action === 'Update' && c.exists && (live || !input.type || input.type === c.type)) {
      await this.schemas?.checkValue(c, proposedValue);
    }
    const expiresInMs =
      input.expiresInSeconds === undefined
        ? this.limits.approvalExpiryMs
        : input.expiresInSeconds * 1000;
    if (
      expiresInMs < this.limits.approvalMinExpiryMs ||
      expiresInMs > this.limits.approvalMaxExpiryMs
    ) {
      throw new DomainError(
        'validation',
        `expiresInSeconds must be from ${this.limits.approvalMinExpiryMs / 1000} to ${this.limits.approvalMaxExpiryMs / 1000}`,
        'expiresInSeconds',
      );
    }
    const approvalId = newApprovalId();
    const events = decideRequest(initialApprovalState(), {
      approvalId,
      tenantId: input.tenantId,
      configId,
      key: input.key,
      environment: input.environment,
      type,
      action,
      proposedValue,
      currentValue: live ? c.value : null,
      baseVersion: c.exists ? c.version : 0,
      description: input.description ?? null,
      requestedBy: ctx.userId,
      // Even where the policy says 0, a request asks for at least one approval.
      requiredApprovals: Math.max(1, requiredApprovals(tenant.state, input.environment)),
      expiresAt: new Date(now.getTime() + expiresInMs).toISOString(),
      rollout: input.rollout,
      deploymentId: action === 'Delete' ? null : `dep_${approvalId.slice(4)}`,
      isSensitive: live ? c.isSensitive : (input.isSensitive ?? false),
      newConfig:
        live || action === 'Delete'
          ? null
          : { description: input.description ?? null, tags: input.tags ?? [] },
    });
    const position = await new Batch(ctx)
      .add(approvalStream(approvalId), { state: null, revision: -1n }, events)
      .commit(this.store);
    return {
      state: fold(approvalDecider, initialApprovalState(), events as ApprovalEvent[]),
      position,
    };
  }

  /**
   * One approval. The last one needed also starts the deployment (and, for Direct, applies the
   * value) in the same append; racing approvers lose on the approval stream's revision and retry
   * against the new state, where the request is no longer pending.
   */
  approve(
    cmd: { approvalId: string; comments: string | null },
    ctx: CommandContext,
    guard: ConfigGuard,
    now = () => new Date(),
  ): Promise<WorkflowResult<ApprovalState>> {
    return retryOnConflict(async () => {
      const approval = await load(this.store, approvalStream(cmd.approvalId), approvalDecider);
      const a = approval.state;
      if (!a.exists) throw notFound('Change request', cmd.approvalId, 'approvalId');
      guard(a.tenantId, a.environment, a.configId);
      const config = await load(this.store, configStream(a.configId), configDecider);
      let decision;
      try {
        decision = decideApprove(a, {
          approvalId: cmd.approvalId,
          approver: ctx.userId,
          comments: cmd.comments,
          now: now(),
          currentVersion: config.state.exists ? config.state.version : 0,
        });
      } catch (error) {
        // The config may look changed only because a racing approver's deployment just landed:
        // if the request moved too, decide again on its new state.
        const moved = (await this.store.readStream(approvalStream(cmd.approvalId))).revision;
        if (error instanceof DomainError && error.code === 'stale' && moved !== approval.revision) {
          throw new WrongExpectedVersionError(
            approvalStream(cmd.approvalId),
            approval.revision,
            moved,
          );
        }
        throw error;
      }
      const batch = new Batch(ctx);
      const r = decision.request;
      if (decision.approved && r.action === 'Delete') {
        // As DELETE does: the config goes, its quota slot is freed; nothing is deployed.
        const tenant = await load(this.store, tenantStream(r.tenantId), tenantDecider);
        requireActiveTenant(tenant.state, r.tenantId);
        const live = requireLive(config.state, r.configId);
        batch.add(
          configStream(r.configId),
          config,
          decideDeleteConfig(config.state, {
            configId: r.configId,
            expectedVersion: r.baseVersion,
          }),
        );
        batch.add(
          tenantStream(r.tenantId),
          tenant,
          decideReleaseConfig(tenant.state, {
            tenantId: r.tenantId,
            configId: r.configId,
            key: live.key,
            environment: live.environment,
          }),
        );
      } else if (decision.approved) {
        const deploymentId = plannedDeployment(r);
        const tenant = await load(this.store, tenantStream(r.tenantId), tenantDecider);
        requireActiveTenant(tenant.state, r.tenantId);
        let configEvents: ConfigurationEvent[];
        let tenantEvents: DomainEvent[] = [];
        const live = config.state.exists && !config.state.deleted;
        if (!live) {
          // The request creates the config: register it with the tenant (quota) too.
          configEvents = decideCreateConfig(config.state, {
            tenantId: r.tenantId,
            key: r.key,
            environment: r.environment,
            type: r.type,
            value: r.proposedValue,
            description: r.newConfig?.description ?? null,
            tags: r.newConfig?.tags ?? [],
            isSensitive: r.isSensitive,
            // A deleted key comes back with the schema (and default) it had.
            ...(config.state.exists && r.type === config.state.type
              ? { schemaId: config.state.schemaId, defaultValue: config.state.defaultValue }
              : {}),
            changeDescription: `Change request ${r.approvalId}`,
          });
          tenantEvents = decideRegisterConfig(
            tenant.state,
            { tenantId: r.tenantId, configId: r.configId, key: r.key, environment: r.environment },
            this.limits,
          );
        } else {
          // The schema may have a new version since the request was made.
          await this.schemas?.checkValue(config.state, r.proposedValue);
          configEvents = decideStartDeployment(config.state, {
            configId: r.configId,
            deploymentId,
            value: r.proposedValue,
          }).events;
        }
        const deployment = this.startEvents(r, config.state, configEvents, ctx.userId, live);
        await this.schemas?.checkOutcome(config.state, deployment.configEvents);
        batch.add(tenantStream(r.tenantId), tenant, tenantEvents);
        batch.add(configStream(r.configId), config, deployment.configEvents);
        batch.add(
          deploymentStream(deploymentId),
          { state: null, revision: -1n },
          deployment.events,
        );
      }
      batch.add(approvalStream(cmd.approvalId), approval, decision.events);
      const position = await batch.commit(this.store);
      if (decision.approved && r.action === 'Update' && r.rollout.strategy === 'Direct') {
        this.onFinished('completed');
      }
      return { state: fold(approvalDecider, a, decision.events), position };
    });
  }

  /** Deployment events for an approved request, plus its config events (Direct completes now). */
  private startEvents(
    r: Extract<ApprovalState, { exists: true }>,
    configBefore: ConfigurationState,
    configEvents: ConfigurationEvent[],
    deployedBy: string,
    live: boolean,
  ) {
    const started = decideStartDeploymentStream(initialDeploymentState(), {
      deploymentId: plannedDeployment(r),
      tenantId: r.tenantId,
      configId: r.configId,
      key: r.key,
      environment: r.environment,
      type: r.type,
      value: r.proposedValue,
      previousValue: live && configBefore.exists ? configBefore.value : null,
      baseVersion: configBefore.exists ? configBefore.version : 0,
      plan: r.rollout,
      approvalId: r.approvalId,
      deployedBy,
      isSensitive: r.isSensitive,
    });
    return this.withDirectCompletion(started, configBefore, configEvents, live);
  }

  /** Direct deployments complete in the same append as their start. */
  private withDirectCompletion(
    started: DeploymentEvent[],
    configBefore: ConfigurationState,
    configEvents: ConfigurationEvent[],
    live: boolean,
  ) {
    const d = requireDeployment(fold(deploymentDecider, initialDeploymentState(), started), '');
    if (d.strategy !== 'Direct') return { events: started, configEvents };
    let allConfigEvents = configEvents;
    if (live) {
      const held = fold(configDecider, configBefore, configEvents);
      allConfigEvents = [
        ...configEvents,
        ...decideCompleteDeployment(held, {
          configId: d.configId,
          deploymentId: d.deploymentId,
          value: d.value,
        }),
      ];
    }
    const after = fold(configDecider, configBefore, allConfigEvents);
    const version = after.exists ? after.version : 0;
    return {
      events: [...started, ...completionEvents(d, version, false)],
      configEvents: allConfigEvents,
    };
  }

  reject(
    cmd: { approvalId: string; comments: string | null },
    ctx: CommandContext,
    guard: ConfigGuard,
  ) {
    return this.onApproval(cmd.approvalId, ctx, guard, (s) =>
      decideReject(s, {
        approvalId: cmd.approvalId,
        by: ctx.userId,
        comments: cmd.comments,
        now: new Date(),
      }),
    );
  }

  cancel(
    cmd: { approvalId: string; comments: string | null },
    ctx: CommandContext,
    guard: ConfigGuard,
  ) {
    return this.onApproval(cmd.approvalId, ctx, guard, (s) =>
      decideCancel(s, {
        approvalId: cmd.approvalId,
        by: ctx.userId,
        comments: cmd.comments,
        now: new Date(),
      }),
    );
  }

  /** The expiry job. Late or repeated runs append at most one expiry, never after resolution. */
  expire(approvalId: string, ctx: CommandContext, now = new Date()) {
    return this.onApproval(
      approvalId,
      ctx,
      () => undefined,
      (s) => decideExpire(s, now),
      true,
    );
  }

  private async onApproval(
    approvalId: string,
    ctx: CommandContext,
    guard: ConfigGuard,
    decide: (s: ApprovalState) => ApprovalEvent[],
    quietIfMissing = false,
  ): Promise<WorkflowResult<ApprovalState>> {
    // Racing reviewers: the loser re-reads and is told the request is no longer pending.
    return retryOnConflict(async () => {
      const approval = await load(this.store, approvalStream(approvalId), approvalDecider);
      if (!approval.state.exists) {
        if (quietIfMissing) return { state: approval.state, position: undefined };
        throw notFound('Change request', approvalId, 'approvalId');
      }
      guard(approval.state.tenantId, approval.state.environment, approval.state.configId);
      const events = decide(approval.state);
      const position = await new Batch(ctx)
        .add(approvalStream(approvalId), approval, events)
        .commit(this.store);
      return { state: fold(approvalDecider, approval.state, events), position };
    });
  }

  // ---- deployments -----------------------------------------------------------------------

  /** POST /deployments: environments that need no approval. */
  async startDeployment(
    cmd: { configId: string; value: unknown; rollout: RolloutPlan; expectedVersion?: number },
    ctx: CommandContext,
    guard: ConfigGuard,
  ): Promise<WorkflowResult<DeploymentState>> {
    const config = await load(this.store, configStream(cmd.configId), configDecider);
    const c = config.state;
    if (!c.exists || c.deleted) throw notFound('Configuration', cmd.configId, 'configId');
    guard(c.tenantId, c.environment, c.configId);
    const tenant = await load(this.store, tenantStream(c.tenantId), tenantDecider);
    requireActiveTenant(tenant.state, c.tenantId);
    requireDirectWrites(tenant.state, c.environment);
    if (cmd.expectedVersion !== undefined && cmd.expectedVersion !== c.version) {
      throw new DomainError(
        'version_conflict',
        `Configuration is at version ${c.version}`,
        'expectedVersion',
        {
          currentVersion: c.version,
        },
      );
    }
    const deploymentId = newDeploymentId();
    const start = decideStartDeployment(c, {
      configId: c.configId,
      deploymentId,
      value: cmd.value,
    });
    if (start.value === c.value) {
      throw new DomainError('validation', 'The value is already the current value', 'value');
    }
    await this.schemas?.checkValue(c, start.value);
    const started = decideStartDeploymentStream(initialDeploymentState(), {
      deploymentId,
      tenantId: c.tenantId,
      configId: c.configId,
      key: c.key,
      environment: c.environment,
      type: c.type,
      value: start.value,
      previousValue: c.value,
      baseVersion: c.version,
      plan: cmd.rollout,
      approvalId: null,
      deployedBy: ctx.userId,
      isSensitive: c.isSensitive,
    });
    const { events, configEvents } = this.withDirectCompletion(started, c, start.events, true);
    try {
      const position = await new Batch(ctx)
        .add(configStream(c.configId), config, configEvents)
        .add(deploymentStream(deploymentId), { state: null, revision: -1n }, events)
        .commit(this.store);
      if (cmd.rollout.strategy === 'Direct') this.onFinished('completed');
      return { state: fold(deploymentDecider, initialDeploymentState(), events), position };
    } catch (error) {
      // Someone changed the config (or started a deployment) since it was read.
      if ((error as Error).name === 'WrongExpectedVersionError') {
        throw new DomainError(
          'version_conflict',
          'The configuration changed concurrently; retry',
          'configId',
        );
      }
      throw error;
    }
  }

  /** The step job, after a bake time. */
  advance(deploymentId: string, stepIndex: number, ctx: CommandContext, bake?: number) {
    return retryOnConflict(async () => {
      const deployment = await load(this.store, deploymentStream(deploymentId), deploymentDecider);
      const decision = decideAdvance(deployment.state, stepIndex, bake);
      if (decision.kind === 'none') return { state: deployment.state, position: undefined };
      // A suspended or deleted tenant takes no changes: its rollout pauses where it is (visible,
      // and resumable once the tenant is active again) instead of writing a new version.
      const d = requireDeployment(deployment.state, deploymentId);
      const tenant = await load(this.store, tenantStream(d.tenantId), tenantDecider);
      if (!tenant.state.exists || tenant.state.status !== 'Active') {
        const events = decidePause(deployment.state, { deploymentId, by: ctx.userId });
        const position = await new Batch(ctx)
          .add(deploymentStream(deploymentId), deployment, events)
          .commit(this.store);
        return { state: fold(deploymentDecider, deployment.state, events), position };
      }
      if (decision.kind === 'step') {
        const position = await new Batch(ctx)
          .add(deploymentStream(deploymentId), deployment, decision.events)
          .commit(this.store);
        return { state: fold(deploymentDecider, deployment.state, decision.events), position };
      }
      return this.complete(deployment, false, ctx);
    });
  }

  private async complete(
    deployment: Loaded<DeploymentState>,
    promoted: boolean,
    ctx: CommandContext,
  ): Promise<WorkflowResult<DeploymentState>> {
    const d = requireDeployment(deployment.state, '');
    const config = await load(this.store, configStream(d.configId), configDecider);
    if (config.state.exists && config.state.activeDeploymentId !== d.deploymentId) {
      // Another completion (a second job, a promote) landed between the two reads: re-read.
      const now = (await this.store.readStream(deploymentStream(d.deploymentId))).revision;
      if (now !== deployment.revision) {
        throw new WrongExpectedVersionError(
          deploymentStream(d.deploymentId),
          deployment.revision,
          now,
        );
      }
    }
    const configEvents = decideCompleteDeployment(config.state, {
      configId: d.configId,
      deploymentId: d.deploymentId,
      value: d.value,
    });
    // Schema versions that would refuse a value being rolled out are refused themselves; this
    // covers the instant in between.
    await this.schemas?.checkOutcome(config.state, configEvents);
    const after = fold(configDecider, config.state, configEvents);
    const events = completionEvents(d, after.exists ? after.version : 0, promoted);
    const position = await new Batch(ctx)
      .add(configStream(d.configId), config, configEvents)
      .add(deploymentStream(d.deploymentId), deployment, events)
      .commit(this.store);
    this.onFinished('completed');
    return { state: fold(deploymentDecider, d, events), position };
  }

  /** Apps report what they saw; too many canary errors roll the deployment back at once. */
  reportMetrics(
    cmd: { deploymentId: string; side: Side; requests: number; errors: number },
    ctx: CommandContext,
    guard: ConfigGuard,
  ) {
    return retryOnConflict(async () => {
      const deployment = await this.loadGuarded(cmd.deploymentId, guard);
      const decision = decideReportMetrics(deployment.state, cmd);
      const batch = new Batch(ctx);
      if (decision.rolledBack) {
        const d = requireDeployment(deployment.state, cmd.deploymentId);
        const config = await load(this.store, configStream(d.configId), configDecider);
        batch.add(
          configStream(d.configId),
          config,
          decideAbortDeployment(config.state, {
            configId: d.configId,
            deploymentId: d.deploymentId,
          }),
        );
      }
      batch.add(deploymentStream(cmd.deploymentId), deployment, decision.events);
      const position = await batch.commit(this.store);
      if (decision.rolledBack) this.onFinished('rolled_back');
      return {
        state: fold(deploymentDecider, deployment.state, decision.events),
        position,
        rolledBack: decision.rolledBack,
      };
    });
  }

  pause(deploymentId: string, ctx: CommandContext, guard: ConfigGuard) {
    return this.onDeployment(deploymentId, ctx, guard, (s) =>
      decidePause(s, { deploymentId, by: ctx.userId }),
    );
  }

  async resume(deploymentId: string, ctx: CommandContext, guard: ConfigGuard) {
    const deployment = await this.loadGuarded(deploymentId, guard);
    await this.requireActiveTenantOf(deployment.state, deploymentId);
    return this.onDeployment(deploymentId, ctx, guard, (s) =>
      decideResume(s, { deploymentId, by: ctx.userId }),
    );
  }

  /** Moving a rollout on writes the config: its tenant must be active. */
  private async requireActiveTenantOf(state: DeploymentState, deploymentId: string) {
    const d = requireDeployment(state, deploymentId);
    const tenant = await load(this.store, tenantStream(d.tenantId), tenantDecider);
    requireActiveTenant(tenant.state, d.tenantId);
  }

  promote(deploymentId: string, ctx: CommandContext, guard: ConfigGuard) {
    return retryOnConflict(async () => {
      const deployment = await this.loadGuarded(deploymentId, guard);
      requirePromotable(deployment.state, deploymentId);
      await this.requireActiveTenantOf(deployment.state, deploymentId);
      return this.complete(deployment, true, ctx);
    });
  }

  /** Manual rollback: stops a running deployment, or reverts a completed one as a new version. */
  rollback(deploymentId: string, reason: string, ctx: CommandContext, guard: ConfigGuard) {
    return retryOnConflict(async () => {
      const deployment = await this.loadGuarded(deploymentId, guard);
      const d = requireDeployment(deployment.state, deploymentId);
      const config = await load(this.store, configStream(d.configId), configDecider);
      let configEvents: ConfigurationEvent[];
      let restoredVersion: number | null = null;
      if (d.status === 'Completed') {
        // Reverting writes a new version: in a protected environment that takes a change request.
        // (Stopping a running deployment below stays open to editors: it is the safe direction.)
        const tenant = await load(this.store, tenantStream(d.tenantId), tenantDecider);
        requireActiveTenant(tenant.state, d.tenantId);
        requireDirectWrites(tenant.state, d.environment);
        if (d.baseVersion === 0 || d.previousValue === null) {
          throw new DomainError(
            'invalid_state',
            'This deployment created the configuration; delete the configuration instead',
          );
        }
        configEvents = decideRevertDeployment(config.state, {
          configId: d.configId,
          deploymentId,
          deployedVersion: d.deployedVersion ?? -1,
          toVersion: d.baseVersion,
          reason,
        });
        await this.schemas?.checkOutcome(config.state, configEvents);
        restoredVersion = d.baseVersion;
      } else {
        configEvents = decideAbortDeployment(config.state, { configId: d.configId, deploymentId });
      }
      const events = decideManualRollback(d, { deploymentId, reason, restoredVersion });
      const position = await new Batch(ctx)
        .add(configStream(d.configId), config, configEvents)
        .add(deploymentStream(deploymentId), deployment, events)
        .commit(this.store);
      // A completed deployment was counted as completed; its revert is a failure too.
      this.onFinished('rolled_back');
      return { state: fold(deploymentDecider, d, events), position };
    });
  }

  private async loadGuarded(deploymentId: string, guard: ConfigGuard) {
    const deployment = await load(this.store, deploymentStream(deploymentId), deploymentDecider);
    const d = deployment.state;
    if (!d.exists) throw notFound('Deployment', deploymentId, 'deploymentId');
    guard(d.tenantId, d.environment, d.configId);
    return deployment;
  }

  private onDeployment(
    deploymentId: string,
    ctx: CommandContext,
    guard: ConfigGuard,
    decide: (s: DeploymentState) => DeploymentEvent[],
  ): Promise<WorkflowResult<DeploymentState>> {
    // Metrics reports and step jobs append to the same stream all the time: re-decide on a race.
    return retryOnConflict(async () => {
      const deployment = await this.loadGuarded(deploymentId, guard);
      const events = decide(deployment.state);
      const position = await new Batch(ctx)
        .add(deploymentStream(deploymentId), deployment, events)
        .commit(this.store);
      return { state: fold(deploymentDecider, deployment.state, events), position };
    });
  }
}

function notFound(what: string, id: string, field: string) {
  return new DomainError('not_found', `${what} '${id}' not found`, field);
}
