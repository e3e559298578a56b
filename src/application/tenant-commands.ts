import type { EventStore } from '../core/event-store/event-store.js';
import {
  decideCreateTenant,
  decideDeleteTenant,
  decideSetApprovalPolicy,
  decideUpdateTenant,
  evolveTenant,
  initialTenantState,
  type CreateTenant,
  type TenantEvent,
  type TenantState,
  type UpdateTenant,
} from '../domain/tenant.js';
import {
  expectedFor,
  fold,
  load,
  retryOnConflict,
  toNewEvents,
  type CommandContext,
  type Decider,
} from './command-handling.js';
import { tenantStream } from './streams.js';

export const tenantDecider: Decider<TenantState, TenantEvent> = {
  initial: initialTenantState,
  evolve: evolveTenant,
};

export interface CommandResult<S> {
  state: S;
  /** Global position of the last event appended; undefined when nothing was appended. */
  position: bigint | undefined;
  appended: number;
}

export class TenantCommands {
  constructor(private readonly store: EventStore) {}

  create(cmd: CreateTenant, ctx: CommandContext) {
    return this.run(cmd.tenantId, ctx, (s) => decideCreateTenant(s, cmd));
  }

  update(cmd: UpdateTenant, ctx: CommandContext) {
    return this.run(cmd.tenantId, ctx, (s) => decideUpdateTenant(s, cmd));
  }

  setApprovalPolicy(
    cmd: { tenantId: string; environment: string; requiredApprovals: number },
    ctx: CommandContext,
  ) {
    return this.run(cmd.tenantId, ctx, (s) => decideSetApprovalPolicy(s, cmd));
  }

  delete(tenantId: string, ctx: CommandContext) {
    return this.run(tenantId, ctx, (s) => decideDeleteTenant(s, tenantId));
  }

  /** The tenant stream also takes configuration registrations, so races here are retried. */
  private run(
    tenantId: string,
    ctx: CommandContext,
    decide: (state: TenantState) => TenantEvent[],
  ): Promise<CommandResult<TenantState>> {
    return retryOnConflict(async () => {
      const streamId = tenantStream(tenantId);
      const { state, revision } = await load(this.store, streamId, tenantDecider);
      const events = decide(state);
      if (events.length === 0) return { state, position: undefined, appended: 0 };
      const result = await this.store.append([
        { streamId, expected: expectedFor(revision), events: toNewEvents(events, ctx) },
      ]);
      return {
        state: fold(tenantDecider, state, events),
        position: result.position,
        appended: events.length,
      };
    });
  }
}
