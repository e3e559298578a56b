/**
 * Follows one environment: a server-sent event stream (or long polls) on the environment route,
 * reconnecting with capped, jittered back-off. A reconnect names the ETag it has (Last-Event-ID,
 * If-None-Match), so an unchanged environment is not sent again.
 */
import { createParser } from 'eventsource-parser';
import { ConfigServiceError } from './errors.js';
import { failure, retryAfterOf, sleep, type Http } from './http.js';
import type { DeploymentSide } from './types.js';

/** The environment route's body. */
export interface EnvironmentBody {
  version: number;
  configs: Record<string, unknown>;
  versions?: Record<string, number>;
  deployments?: Record<string, DeploymentSide>;
}

export interface FollowHooks {
  /** The ETag of the values held, if they may be named to the service. */
  etag(): string | undefined;
  /** The service answered: values held are current, or a snapshot follows. */
  connected(): void;
  snapshot(body: EnvironmentBody, etag: string): void;
  /** An attempt failed; the loop waits and tries again. */
  failed(error: unknown): void;
}

export interface FollowOptions {
  mode?: 'stream' | 'poll';
  waitSeconds?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** A bound on one SSE event (an environment of 10,000 keys of 256 KiB would not fit anyway). */
const MAX_EVENT_CHARS = 64 * 1024 * 1024;

/** Half to all of `ms`, so that clients dropped together do not come back together. */
const jitter = (ms: number) => ms / 2 + Math.random() * (ms / 2);

export class Follower {
  /** The last attempt succeeded: long polls may wait. */
  private live = false;

  constructor(
    private readonly http: Http,
    private readonly path: string,
    private readonly hooks: FollowHooks,
    private readonly options: FollowOptions,
    private readonly signal: AbortSignal,
  ) {}

  async run(): Promise<void> {
    const min = this.options.minBackoffMs ?? 500;
    const max = this.options.maxBackoffMs ?? 30_000;
    let backoff = min;
    while (!this.signal.aborted) {
      try {
        const progressed =
          this.options.mode === 'poll' ? await this.pollOnce() : await this.streamOnce();
        if (progressed) backoff = min;
        else {
          // A stream that ended having said nothing: do not come straight back.
          await sleep(jitter(backoff), this.signal);
          backoff = Math.min(max, backoff * 2);
        }
      } catch (error) {
        if (this.signal.aborted) return;
        this.live = false;
        if (error instanceof ConfigServiceError && error.status === 401) this.http.renewToken();
        this.hooks.failed(error);
        const wait =
          error instanceof ConfigServiceError && error.retryAfter !== undefined
            ? error.retryAfter * 1000
            : backoff;
        await sleep(jitter(wait), this.signal);
        backoff = Math.min(max, backoff * 2);
      }
    }
  }

  private connected() {
    this.live = true;
    this.hooks.connected();
  }

  /** One event stream, until it ends. True if it delivered anything. */
  private async streamOnce(): Promise<boolean> {
    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    const etag = this.hooks.etag();
    if (etag) headers['Last-Event-ID'] = etag;
    const res = await this.http.request(this.path, { headers }, this.signal);
    if (res.status !== 200 || !res.body) throw await failure(res);
    this.connected();
    let progressed = false;
    let broken: unknown;
    const parser = createParser({
      maxBufferSize: MAX_EVENT_CHARS,
      onEvent: (event) => {
        if (event.event === 'snapshot' && event.id !== undefined) {
          this.hooks.snapshot(JSON.parse(event.data) as EnvironmentBody, event.id);
          progressed = true;
        } else if (event.event === 'expired') {
          this.http.renewToken(); // the stream ends next; reconnect with a new token
          progressed = true;
        }
      },
      onError: (error) => {
        if (error.type === 'max-buffer-size-exceeded') broken = error;
      },
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return progressed;
        parser.feed(value);
        if (broken) throw broken;
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }

  /** One long poll (or a plain read when not live yet). True if it delivered anything. */
  private async pollOnce(): Promise<boolean> {
    const etag = this.hooks.etag();
    // Only a client whose last request worked waits: at start and after a failure the answer
    // (304 included) is what says the service is back.
    const wait = this.live ? Math.min(60, Math.max(1, this.options.waitSeconds ?? 30)) : undefined;
    const query = etag && wait ? `?wait=${wait}` : '';
    const res = await this.http.request(
      `${this.path}${query}`,
      { headers: etag ? { 'If-None-Match': `"${etag}"` } : {} },
      this.signal,
    );
    if (res.status === 304) {
      await res.body?.cancel();
      this.connected();
      // Answered at once (the instance could not hold the poll): wait as long as it asks.
      const retry = retryAfterOf(res);
      if (retry) await sleep(retry * 1000, this.signal);
      return true;
    }
    if (res.status !== 200) throw await failure(res);
    const tag = (res.headers.get('etag') ?? '').replace(/^W\//, '').replace(/"/g, '');
    const body = (await res.json()) as EnvironmentBody;
    this.connected();
    this.hooks.snapshot(body, tag);
    return true;
  }
}
