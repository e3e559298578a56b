/**
 * Scheduled changes: scheduling checks the value against the configuration now (type, schema)
 * and records it with the version it was made against; the job at `applyAt` applies it and
 * records the outcome in one append (the config's new version and the schedule's Applied), or
 * records it as failed (stale, deleted, held by a deployment, approval now needed). A schedule
 * that carries an approved change request (`approvalId`) is carried out as its approval would
 * have been (`scheduled-change-request.process.ts`): a deployment, a new key or a delete.
 */
import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../core/event-store/event-store.js';
import { DomainError } from '../../core/domain-error.js';
import { notFound, type CommandContext } from '../../core/commands/command-handling.js';
import { CommandHandler, type Attempt, type Stream } from '../../core/commands/command-handler.js';
import {
  approvalStream,
  configStream,
  deploymentStream,
  scheduleStream,
  tenantStream,
} from '../../core/streams.js';
import { changeRequestDecider } from '../change-requests/change-request.decider.js';
import { deploymentDecider } from '../deployments/deployment.decider.js';
import {
  decideApplyScheduledRequest,
  decideCancelScheduledRequest,
} from './scheduled-change-request.process.js';
import { configDecider, decideUpdateConfig, requireLive } from '../configs/config.decider.js';
import { normaliseValue } from '../configs/config-values.js';
import type { ConfigGuard } from '../configs/configs.commands.js';
import {
  requireActiveTenant,
  requireDirectWrites,
  tenantDecider,
  type QuotaLimits,
} from '../tenants/tenant.decider.js';
import type { SchemaRegistry } from '../config-schemas/schema-registry.js';
import {
  decideScheduledChange,
  failScheduledChange,
  scheduledChangeDecider,
  type ScheduledChangeState,
} from './scheduled-change.decider.js';

export const newScheduleId = () => `sch_${randomUUID().replace(/-/g, '')}`;

export interface ScheduleOutcome {
  state: ScheduledChangeState;
  position: bigint | undefined;
}

export class ScheduledChangeCommands {
  private readonly handler: CommandHandler;

  constructor(
    store: EventStore,
    private readonly schemas?: SchemaRegistry,
    /** For a change request's schedule that creates a key (the tenant's quota). */
    private readonly limits: QuotaLimits = { maxConfigsPerTenant: Number.MAX_SAFE_INTEGER },
  ) {
    this.handler = new CommandHandler(store);
  }

  async schedule(
    cmd: {
      configId: string;
      value: unknown;
      applyAt: string;
      expectedVersion?: number;
      changeDescription?: string | null;
    },
    ctx: CommandContext,
    guard: ConfigGuard,
    now = new Date(),
  ): Promise<ScheduleOutcome> {
    const live = requireLive(
      await this.handler.state(configDecider, configStream(cmd.configId)),
      cmd.configId,
    );
    guard(live.tenantId, live.environment, cmd.configId);
    const tenant = { state: await this.handler.state(tenantDecider, tenantStream(live.tenantId)) };
    requireActiveTenant(tenant.state, live.tenantId);
    // Scheduling is a direct change, later: where changes need approval, a change request
    // carries the applyAt instead.
    try {
      requireDirectWrites(tenant.state, live.environment);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      throw new DomainError(
        error.code,
        `${error.message}, with applyAt: approved, it is applied then`,
        error.field,
        error.details,
      );
    }
    if (cmd.expectedVersion !== undefined && cmd.expectedVersion !== live.version) {
      throw new DomainError(
        'version_conflict',
        `Configuration is at version ${live.version}, not ${cmd.expectedVersion}`,
        'expectedVersion',
        { currentVersion: live.version },
      );
    }
    const value = normaliseValue(live.type, cmd.value);
    if (value === live.value) {
      throw new DomainError('validation', 'The value is the current value', 'value');
    }
    await this.schemas?.checkValue(live, value);
    const scheduleId = newScheduleId();
    const stream = scheduleStream(live.tenantId, scheduleId);
    const { result, position } = await this.handler.run(ctx, (attempt) => {
      const schedule = attempt.create(scheduledChangeDecider, stream);
      attempt.decide(scheduledChangeDecider, schedule, {
        type: 'ScheduleChange',
        data: {
          scheduleId,
          tenantId: live.tenantId,
          configId: live.configId,
          key: live.key,
          environment: live.environment,
          type: live.type,
          value,
          baseVersion: live.version,
          applyAt: new Date(cmd.applyAt).toISOString(),
          isSensitive: live.isSensitive,
          changeDescription: cmd.changeDescription ?? null,
          requestedBy: ctx.userId,
          now,
        },
      });
      return schedule.state;
    });
    return { state: result, position };
  }

  async cancel(
    cmd: { tenantId: string; scheduleId: string },
    ctx: CommandContext,
    guard: ConfigGuard,
  ): Promise<ScheduleOutcome> {
    const { result, position } = await this.handler.run(ctx, async (attempt) => {
      const schedule = await attempt.read(
        scheduledChangeDecider,
        scheduleStream(cmd.tenantId, cmd.scheduleId),
      );
      if (!schedule.state.exists) throw notFound('Scheduled change', cmd.scheduleId, 'scheduleId');
      guard(schedule.state.tenantId, schedule.state.environment, schedule.state.configId);
      const approvalId = schedule.state.approvalId;
      if (approvalId) {
        // The change request it carries out ends with it.
        const approval = await attempt.read(changeRequestDecider, approvalStream(approvalId));
        const write = decideCancelScheduledRequest(
          { schedule: schedule.state, approval: approval.state },
          { approvalId, by: ctx.userId, comments: null },
        );
        attempt.stage(approval, write.approval);
        attempt.stage(schedule, write.schedule);
        return schedule.state;
      }
      attempt.decide(scheduledChangeDecider, schedule, {
        type: 'CancelScheduledChange',
        data: { ...cmd, by: ctx.userId },
      });
      return schedule.state;
    });
    return { state: result, position };
  }

  /**
   * The job: applies the change, or records why it cannot. The config's revision is part of the
   * append, so a write that slips in between makes this run again and fail as stale; a cancel
   * that slips in makes it do nothing.
   */
  async apply(
    cmd: { tenantId: string; scheduleId: string },
    ctx: CommandContext,
    now = () => new Date(),
  ): Promise<ScheduleOutcome> {
    const { result, position } = await this.handler.run(ctx, async (attempt) => {
      const schedule = await attempt.read(
        scheduledChangeDecider,
        scheduleStream(cmd.tenantId, cmd.scheduleId),
      );
      const s = schedule.state;
      if (!s.exists) return s;
      if (s.approvalId) {
        await this.applyRequest(attempt, schedule, s.approvalId, now());
        return schedule.state;
      }
      const config = await attempt.read(configDecider, configStream(s.configId));
      const tenant = await attempt.read(tenantDecider, tenantStream(s.tenantId));
      let blocked: string | null = null;
      try {
        requireActiveTenant(tenant.state, s.tenantId);
        requireDirectWrites(tenant.state, s.environment);
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        blocked = error.message;
      }
      const before = config.state;
      const events = decideScheduledChange(
        {
          type: 'ApplyScheduledChange',
          data: { ...cmd, now: now(), config: before, blocked },
        },
        s,
      );
      if (events.some((e) => e.type === 'ScheduledChangeApplied')) {
        const configEvents = decideUpdateConfig(before, {
          configId: s.configId,
          expectedVersion: s.baseVersion,
          value: s.value,
          changeDescription: s.changeDescription ?? `Scheduled change ${s.scheduleId}`,
        });
        await this.schemas?.checkOutcome(before, configEvents);
        attempt.stage(config, configEvents);
      }
      attempt.stage(schedule, events);
      return schedule.state;
    });
    return { state: result, position };
  }

  /** A change request's schedule: carried out as its approval would have been, or failed. */
  private async applyRequest(
    attempt: Attempt,
    schedule: Stream<ScheduledChangeState>,
    approvalId: string,
    now: Date,
  ): Promise<void> {
    const s = schedule.state;
    if (!s.exists) return;
    const [approval, config, tenant] = await Promise.all([
      attempt.read(changeRequestDecider, approvalStream(approvalId)),
      attempt.read(configDecider, configStream(s.configId)),
      attempt.read(tenantDecider, tenantStream(s.tenantId)),
    ]);
    const write = decideApplyScheduledRequest(
      { schedule: s, approval: approval.state, config: config.state, tenant: tenant.state },
      { now },
      this.limits,
    );
    if (write.config.length > 0) {
      try {
        // The schema may have a new version since the request was made.
        if (s.action !== 'Delete' && config.state.exists && !config.state.deleted) {
          await this.schemas?.checkValue(config.state, s.value);
        }
        await this.schemas?.checkOutcome(config.state, write.config);
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        const current = config.state.exists ? config.state.version : 0;
        attempt.stage(schedule, failScheduledChange(s, error.message, current));
        return;
      }
    }
    attempt.stage(tenant, write.tenant);
    attempt.stage(config, write.config);
    if (write.deployment.length > 0 && approval.state.exists) {
      const deployment = attempt.create(
        deploymentDecider,
        deploymentStream(approval.state.deploymentId!),
      );
      attempt.stage(deployment, write.deployment);
    }
    attempt.stage(schedule, write.schedule);
  }
}
