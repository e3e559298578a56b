import type { EventStore } from '../../core/event-store/event-store.js';
import type { CommandContext } from '../../core/commands/command-handling.js';
import { CommandHandler } from '../../core/commands/command-handler.js';
import { tenantStream } from '../../core/streams.js';
import { environmentDecider, type EnvironmentCommand } from './environment.decider.js';

/**
 * Environment commands: on the tenant stream, which also takes configuration registrations, so
 * a lost race is decided again on fresh state (the handler's default).
 */
export class EnvironmentCommands {
  private readonly handler: CommandHandler;
  constructor(store: EventStore) {
    this.handler = new CommandHandler(store);
  }

  handle(command: EnvironmentCommand, ctx: CommandContext) {
    return this.handler.handle(
      environmentDecider,
      tenantStream(command.data.tenantId),
      command,
      ctx,
    );
  }
}
