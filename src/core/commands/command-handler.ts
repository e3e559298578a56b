/**
 * The one command handler every write goes through: read the streams a command needs, fold them,
 * decide, append everything decided to all of them in one atomic append with the revisions that
 * were read, and, when a concurrent writer got there first, decide again on fresh state.
 *
 * A single-stream command is `handle(decider, streamId, command)`. A command that spans
 * aggregates runs `run(ctx, attempt => ...)`: it reads streams with `attempt.read`, decides with
 * `attempt.decide` (a decider) or `attempt.stage` (events from a pure process function), and the
 * handler appends what was staged.
 */
import {
  WrongExpectedVersionError,
  type AppendRequest,
  type EventStore,
} from '../event-store/event-store.js';
import { fold, type Decider, type DomainEvent, type Evolver } from './decider.js';
import { toNewEvents, type CommandContext } from './command-handling.js';

/** A stream as one attempt sees it: the state read, plus what the attempt staged for it. */
export interface Stream<S> {
  readonly streamId: string;
  state: S;
  /** The revision read, which the append expects; -1n when the stream did not exist. */
  readonly revision: bigint;
}

interface Entry {
  stream: Stream<unknown>;
  evolver: Evolver<unknown, DomainEvent>;
  staged: DomainEvent[];
}

/** A stream folded up to a revision, and the id of the event at that revision. */
interface Folded {
  state: unknown;
  revision: bigint;
  lastId: string;
}

/** Streams kept per store and evolver; the least recently read go first beyond this. */
const MAX_FOLDED = 5000;
const folded = new WeakMap<EventStore, WeakMap<object, Map<string, Folded>>>();

function foldedOf(store: EventStore, evolver: object): Map<string, Folded> {
  let byEvolver = folded.get(store);
  if (!byEvolver) folded.set(store, (byEvolver = new WeakMap()));
  let streams = byEvolver.get(evolver);
  if (!streams) byEvolver.set(evolver, (streams = new Map()));
  return streams;
}

/**
 * A stream's state and revision. States of streams read before are kept (per store and
 * evolver), so a read fetches only the events from the kept revision on: without it every
 * command re-read and re-folded whole streams, which grow with every version (and a tenant's
 * with every key it ever registered). The event at the kept revision comes back too and must be
 * the one folded, so a log that was reset or re-imported is read whole again. Sound because
 * events never change and `evolve` returns new states (deciders are pure). Streams whose events
 * the store decrypted are not kept: plaintext lives only as long as the command that needs it.
 */
async function readFolded<S, E extends DomainEvent>(
  store: EventStore,
  decider: Evolver<S, E>,
  streamId: string,
): Promise<{ state: S; revision: bigint }> {
  const streams = foldedOf(store, decider);
  // Left in place while reading: concurrent commands on one stream (every write to a tenant
  // reads the tenant's) all start from it. Taken out, all but one read the whole stream.
  const kept = streams.get(streamId);
  if (kept) {
    const read = await store.readStream(streamId, { fromRevision: kept.revision });
    const [first, ...rest] = read.events;
    if (first?.id === kept.lastId && first.revision === kept.revision && !read.decrypted) {
      const state = fold(decider, kept.state as S, rest as unknown as E[]);
      const last = read.events[read.events.length - 1]!;
      keep(streams, streamId, { state, revision: last.revision, lastId: last.id });
      return { state, revision: last.revision };
    }
  }
  const { events, revision, decrypted } = await store.readStream(streamId);
  const state = fold(decider, decider.initialState(), events as unknown as E[]);
  const last = events[events.length - 1];
  if (decrypted) streams.delete(streamId);
  else if (last) {
    keep(
      streams,
      streamId,
      { state, revision: last.revision, lastId: last.id },
      kept !== undefined,
    );
  }
  return { state, revision };
}

/**
 * Keeps a folded stream as the most recently used, unless a concurrent read kept a later revision
 * meanwhile. `replaced`: the kept one did not match the log (a reset or re-imported log), so it
 * goes whatever its revision.
 */
function keep(
  streams: Map<string, Folded>,
  streamId: string,
  folded: Folded,
  replaced = false,
): void {
  const current = streams.get(streamId);
  streams.delete(streamId);
  if (streams.size >= MAX_FOLDED) streams.delete(streams.keys().next().value!);
  const later = !replaced && current !== undefined && current.revision > folded.revision;
  streams.set(streamId, later ? current : folded);
}

/** One try of a command: the streams it read and the events it staged. */
export class Attempt {
  private readonly entries = new Map<string, Entry>();
  /** Streams in the order their first events were staged: the order they are appended in. */
  private readonly order: string[] = [];

  constructor(private readonly store: EventStore) {}

  /** Reads and folds a stream (once per attempt: a second read returns the same stream). */
  async read<S, E extends DomainEvent>(decider: Evolver<S, E>, streamId: string) {
    const known = this.entries.get(streamId);
    if (known) return known.stream as Stream<S>;
    const { state, revision } = await readFolded(this.store, decider, streamId);
    return this.track(decider, { streamId, state, revision });
  }

  /** A stream the command creates under a fresh id: not read; the append expects no stream. */
  create<S, E extends DomainEvent>(decider: Evolver<S, E>, streamId: string): Stream<S> {
    return this.track(decider, { streamId, state: decider.initialState(), revision: -1n });
  }

  /** Runs the decider on the stream's current state and stages what it decides. */
  decide<C, S, E extends DomainEvent>(
    decider: Decider<C, S, E>,
    stream: Stream<S>,
    command: C,
  ): E[] {
    const events = decider.decide(command, stream.state);
    this.stage(stream, events);
    return events;
  }

  /** Stages events decided elsewhere (a process function) for a stream of this attempt. */
  stage<S, E extends DomainEvent>(stream: Stream<S>, events: readonly E[]): void {
    if (events.length === 0) return;
    const entry = this.entries.get(stream.streamId);
    if (!entry || entry.stream !== stream) {
      throw new Error(`Stream ${stream.streamId} was not read in this attempt`);
    }
    if (entry.staged.length === 0) this.order.push(stream.streamId);
    entry.staged.push(...events);
    stream.state = fold(entry.evolver, stream.state, events as unknown as DomainEvent[]) as S;
  }

  /**
   * Throws a conflict (so the command is decided again) if the stream has moved since this
   * attempt read it: for decisions that another stream's state shows may already be stale.
   */
  async requireUnmoved(stream: Stream<unknown>): Promise<void> {
    const now = (await this.store.readStream(stream.streamId)).revision;
    if (now !== stream.revision) {
      throw new WrongExpectedVersionError(stream.streamId, stream.revision, now);
    }
  }

  /** The append this attempt amounts to: every staged stream, at the revision it was read at. */
  requests(ctx: CommandContext): AppendRequest[] {
    const timestamp = new Date().toISOString();
    return this.order.map((streamId) => {
      const { stream, staged } = this.entries.get(streamId)!;
      return {
        streamId,
        expected: stream.revision < 0n ? 'no_stream' : stream.revision,
        events: toNewEvents(staged, ctx, timestamp),
      };
    });
  }

  private track<S, E extends DomainEvent>(decider: Evolver<S, E>, stream: Stream<S>): Stream<S> {
    this.entries.set(stream.streamId, {
      stream: stream as Stream<unknown>,
      evolver: decider as unknown as Evolver<unknown, DomainEvent>,
      staged: [],
    });
    return stream;
  }
}

export interface HandleOptions {
  /**
   * What losing a race means. Return an error to report it (the caller named a version that is
   * no longer current); return nothing to decide again on fresh state (the default).
   */
  onConflict?: (error: WrongExpectedVersionError) => Error | undefined | Promise<Error | undefined>;
  maxAttempts?: number;
}

export interface Handled<T> {
  result: T;
  /** Global position of the last event appended; undefined when nothing was appended. */
  position: bigint | undefined;
  appended: number;
}

export class CommandHandler {
  constructor(readonly store: EventStore) {}

  /** Runs a command that may span streams; see the file comment. */
  async run<T>(
    ctx: CommandContext,
    work: (attempt: Attempt) => T | Promise<T>,
    options: HandleOptions = {},
  ): Promise<Handled<T>> {
    const maxAttempts = options.maxAttempts ?? 60;
    for (let i = 1; ; i++) {
      const attempt = new Attempt(this.store);
      try {
        const result = await work(attempt);
        const requests = attempt.requests(ctx);
        if (requests.length === 0) return { result, position: undefined, appended: 0 };
        const { position } = await this.store.append(requests);
        const appended = requests.reduce((n, r) => n + r.events.length, 0);
        return { result, position, appended };
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) throw error;
        const reported = await options.onConflict?.(error);
        if (reported) throw reported;
        if (i >= maxAttempts) throw error;
        // Jittered back-off spreads racing writers so that each round one of them wins.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * i)));
      }
    }
  }

  /** One stream, one decider: read, fold, decide, append. */
  async handle<C, S, E extends DomainEvent>(
    decider: Decider<C, S, E>,
    streamId: string,
    command: C,
    ctx: CommandContext,
    options: HandleOptions = {},
  ): Promise<{ state: S; events: E[]; position: bigint | undefined; appended: number }> {
    const { result, position, appended } = await this.run(
      ctx,
      async (attempt) => {
        const stream = await attempt.read(decider, streamId);
        const events = attempt.decide(decider, stream, command);
        return { state: stream.state, events };
      },
      options,
    );
    return { ...result, position, appended };
  }

  /** A stream's state now (for guards and answers that need no decision). */
  async state<S, E extends DomainEvent>(decider: Evolver<S, E>, streamId: string): Promise<S> {
    return (await new Attempt(this.store).read(decider, streamId)).state;
  }
}
