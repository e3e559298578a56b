/**
 * Deployments followed live (server-sent events for the console and anyone else): the projector
 * announces on Redis pub/sub which deployments a read-model batch changed, after the batch has
 * committed; each API process hears it once and lets the streams that follow those deployments
 * (or their tenant) re-read their view from the read table. Never the event store: a stream
 * shows what a GET would answer at that moment. Without the subscription (Redis away, or a
 * process that never subscribed) every stream re-reads every second instead, so nothing waits
 * for Redis to come back; when the subscription (re)starts, every stream re-reads once, since
 * anything may have changed while nobody was listening.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import type { RedisKeys } from '../../core/redis/redis.js';
import { DEPLOYMENT_PREFIX } from '../../core/streams.js';
import { coalesced } from '../../core/coalesced.js';

export const deploymentChannel = (keys: RedisKeys) => `${keys.prefix}deployment-changes`;

/** Re-read this often while not subscribed (the hot read path's disconnected TTL). */
const UNSUBSCRIBED_RECHECK_MS = 1000;
const HEARTBEAT_MS = 25_000;
/** A stream whose client reads slower than this much is behind gets closed (it reconnects). */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** setTimeout's limit; tokens may live longer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface DeploymentChange {
  tenantId: string;
  deploymentId: string;
}

/** The deployments a batch of events changed, once each (what the projector announces). */
export function deploymentChanges(events: readonly RecordedEvent[]): DeploymentChange[] {
  const seen = new Map<string, DeploymentChange>();
  for (const e of events) {
    if (!e.streamId.startsWith(DEPLOYMENT_PREFIX)) continue;
    const data = e.data as Partial<DeploymentChange>;
    if (typeof data.tenantId !== 'string' || typeof data.deploymentId !== 'string') continue;
    seen.set(data.deploymentId, { tenantId: data.tenantId, deploymentId: data.deploymentId });
  }
  return [...seen.values()];
}

/** Tells every API process which deployments changed (after the read model has them). */
export async function announceDeploymentChanges(
  redis: Redis,
  keys: RedisKeys,
  events: readonly RecordedEvent[],
): Promise<void> {
  for (const change of deploymentChanges(events)) {
    await redis.publish(deploymentChannel(keys), JSON.stringify(change));
  }
}

type Listener = () => void;

class Listeners {
  private readonly byKey = new Map<string, Set<Listener>>();
  add(key: string, l: Listener): () => void {
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(l);
    return () => {
      set.delete(l);
      if (set.size === 0 && this.byKey.get(key) === set) this.byKey.delete(key);
    };
  }
  notify(key: string): void {
    for (const l of this.byKey.get(key) ?? []) l();
  }
  notifyAll(): void {
    for (const set of this.byKey.values()) for (const l of set) l();
  }
  get size(): number {
    return this.byKey.size;
  }
}

/** One stream's answers: a `snapshot` event with its JSON, whose id is a hash of it. */
export interface Snapshot {
  id: string;
  json: string;
}

export const snapshotOf = (view: unknown): Snapshot => {
  const json = JSON.stringify(view);
  return { id: createHash('sha256').update(json).digest('base64url').slice(0, 22), json };
};

export class DeploymentFeed {
  private readonly deployments = new Listeners();
  private readonly tenants = new Listeners();
  private readonly streams = new Set<ServerResponse>();
  private subscribed = false;
  private ticker: NodeJS.Timeout | undefined;

  constructor(private readonly keys: RedisKeys) {}

  /** Follows the projector's announcements on `sub` (a connection in subscriber mode). */
  listen(sub: Redis): void {
    const channel = deploymentChannel(this.keys);
    sub.on('message', (ch: string, message: string) => {
      if (ch !== channel) return;
      try {
        this.changed(JSON.parse(message) as DeploymentChange);
      } catch {
        // Not ours to understand: the streams re-read on the next announcement or tick.
      }
    });
    const subscribe = () =>
      void sub.subscribe(channel).then(
        () => {
          this.subscribed = true;
          this.notifyAll();
        },
        () => undefined,
      );
    if (sub.status === 'ready') subscribe();
    sub.on('ready', subscribe);
    const lost = () => {
      this.subscribed = false;
    };
    sub.on('close', lost);
    sub.on('end', lost);
  }

  get isSubscribed(): boolean {
    return this.subscribed;
  }

  /** A deployment's row changed: the streams that follow it or its tenant re-read. */
  changed(change: DeploymentChange): void {
    this.deployments.notify(change.deploymentId);
    this.tenants.notify(change.tenantId);
  }

  private notifyAll(): void {
    this.deployments.notifyAll();
    this.tenants.notifyAll();
  }

  /** Calls `listener` (re-read!) when the deployment, or any of the tenant's, may have changed. */
  watch(what: { deploymentId: string } | { tenantId: string }, listener: Listener): () => void {
    const remove =
      'deploymentId' in what
        ? this.deployments.add(what.deploymentId, listener)
        : this.tenants.add(what.tenantId, listener);
    this.ticker ??= setInterval(() => {
      if (!this.subscribed) this.notifyAll();
    }, UNSUBSCRIBED_RECHECK_MS).unref();
    return () => {
      remove();
      if (this.deployments.size + this.tenants.size === 0) {
        clearInterval(this.ticker);
        this.ticker = undefined;
      }
    };
  }

  /**
   * Streams `read()` as server-sent `snapshot` events: now (unless `Last-Event-ID` names what
   * it answers, so a client that reconnects gets nothing it has), then after every change.
   * Reads never overlap, and the last one always starts after the last announcement, so no
   * change is missed. Ends with an `expired` event when the caller's token does.
   */
  stream(
    res: ServerResponse,
    what: { deploymentId: string } | { tenantId: string },
    read: () => Promise<unknown>,
    options: { lastEventId: string | undefined; expiresAt: number },
  ): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    this.streams.add(res);
    let last = options.lastEventId;
    const send = (chunk: string) => {
      res.write(chunk);
      if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
    };
    const reads = coalesced(async () => {
      try {
        const snap = snapshotOf(await read());
        if (reads.stopped || snap.id === last) return;
        last = snap.id;
        // JSON has no raw newlines, so the body is one data line.
        send(`id: ${snap.id}\nevent: snapshot\ndata: ${snap.json}\n\n`);
      } catch {
        // PostgreSQL away: the next announcement or tick reads again.
      }
    });
    const unwatch = this.watch(what, reads.check);
    reads.check();
    const heartbeat = setInterval(() => send(': keep-alive\n\n'), HEARTBEAT_MS);
    const expiry = setTimeout(
      () => {
        send('event: expired\ndata: {}\n\n');
        res.end();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, options.expiresAt - Date.now())),
    );
    res.on('close', () => {
      reads.stop();
      unwatch();
      clearInterval(heartbeat);
      clearTimeout(expiry);
      this.streams.delete(res);
    });
  }

  /** Open streams (metrics, tests). */
  get open(): number {
    return this.streams.size;
  }

  /** Ends every stream (shutdown: their clients come back to another replica). */
  shutdown(): void {
    for (const res of this.streams) res.end();
  }
}
