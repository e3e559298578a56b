/**
 * What every command carries besides its own fields (who, from where, in which trace) and how
 * that becomes the metadata of the events it appends. The handler is `command-handler.ts`.
 */
import { randomUUID } from 'node:crypto';
import type { EventMetadata, NewEvent } from '../event-store/event-store.js';
import { DomainError } from '../domain-error.js';
import type { DomainEvent } from './decider.js';

export type { DomainEvent } from './decider.js';

export const EVENT_SCHEMA_VERSION = 1;

/** Who and what caused a command: stored as metadata on every event it appends. */
export interface CommandContext {
  userId: string;
  ipAddress?: string;
  traceId?: string;
  /** The span that decided the command, so that projector and job spans can link to it. */
  spanId?: string;
  correlationId: string;
  causationId?: string;
}

export function toNewEvents(
  events: DomainEvent[],
  ctx: CommandContext,
  timestamp = new Date().toISOString(),
): NewEvent[] {
  return events.map((e) => {
    const metadata: EventMetadata = {
      userId: ctx.userId,
      correlationId: ctx.correlationId,
      causationId: ctx.causationId ?? ctx.correlationId,
      timestamp,
      schemaVersion: EVENT_SCHEMA_VERSION,
    };
    if (ctx.ipAddress) metadata.ipAddress = ctx.ipAddress;
    if (ctx.traceId) metadata.traceId = ctx.traceId;
    if (ctx.spanId) metadata.spanId = ctx.spanId;
    return { id: randomUUID(), type: e.type, data: e.data, metadata };
  });
}

/** A command's outcome: the state after it, and the position of its last event (if any). */
export interface CommandOutcome<S> {
  state: S;
  position: bigint | undefined;
}

/** The same, with how many events it appended. */
export interface CommandResult<S> extends CommandOutcome<S> {
  appended: number;
}

export function notFound(what: string, id: string, field: string) {
  return new DomainError('not_found', `${what} '${id}' not found`, field);
}
