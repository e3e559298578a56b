/**
 * The one way commands reach the event store: read the streams, fold them with `evolve`, run the
 * pure `decide`, append with the revisions that were read. A concurrent writer makes the append
 * fail with WrongExpectedVersionError; callers either report it (the user named a version) or
 * retry the whole read-decide-append (system streams such as the tenant registry).
 */
import { randomUUID } from 'node:crypto';
import {
  WrongExpectedVersionError,
  type EventMetadata,
  type EventStore,
  type NewEvent,
} from '../core/event-store/event-store.js';

export const EVENT_SCHEMA_VERSION = 1;

export interface DomainEvent {
  type: string;
  data: unknown;
}

export interface Decider<S, E extends DomainEvent> {
  initial: () => S;
  evolve: (state: S, event: E) => S;
}

export interface Loaded<S> {
  state: S;
  /** -1n when the stream does not exist. */
  revision: bigint;
}

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

export async function load<S, E extends DomainEvent>(
  store: EventStore,
  streamId: string,
  decider: Decider<S, E>,
): Promise<Loaded<S>> {
  const { events, revision } = await store.readStream(streamId);
  let state = decider.initial();
  for (const event of events) state = decider.evolve(state, event as unknown as E);
  return { state, revision };
}

export function fold<S, E extends DomainEvent>(decider: Decider<S, E>, state: S, events: E[]): S {
  return events.reduce(decider.evolve, state);
}

export function toNewEvents(events: DomainEvent[], ctx: CommandContext): NewEvent[] {
  const timestamp = new Date().toISOString();
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

export function expectedFor(revision: bigint): bigint | 'no_stream' {
  return revision < 0n ? 'no_stream' : revision;
}

/**
 * Re-runs `attempt` while it loses optimistic-concurrency races on streams nobody named a version
 * for. Jittered back-off spreads racing writers so that each round one of them wins.
 */
export async function retryOnConflict<T>(attempt: () => Promise<T>, maxAttempts = 60): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError) || i >= maxAttempts) throw error;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * i)));
    }
  }
}
