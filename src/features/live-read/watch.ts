/**
 * Live updates for apps ("hot swap"), on the hot read routes:
 *  - long poll: `?wait=N` with `If-None-Match`: held until what the client sees changes (then 200
 *    with the new body, or 404 if its key went away) or N seconds pass (304);
 *  - stream: `Accept: text/event-stream`: a `snapshot` event with the client's body now and after
 *    every change (`id` is its ETag, so `Last-Event-ID` skips an unchanged first snapshot);
 *    `missing` when a followed key does not exist (any more).
 * Both follow the in-process cache's invalidations (Redis pub/sub from the redis-cache
 * projection): one read per environment and change, however many clients follow it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DISCONNECTED_TTL_MS, type HotReadCache } from './hot-read.cache.js';
import { envBody, keyBody, type EnvSnapshot, type Rendered } from './env-snapshot.js';
import { coalesced } from '../../core/coalesced.js';

export interface WatchTarget {
  tenantId: string;
  environment: string;
  /** One key, or undefined for the whole environment. */
  key: string | undefined;
  /** Which side of a running canary the client is on. */
  clientId: string | undefined;
  /** The client may read encrypted values in plain text. */
  reveal: boolean;
}

export type WatchMode = 'stream' | 'long_poll';

export interface WatchObserver {
  opened(mode: WatchMode): void;
  closed(mode: WatchMode): void;
  /** A changed body was sent to a watcher. */
  pushed(mode: WatchMode): void;
}

export const MAX_WAIT_SECONDS = 60;
const HEARTBEAT_MS = 25_000;
/** A stream whose client reads slower than this much is behind gets closed (it reconnects). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** setTimeout's limit; tokens may live longer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the client sees: its body, or undefined when its key does not exist. */
export function viewOf(snapshot: EnvSnapshot, t: WatchTarget): Rendered | undefined {
  return t.key === undefined ? envBody(snapshot, t.clientId) : keyBody(snapshot, t.key, t.clientId);
}

/**
 * Calls `onView` with what the client sees: once now, then after every change that may concern
 * it. Calls never overlap, and the last one always comes from a read started after the last
 * change was announced, so no change is missed. Returns the stop function.
 */
export function follow(
  cache: HotReadCache,
  t: WatchTarget,
  onView: (view: Rendered | undefined) => void,
): () => void {
  let recheck: NodeJS.Timeout | undefined;
  const later = () => {
    recheck ??= setTimeout(() => {
      recheck = undefined;
      reads.check();
    }, DISCONNECTED_TTL_MS).unref();
  };
  const reads = coalesced(async () => {
    try {
      const { snapshot } = await cache.get(t.tenantId, t.environment);
      const shown = t.reveal ? await cache.revealed(snapshot) : snapshot;
      if (reads.stopped) return;
      onView(viewOf(shown, t));
      // No change may be announced against a provisional snapshot: look again when it expires.
      if (snapshot.provisional) later();
    } catch {
      later(); // neither Redis nor PostgreSQL answered: try again shortly
    }
  });
  const unwatch = cache.watch(t.tenantId, t.environment, reads.check);
  reads.check();
  return () => {
    reads.stop();
    clearTimeout(recheck);
    unwatch();
  };
}

/** Counts open watchers against a per-process limit. */
export class WatchSlots {
  private open = 0;
  constructor(private readonly max: number) {}
  take(): boolean {
    if (this.open >= this.max) return false;
    this.open++;
    return true;
  }
  release(): void {
    this.open--;
  }
  get count(): number {
    return this.open;
  }
}

/**
 * Holds a conditional GET whose ETag still matches until the client's view changes or `waitMs`
 * passes. `write` sends a view (200, or 404 when undefined), as a normal read would.
 */
export function longPoll(
  res: ServerResponse,
  cache: HotReadCache,
  t: WatchTarget,
  etag: string,
  waitMs: number,
  write: (view: Rendered | undefined) => void,
  onDone: (pushed: boolean) => void,
): void {
  let done = false;
  const finish = (send: () => void, pushed: boolean) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    stop();
    send();
    onDone(pushed);
  };
  const timer = setTimeout(
    () =>
      finish(() => {
        res.writeHead(304, { ETag: etag, 'Cache-Control': 'no-cache' });
        res.end();
      }, false),
    waitMs,
  );
  const stop = follow(cache, t, (view) => {
    if (view?.etag !== etag) finish(() => write(view), true);
  });
  res.on('close', () => finish(() => undefined, false));
}

/** Streams the client's view as server-sent events until it disconnects or its token expires. */
export function stream(
  req: IncomingMessage,
  res: ServerResponse,
  cache: HotReadCache,
  t: WatchTarget,
  tokenExpiresAt: number,
  observer: WatchObserver | undefined,
  onClose: () => void,
): void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    // Proxies such as nginx would otherwise buffer the events.
    'X-Accel-Buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  const header = req.headers['last-event-id'];
  let last: string | undefined = typeof header === 'string' ? header : undefined;
  const MISSING = '\u0000missing';
  const send = (chunk: string) => {
    res.write(chunk);
    if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
  };
  const stop = follow(cache, t, (view) => {
    if (!view) {
      if (last === MISSING) return;
      last = MISSING;
      send(`event: missing\ndata: ${JSON.stringify({ key: t.key ?? null })}\n\n`);
    } else {
      const id = view.etag.slice(1, -1);
      if (id === last) return;
      last = id;
      // JSON has no raw newlines, so the body is one data line.
      send((view.event ??= `id: ${id}\nevent: snapshot\ndata: ${view.body.toString('utf8')}\n\n`));
    }
    observer?.pushed('stream');
  });
  const heartbeat = setInterval(() => send(': keep-alive\n\n'), HEARTBEAT_MS);
  // The token was checked once, at connect: the stream ends with it (the client reconnects).
  const expiry = setTimeout(
    () => {
      send('event: expired\ndata: {}\n\n');
      res.end();
    },
    Math.min(MAX_TIMER_MS, Math.max(0, tokenExpiresAt - Date.now())),
  );
  res.on('close', () => {
    stop();
    clearInterval(heartbeat);
    clearTimeout(expiry);
    onClose();
  });
}
