import { tenantDecider, type CreateTenant, type UpdateTenant } from './tenant.decider.js';
import type { CommandContext } from '../../core/commands/command-handling.js';
import { CommandHandler } from '../../core/commands/command-handler.js';
import type { EventStore } from '../../core/event-store/event-store.js';
import { tenantStream } from '../../core/streams.js';

export type { CommandResult } from '../../core/commands/command-handling.js';

/**
 * Tenant commands: one stream each. The tenant stream also takes configuration registrations,
 * so a lost race is decided again on fresh state (the handler's default).
 */
export class TenantCommands {
  private readonly handler: CommandHandler;
  constructor(store: EventStore) {
    this.handler = new CommandHandler(store);
  }

  create(cmd: CreateTenant, ctx: CommandContext) {
    return this.handle(cmd.tenantId, { type: 'CreateTenant', data: cmd }, ctx);
  }

  update(cmd: UpdateTenant, ctx: CommandContext) {
    return this.handle(cmd.tenantId, { type: 'UpdateTenant', data: cmd }, ctx);
  }

  setApprovalPolicy(
    cmd: { tenantId: string; environment: string; requiredApprovals: number },
    ctx: CommandContext,
  ) {
    return this.handle(cmd.tenantId, { type: 'SetApprovalPolicy', data: cmd }, ctx);
  }

  delete(tenantId: string, ctx: CommandContext) {
    return this.handle(tenantId, { type: 'DeleteTenant', data: { tenantId } }, ctx);
  }

  /** Deleted and marked purged; the route then destroys its data keys. */
  purge(tenantId: string, confirm: string | undefined, ctx: CommandContext) {
    return this.handle(tenantId, { type: 'PurgeTenant', data: { tenantId, confirm } }, ctx);
  }

  private handle(
    tenantId: string,
    command: Parameters<typeof tenantDecider.decide>[0],
    ctx: CommandContext,
  ) {
    return this.handler.handle(tenantDecider, tenantStream(tenantId), command, ctx);
  }
}
