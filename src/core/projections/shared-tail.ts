/**
 * One read of the log's tail for all the projections of a process. Each runner follows the log on
 * its own (own checkpoint, own lock, own pace), and each used to read every new event itself:
 * five reads, five parses of the same rows, per change. This keeps the events last read (every
 * stream) and serves each runner's `readAll` from them, reading further only when a runner is at
 * the end of what is kept; a runner outside the kept range (far behind, or a rebuild) reads the
 * store itself.
 *
 * Sound because the log is commit-ordered (the adapters' global order): once an event is read,
 * nothing with a lower position appears later, so a range read once is the range for good.
 * Events are frozen: the projections share them.
 */
import type { EventStore, ReadAllOptions, RecordedEvent } from '../event-store/event-store.js';

/**
 * Events kept at most; older ones go first. It need only cover how far apart runners that follow
 * the log are; a few pages, as each runner read before (values may be large).
 */
const MAX_KEPT = 2000;
/** How many events one read of the tail asks for (a runner's batch, by default). */
const PAGE = 500;

const matches = (e: RecordedEvent, prefixes: readonly string[] | undefined) =>
  !prefixes?.length || prefixes.some((p) => e.streamId.startsWith(p));

/** The projections share the events: nothing in them may change, nested values included. */
const deepFreeze = (value: unknown): void => {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
};

/** A read of the tail: the how-manieth it was, and how many events it found. */
interface TailRead {
  index: number;
  done: Promise<number>;
}

export class SharedTail {
  /** Every event with a position in (from, to], in order. */
  private kept: RecordedEvent[] = [];
  private from = 0n;
  private to = 0n;
  /** Reads of the tail started so far, and the one in flight. */
  private started = 0;
  private reading: TailRead | undefined;

  constructor(
    private readonly store: EventStore,
    /** Smaller in tests, to exercise the edges. */
    private readonly limits = { keep: MAX_KEPT, page: PAGE },
  ) {}

  /**
   * The store as one runner sees it: `readAll` served from the shared tail. One view per runner:
   * it remembers when that runner began reading the head, so that "nothing for you" is only ever
   * concluded from a read of the tail that began after it (see readAll).
   */
  view(): EventStore {
    const store = this.store;
    let headAsked: number | undefined;
    return {
      append: (r) => store.append(r),
      readStream: (id, o) => store.readStream(id, o),
      readAll: (o) => {
        const since = headAsked ?? this.started;
        headAsked = undefined;
        return this.readAll(o, since);
      },
      headPosition: async () => {
        // Counted once the head is known: a read of the tail begun while the head query waited
        // (e.g. for a pool connection) may have run before it, and missed what the head includes.
        const head = await store.headPosition();
        headAsked = this.started;
        return head;
      },
      waitForEvents: (ms, signal, mark) => store.waitForEvents(ms, signal, mark),
      wakeMark: () => store.wakeMark(),
      ping: () => store.ping(),
      close: () => store.close(),
    };
  }

  /**
   * `since`: how many reads of the tail had started when the caller asked for the head (or, if it
   * did not, called). An empty answer tells the caller that nothing up to the head it read is
   * for it, so it may only come from a read of the tail that began after that: one in flight
   * from before may have missed what the caller's head includes.
   */
  private async readAll(
    { after, limit, streamPrefixes }: ReadAllOptions,
    since: number,
  ): Promise<RecordedEvent[]> {
    let last: { index: number; found: number } | undefined;
    for (;;) {
      // A runner past what is kept (the first caller, or the caller was behind and stopped): the
      // tail is where runners converge, so keep from there on (none in flight: it would append
      // past `to`).
      if (after > this.to && !this.reading) {
        this.kept = [];
        this.from = after;
        this.to = after;
      }
      if (after < this.from || after > this.to) {
        return this.store.readAll({ after, limit, streamPrefixes });
      }
      const found = this.served(after, limit, streamPrefixes);
      if (found.length > 0) return found;
      // A short page read after `since` reached the end of the log: nothing more for this caller.
      if (last && last.index > since && last.found < this.limits.page) return [];
      const read = this.reading ?? this.readTail();
      last = { index: read.index, found: await read.done };
    }
  }

  private served(after: bigint, limit: number, prefixes: readonly string[] | undefined) {
    const out: RecordedEvent[] = [];
    // Binary search for the first kept event past `after`.
    let lo = 0;
    let hi = this.kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.kept[mid]!.position <= after) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.kept.length && out.length < limit; i++) {
      const e = this.kept[i]!;
      if (matches(e, prefixes)) out.push(e);
    }
    return out;
  }

  private readTail(): TailRead {
    const read: TailRead = {
      index: ++this.started,
      done: this.readPage().finally(() => {
        if (this.reading === read) this.reading = undefined;
      }),
    };
    this.reading = read;
    return read;
  }

  private async readPage(): Promise<number> {
    const events = await this.store.readAll({ after: this.to, limit: this.limits.page });
    for (const e of events) deepFreeze(e);
    if (events.length === 0) return 0;
    this.kept.push(...events);
    this.to = events[events.length - 1]!.position;
    if (this.kept.length > this.limits.keep) {
      const dropped = this.kept.splice(0, this.kept.length - this.limits.keep);
      this.from = dropped[dropped.length - 1]!.position;
    }
    return events.length;
  }
}
