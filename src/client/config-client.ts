/**
 * A client for apps: keeps one environment's values in memory and current (server-sent events,
 * or long polls), hands them out synchronously, and reports how work went with values under a
 * canary so that a bad canary rolls itself back.
 *
 *   const client = new ConfigClient({ baseUrl, tenantId, environment, token, clientId: podName });
 *   await client.start();
 *   const timeout = client.get<number>('checkout.timeout', 30);
 *   client.onChange((snapshot, changed) => ...);
 *   client.recordOutcome('checkout.timeout', ok);
 *
 * Standalone on purpose (global fetch only, no server code), so it can be lifted into its own
 * package. If the service cannot be reached the last values stay in use; the client retries with
 * capped, jittered back-off.
 */

export interface ConfigClientOptions {
  /** The service, e.g. http://config-service:5000 */
  baseUrl: string;
  tenantId: string;
  environment: string;
  /** A reader token, or a function returning one; called again when the server says it expired. */
  token: string | (() => string | Promise<string>);
  /** A stable id of this app instance: decides its side of a running canary. */
  clientId?: string;
  /** `stream` (server-sent events, default) or `poll` (long polls, for proxies that buffer). */
  mode?: 'stream' | 'poll';
  /** Seconds a long poll may wait (1..60, default 30). */
  waitSeconds?: number;
  /** How often recorded outcomes are sent (ms, default 10,000). */
  reportIntervalMs?: number;
  /** Reconnect back-off bounds (ms, default 500 and 30,000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Told of every failed attempt (the client keeps going). */
  onError?: (error: unknown) => void;
  fetch?: typeof fetch;
}

export interface DeploymentSide {
  deploymentId: string;
  side: 'canary' | 'stable';
}

export interface ConfigSnapshot {
  /** The environment's ETag (without quotes): changes whenever what this client sees changes. */
  etag: string;
  version: number;
  configs: Readonly<Record<string, unknown>>;
  /** Keys with a canary running, and the side this client is on. */
  deployments: Readonly<Record<string, DeploymentSide>>;
}

export type ChangeListener = (snapshot: ConfigSnapshot, changedKeys: string[]) => void;

export class ConfigServiceError extends Error {
  override readonly name = 'ConfigServiceError';
  constructor(
    readonly status: number,
    message: string,
    /** Seconds the server asked to wait (Retry-After), if it did. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

interface EnvironmentBody {
  version: number;
  configs: Record<string, unknown>;
  deployments?: Record<string, DeploymentSide>;
}

export class ConfigClient {
  private current: ConfigSnapshot | undefined;
  private readonly listeners = new Set<ChangeListener>();
  private readonly outcomes = new Map<string, { requests: number; errors: number }>();
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private reporter: ReturnType<typeof setInterval> | undefined;
  private cachedToken: string | undefined;
  private readonly fetch: typeof fetch;
  private readonly url: string;
  private firstSnapshot!: { resolve: (s: ConfigSnapshot) => void; reject: (e: unknown) => void };
  private readonly ready: Promise<ConfigSnapshot>;

  constructor(private readonly options: ConfigClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
    const base = options.baseUrl.replace(/\/+$/, '');
    this.url =
      `${base}/api/v1/tenants/${encodeURIComponent(options.tenantId)}` +
      `/environments/${encodeURIComponent(options.environment)}/configs`;
    this.ready = new Promise((resolve, reject) => (this.firstSnapshot = { resolve, reject }));
    this.ready.catch(() => undefined); // a failed start is reported by start(), not as unhandled
  }

  /**
   * Connects and resolves with the first snapshot. Rejects only if the very first attempt is
   * refused for good (401, 403, 404); later failures are retried in the background.
   */
  start(): Promise<ConfigSnapshot> {
    if (!this.running) {
      this.running = this.run();
      this.reporter = setInterval(() => void this.flushOutcomes(), this.reportInterval);
      this.reporter.unref?.();
    }
    return this.ready;
  }

  /** The value of `key` (typed as the service types it), or `fallback` if it has none. */
  get<T = unknown>(key: string, fallback?: T): T | undefined {
    const configs = this.current?.configs;
    return configs && Object.hasOwn(configs, key) ? (configs[key] as T) : fallback;
  }

  /** Every value, as last received. */
  all(): Readonly<Record<string, unknown>> {
    return this.current?.configs ?? {};
  }

  get snapshot(): ConfigSnapshot | undefined {
    return this.current;
  }

  /** Called after every change, with the keys whose value changed. Returns the unsubscribe. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Records how one piece of work that used `key`'s value went. While a canary runs on the key,
   * the counts go to its deployment for the side this client is on (sent every
   * `reportIntervalMs`); otherwise nothing is recorded.
   */
  recordOutcome(key: string, ok: boolean): void {
    const d = this.current?.deployments[key];
    if (!d) return;
    const id = `${d.deploymentId}\u0000${d.side}`;
    const counts = this.outcomes.get(id) ?? { requests: 0, errors: 0 };
    counts.requests++;
    if (!ok) counts.errors++;
    this.outcomes.set(id, counts);
  }

  /** Sends the recorded outcomes now. Counts a failed send keeps for the next one. */
  async flushOutcomes(): Promise<void> {
    const pending = [...this.outcomes];
    this.outcomes.clear();
    await Promise.all(
      pending.map(async ([id, counts]) => {
        const [deploymentId, side] = id.split('\u0000') as [string, string];
        try {
          // Its own deadline, not the follow loop's signal: close() sends what is left after
          // it has stopped following.
          const res = await this.request(
            `${this.options.baseUrl.replace(/\/+$/, '')}/api/v1/deployments/${encodeURIComponent(deploymentId)}/metrics`,
            {
              method: 'POST',
              headers: { 'Content-Type': 'application/json' },
              body: JSON.stringify({ ...counts, side }),
            },
            AbortSignal.timeout(5000),
          );
          await res.body?.cancel();
          // The deployment finished or is gone: its counts no longer matter.
          if (res.ok || res.status === 404 || res.status === 409) return;
          throw new ConfigServiceError(res.status, `metrics answered ${res.status}`);
        } catch (error) {
          const kept = this.outcomes.get(id) ?? { requests: 0, errors: 0 };
          this.outcomes.set(id, {
            requests: kept.requests + counts.requests,
            errors: kept.errors + counts.errors,
          });
          this.options.onError?.(error);
        }
      }),
    );
  }

  /** Stops following; sends what outcomes are left. */
  async close(): Promise<void> {
    this.abort.abort();
    clearInterval(this.reporter);
    await this.running;
    await this.flushOutcomes();
    this.firstSnapshot.reject(new Error('closed before the first snapshot'));
  }

  // ---- internals ---------------------------------------------------------------------------

  private get reportInterval() {
    return this.options.reportIntervalMs ?? 10_000;
  }

  private async run(): Promise<void> {
    const min = this.options.minBackoffMs ?? 500;
    const max = this.options.maxBackoffMs ?? 30_000;
    let backoff = min;
    while (!this.abort.signal.aborted) {
      try {
        const progressed =
          this.options.mode === 'poll' ? await this.pollOnce() : await this.streamOnce();
        if (progressed) backoff = min;
      } catch (error) {
        if (this.abort.signal.aborted) return;
        if (
          !this.current &&
          error instanceof ConfigServiceError &&
          [401, 403, 404].includes(error.status)
        ) {
          this.firstSnapshot.reject(error); // misconfigured: say so to start()
        }
        this.options.onError?.(error);
        if (error instanceof ConfigServiceError && error.status === 401)
          this.cachedToken = undefined;
        const wait =
          error instanceof ConfigServiceError && error.retryAfter !== undefined
            ? error.retryAfter * 1000
            : backoff;
        await this.sleep(wait / 2 + Math.random() * (wait / 2));
        backoff = Math.min(max, backoff * 2);
      }
    }
  }

  /** One event stream, until it ends. True if it delivered anything. */
  private async streamOnce(): Promise<boolean> {
    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    if (this.current) headers['Last-Event-ID'] = this.current.etag;
    const res = await this.request(this.url, { headers });
    if (res.status !== 200 || !res.body) throw await this.failure(res);
    let progressed = false;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return progressed;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let id: string | undefined;
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (event === 'snapshot' && id !== undefined) {
            this.apply(JSON.parse(data) as EnvironmentBody, id);
            progressed = true;
          } else if (event === 'expired') {
            this.cachedToken = undefined; // the stream ends next; reconnect with a new token
          }
        }
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }

  /** One long poll (or the first plain read). True if it delivered anything. */
  private async pollOnce(): Promise<boolean> {
    const wait = Math.min(60, Math.max(1, this.options.waitSeconds ?? 30));
    const conditional = this.current !== undefined;
    const res = await this.request(conditional ? `${this.url}?wait=${wait}` : this.url, {
      headers: conditional ? { 'If-None-Match': `"${this.current!.etag}"` } : {},
    });
    if (res.status === 304) {
      await res.body?.cancel();
      // Answered at once (the instance could not hold the poll): wait as long as it asks.
      const retry = Number(res.headers.get('retry-after'));
      if (Number.isFinite(retry) && retry > 0) await this.sleep(retry * 1000);
      return true;
    }
    if (res.status !== 200) throw await this.failure(res);
    const etag = (res.headers.get('etag') ?? '').replace(/^W\//, '').replace(/"/g, '');
    this.apply((await res.json()) as EnvironmentBody, etag);
    return true;
  }

  private apply(body: EnvironmentBody, etag: string) {
    const previous = this.current;
    const next: ConfigSnapshot = {
      etag,
      version: body.version,
      configs: Object.freeze({ ...body.configs }),
      deployments: Object.freeze({ ...(body.deployments ?? {}) }),
    };
    this.current = next;
    const keys = new Set([...Object.keys(previous?.configs ?? {}), ...Object.keys(next.configs)]);
    const changed = [...keys].filter(
      (k) => JSON.stringify(previous?.configs[k]) !== JSON.stringify(next.configs[k]),
    );
    this.firstSnapshot.resolve(next);
    if (!previous) return;
    for (const listener of this.listeners) {
      try {
        listener(next, changed);
      } catch (error) {
        this.options.onError?.(error);
      }
    }
  }

  private async request(
    url: string,
    init: RequestInit,
    signal: AbortSignal = this.abort.signal,
  ): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('Authorization', `Bearer ${await this.token()}`);
    // Headers carry bytes: send the id as UTF-8 (the service decodes it so).
    if (this.options.clientId) {
      headers.set(
        'X-Client-Id',
        String.fromCharCode(...new TextEncoder().encode(this.options.clientId)),
      );
    }
    return this.fetch(url, { ...init, headers, signal });
  }

  private async token(): Promise<string> {
    const t = this.options.token;
    if (typeof t === 'string') return t;
    this.cachedToken ??= await t();
    return this.cachedToken;
  }

  private async failure(res: Response): Promise<ConfigServiceError> {
    let detail = '';
    try {
      const problem = (await res.json()) as { detail?: string; title?: string };
      detail = problem.detail ?? problem.title ?? '';
    } catch {
      // not problem+json
    }
    const retry = Number(res.headers.get('retry-after'));
    return new ConfigServiceError(
      res.status,
      `config service answered ${res.status}${detail ? `: ${detail}` : ''}`,
      Number.isFinite(retry) && retry > 0 ? retry : undefined,
    );
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      // A client waiting to retry does not keep the process alive by itself.
      const timer = setTimeout(done, ms);
      timer.unref?.();
      this.abort.signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        resolve();
      }
    });
  }
}
