/**
 * Change requests, through the one command handler. Submitting is decided by
 * `change-request-submit.process.ts`, approving by `change-request-approval.process.ts`; an
 * approval that starts a deployment writes the request, the deployment and the config (and, for
 * a new config, the tenant) in one atomic append, so a deployment starts exactly once even when
 * approvers race. What stays here is I/O: guards, schema checks, what a lost race means.
 */
import type { EventStore } from '../../core/event-store/event-store.js';
import { changeRequestDecider, type ApprovalState } from './change-request.decider.js';
import { configDecider, configIdFor } from '../configs/config.decider.js';
import { deploymentDecider } from '../deployments/deployment.decider.js';
import { DomainError } from '../../core/domain-error.js';
import { declaredEnvironment, tenantDecider, type QuotaLimits } from '../tenants/tenant.decider.js';
import {
  notFound,
  type CommandContext,
  type CommandOutcome,
} from '../../core/commands/command-handling.js';
import { CommandHandler, type Attempt } from '../../core/commands/command-handler.js';
import type { ConfigGuard } from '../configs/configs.commands.js';
import {
  approvalStream,
  configStream,
  deploymentStream,
  scheduleStream,
  tenantStream,
} from '../../core/streams.js';
import { scheduledChangeDecider } from '../scheduled-changes/scheduled-change.decider.js';
import { decideCancelScheduledRequest } from '../scheduled-changes/scheduled-change-request.process.js';
import type { SchemaRegistry } from '../config-schemas/schema-registry.js';
import {
  decideSubmission,
  newApprovalId,
  proposalHasSchema,
  type ChangeRequestInput,
  type ExpiryLimits,
} from './change-request-submit.process.js';
import { decideApproval, type ApprovalWrite } from './change-request-approval.process.js';

export { newApprovalId, type ChangeRequestInput } from './change-request-submit.process.js';

const scheduleIdOf = (events: { data: { scheduleId: string } }[]) => events[0]!.data.scheduleId;

export interface ChangeRequestLimits extends QuotaLimits, ExpiryLimits {}

type ReviewCommand = Parameters<typeof changeRequestDecider.decide>[0];

export class ChangeRequestCommands {
  private readonly handler: CommandHandler;

  constructor(
    store: EventStore,
    private readonly limits: ChangeRequestLimits,
    /** Told when an approval completes a Direct deployment (metrics). */
    private readonly onFinished: (outcome: 'completed' | 'rolled_back') => void = () => undefined,
    /** Checks proposed and deployed values against the config's schema, if it names one. */
    private readonly schemas?: SchemaRegistry,
  ) {
    this.handler = new CommandHandler(store);
  }

  /** Tenant, key and environment of a config, from its own stream. */
  async configIdentity(configId: string) {
    const state = await this.handler.state(configDecider, configStream(configId));
    return state.exists
      ? { tenantId: state.tenantId, key: state.key, environment: state.environment }
      : undefined;
  }

  async requestChange(input: ChangeRequestInput, ctx: CommandContext, now = new Date()) {
    const approvalId = newApprovalId();
    const { result, position } = await this.handler.run(ctx, async (attempt) => {
      const tenant = await attempt.read(tenantDecider, tenantStream(input.tenantId));
      // `production` is Production: the declared spelling names the config (and its id).
      const environment = declaredEnvironment(tenant.state, input.tenantId, input.environment);
      input = { ...input, environment };
      const config = await attempt.read(
        configDecider,
        configStream(configIdFor(input.tenantId, environment, input.key)),
      );
      const events = decideSubmission({ tenant: tenant.state, config: config.state }, input, {
        approvalId,
        requestedBy: ctx.userId,
        now,
        limits: this.limits,
      });
      if (proposalHasSchema(config.state, input)) {
        const requested = events[0]!.data as { proposedValue: string };
        await this.schemas?.checkValue(config.state, requested.proposedValue);
      }
      const approval = attempt.create(changeRequestDecider, approvalStream(approvalId));
      attempt.stage(approval, events);
      return approval.state;
    });
    return { state: result, position };
  }

  /**
   * One approval. The last one needed also carries the change out in the same append; racing
   * approvers lose on the request stream's revision and decide again against the new state,
   * where the request is no longer pending.
   */
  async approve(
    cmd: { approvalId: string; comments: string | null },
    ctx: CommandContext,
    guard: ConfigGuard,
    now = () => new Date(),
  ): Promise<CommandOutcome<ApprovalState>> {
    const { result, position } = await this.handler.run(ctx, async (attempt) => {
      const approval = await this.readGuarded(attempt, cmd.approvalId, guard);
      const a = approval.state as Extract<ApprovalState, { exists: true }>;
      const [config, tenant] = await Promise.all([
        attempt.read(configDecider, configStream(a.configId)),
        attempt.read(tenantDecider, tenantStream(a.tenantId)),
      ]);
      let write: ApprovalWrite;
      try {
        write = decideApproval(
          { approval: a, config: config.state, tenant: tenant.state },
          { approvalId: cmd.approvalId, approver: ctx.userId, comments: cmd.comments, now: now() },
          this.limits,
        );
      } catch (error) {
        // The config may look changed only because a racing approver's deployment just landed:
        // if the request moved too, decide again on its new state.
        if (error instanceof DomainError && error.code === 'stale') {
          await attempt.requireUnmoved(approval);
        }
        throw error;
      }
      const r = write.request;
      if (write.schedule.length > 0) {
        // Approved with an applyAt: the schedule's job carries it out then, nothing else now.
        const schedule = attempt.create(
          scheduledChangeDecider,
          scheduleStream(r.tenantId, scheduleIdOf(write.schedule)),
        );
        attempt.stage(schedule, write.schedule);
        attempt.stage(approval, write.approval);
        return { state: approval.state, write };
      }
      if (write.approved && r.action === 'Update') {
        // The schema may have a new version since the request was made.
        if (config.state.exists && !config.state.deleted) {
          await this.schemas?.checkValue(config.state, r.proposedValue);
        }
        await this.schemas?.checkOutcome(config.state, write.config);
      }
      if (r.action === 'Delete') {
        attempt.stage(config, write.config);
        attempt.stage(tenant, write.tenant);
      } else {
        attempt.stage(tenant, write.tenant);
        attempt.stage(config, write.config);
        if (write.deployment.length) {
          const deploymentId = r.deploymentId!;
          const deployment = attempt.create(deploymentDecider, deploymentStream(deploymentId));
          attempt.stage(deployment, write.deployment);
        }
      }
      attempt.stage(approval, write.approval);
      return { state: approval.state, write };
    });
    const { write } = result;
    if (write.approved && write.request.action === 'Update' && write.schedule.length === 0) {
      if (write.request.rollout.strategy === 'Direct') this.onFinished('completed');
    }
    return { state: result.state, position };
  }

  reject(
    cmd: { approvalId: string; comments: string | null },
    ctx: CommandContext,
    guard: ConfigGuard,
  ) {
    return this.review(cmd.approvalId, ctx, guard, {
      type: 'RejectChange',
      data: { approvalId: cmd.approvalId, by: ctx.userId, comments: cmd.comments, now: new Date() },
    });
  }

  /**
   * Pending: only its requester may cancel it. Approved and waiting for its applyAt: anyone who
   * may write the environment may, as for any scheduled change; the schedule ends with it.
   */
  async cancel(
    cmd: { approvalId: string; comments: string | null },
    ctx: CommandContext,
    guard: ConfigGuard,
  ): Promise<CommandOutcome<ApprovalState>> {
    const { result, position } = await this.handler.run(ctx, async (attempt) => {
      const approval = await this.readGuarded(attempt, cmd.approvalId, guard);
      const a = approval.state as Extract<ApprovalState, { exists: true }>;
      if (a.status === 'Approved' && a.scheduleId) {
        const schedule = await attempt.read(
          scheduledChangeDecider,
          scheduleStream(a.tenantId, a.scheduleId),
        );
        const write = decideCancelScheduledRequest(
          { schedule: schedule.state, approval: a },
          { approvalId: cmd.approvalId, by: ctx.userId, comments: cmd.comments },
        );
        attempt.stage(approval, write.approval);
        attempt.stage(schedule, write.schedule);
        return approval.state;
      }
      attempt.decide(changeRequestDecider, approval, {
        type: 'CancelChange',
        data: {
          approvalId: cmd.approvalId,
          by: ctx.userId,
          comments: cmd.comments,
          now: new Date(),
        },
      });
      return approval.state;
    });
    return { state: result, position };
  }

  /** The expiry job. Late or repeated runs append at most one expiry, never after resolution. */
  async expire(approvalId: string, ctx: CommandContext, now = new Date()) {
    const { state, position } = await this.handler.handle(
      changeRequestDecider,
      approvalStream(approvalId),
      { type: 'ExpireChange', data: { now } },
      ctx,
    );
    return { state, position };
  }

  private async readGuarded(attempt: Attempt, approvalId: string, guard: ConfigGuard) {
    const approval = await attempt.read(changeRequestDecider, approvalStream(approvalId));
    const a = approval.state;
    if (!a.exists) throw notFound('Change request', approvalId, 'approvalId');
    guard(a.tenantId, a.environment, a.configId);
    return approval;
  }

  /** Racing reviewers: the loser decides again and is told the request is no longer pending. */
  private async review(
    approvalId: string,
    ctx: CommandContext,
    guard: ConfigGuard,
    command: ReviewCommand,
  ): Promise<CommandOutcome<ApprovalState>> {
    const { result, position } = await this.handler.run(ctx, async (attempt) => {
      const approval = await this.readGuarded(attempt, approvalId, guard);
      attempt.decide(changeRequestDecider, approval, command);
      return approval.state;
    });
    return { state: result, position };
  }
}
