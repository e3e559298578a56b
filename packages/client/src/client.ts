/**
 * The apps' client: keeps one environment's values in memory and current (server-sent events or
 * long polls), hands them out synchronously and typed, falls back to the last values it saw (or
 * bootstrap values) when the service is down, and reports how work went with values under a
 * canary, so that a bad canary rolls itself back.
 */
import {
  ConfigServiceError,
  ConfigTimeoutError,
  ConfigTypeError,
  isKind,
  kindOf,
} from './errors.js';
import { Emitter } from './emitter.js';
import { Follower, type EnvironmentBody } from './follow.js';
import { Http } from './http.js';
import { Outcomes } from './outcomes.js';
import { Acknowledgements } from './acknowledgements.js';
import { lastKnownGoodStore, readBootstrapFile } from './storage.js';
import { ackOf, changedKeys, kindOfFallback, messageOf, same, snapshotOf } from './snapshot.js';
import type {
  ClientEvents,
  ClientOptions,
  ClientStatus,
  ConfigEntry,
  ConfigSnapshot,
  SnapshotStore,
  ValueKind,
} from './types.js';

interface Waiter {
  resolve(snapshot: ConfigSnapshot): void;
  reject(error: unknown): void;
}

/** Refusals that retrying with the same settings will not fix: said at once to ready(). */
const REFUSED = [401, 403, 404];

export function createClient(options: ClientOptions): ConfigClient {
  return new ConfigClient(options);
}

export class ConfigClient extends Emitter<ClientEvents> {
  private current: ConfigSnapshot | undefined;
  private state: ClientStatus = 'starting';
  /** A snapshot (or a confirmation of one) came from the service. */
  private served = false;
  private initialFailure: unknown;
  private refused: unknown;
  private lastError: unknown;
  private readonly waiters = new Set<Waiter>();
  private readonly mismatches = new Set<string>();
  private readonly abort = new AbortController();
  private readonly http: Http | undefined;
  private readonly outcomes: Outcomes | undefined;
  private readonly acks: Acknowledgements | undefined;
  private readonly store: SnapshotStore | undefined;
  private readonly loaded: Promise<void>;
  private readonly running: Promise<void> | undefined;
  private reporter: ReturnType<typeof setInterval> | undefined;
  private saving: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;

  constructor(private readonly options: ClientOptions) {
    super();
    for (const field of ['url', 'tenant', 'environment'] as const) {
      if (typeof options[field] !== 'string' || !options[field]) {
        throw new TypeError(`${field} is required`);
      }
    }
    if (options.mode !== undefined && options.mode !== 'stream' && options.mode !== 'poll') {
      throw new TypeError(`mode is 'stream' or 'poll', not '${String(options.mode)}'`);
    }
    this.store = lastKnownGoodStore(options);
    if (options.bootstrap) this.current = snapshotOf(options.bootstrap, 'bootstrap');
    this.loaded = this.loadFallback();
    if (options.offline) {
      this.state = 'offline';
      return;
    }
    this.http = new Http(options);
    this.outcomes = new Outcomes(this.http, (e) => this.reportError(e));
    if (options.acknowledge !== false) {
      this.acks = new Acknowledgements(
        this.http,
        `${this.environmentPath()}/acknowledgements`,
        options.instanceId ?? options.clientId ?? `instance-${globalThis.crypto.randomUUID()}`,
        options.acknowledgeIntervalMs ?? 1000,
        (e) => this.reportError(e),
      );
    }
    this.running = this.follow();
    this.reporter = setInterval(
      () => void this.flushOutcomes(),
      options.reportIntervalMs ?? 10_000,
    );
    (this.reporter as { unref?: () => void }).unref?.();
  }

  /**
   * Resolves with the first snapshot from the service. When the service cannot be reached
   * (an attempt failed, or `timeout` ms passed) it resolves with the last-known-good or bootstrap
   * values if there are any (`snapshot.source` says which), and rejects with a
   * ConfigTimeoutError otherwise. A refusal (401, 403, 404) rejects at once. The client keeps
   * trying in the background either way.
   */
  ready(options: { timeout?: number } = {}): Promise<ConfigSnapshot> {
    if (this.state === 'closed') return Promise.reject(new Error('the client is closed'));
    if (this.state === 'offline') {
      return this.loaded.then(() => (this.current ??= snapshotOf({}, 'bootstrap')));
    }
    if (this.served) return Promise.resolve(this.current!);
    if (this.refused) return Promise.reject(this.refused);
    const ms = options.timeout ?? this.options.readyTimeoutMs ?? 10_000;
    return new Promise<ConfigSnapshot>((resolve, reject) => {
      // Not unref'd: an app awaiting ready() must hear about the timeout.
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        if (this.current) resolve(this.current);
        else reject(new ConfigTimeoutError(ms, this.lastError));
      }, ms);
      const waiter: Waiter = {
        resolve: (s) => (clearTimeout(timer), resolve(s)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      this.waiters.add(waiter);
      // Already failed once, with fallback values loaded: serve them now.
      void this.loaded.then(() => {
        if (this.initialFailure !== undefined && !this.served) this.fallBack();
      });
    });
  }

  /** The value of `key` as received (undefined when missing). */
  get(key: string): unknown;
  /**
   * The value of `key`, or `fallback` when it is missing or not of the fallback's kind (boolean,
   * number, string, or an object/array for JSON); a mismatch is reported as an `error` event.
   */
  get<T>(key: string, fallback: T): T;
  get(key: string, fallback?: unknown): unknown {
    if (arguments.length < 2) return this.entry(key)?.value;
    const kind = kindOfFallback(fallback);
    return kind ? this.typed(key, kind, fallback) : (this.entry(key)?.value ?? fallback);
  }

  getBoolean(key: string, fallback: boolean): boolean {
    return this.typed(key, 'boolean', fallback);
  }

  getNumber(key: string, fallback: number): number {
    return this.typed(key, 'number', fallback);
  }

  getString(key: string, fallback: string): string {
    return this.typed(key, 'string', fallback);
  }

  /** A JSON value (object or array). */
  getJson<T = unknown>(key: string, fallback: T): T {
    return this.typed(key, 'json', fallback);
  }

  /** `key` with its version, canary side and where it came from; undefined when missing. */
  lookup(key: string): ConfigEntry | undefined {
    return this.entry(key);
  }

  /** Every value, as last received. */
  all(): Readonly<Record<string, unknown>> {
    return this.current?.configs ?? {};
  }

  get snapshot(): ConfigSnapshot | undefined {
    return this.current;
  }

  get status(): ClientStatus {
    return this.state;
  }

  /**
   * Records how one piece of work that used `key`'s value went. While a canary runs on the key,
   * the counts go to its deployment for the side this client is on (sent every
   * `reportIntervalMs` and at close); otherwise nothing is recorded.
   */
  recordOutcome(key: string, ok: boolean): void {
    const deployment = this.current?.deployments[key];
    if (deployment && this.outcomes) this.outcomes.record(deployment, ok);
  }

  /** Sends the recorded outcomes now. Counts a failed send keeps for the next one. */
  async flushOutcomes(): Promise<void> {
    await this.outcomes?.flush();
  }

  /**
   * Tells the service this instance cannot use `key`'s current value (it is sent as rejected
   * with `reason`; under a canary, enough rejections roll it back). The value stays in use:
   * what to do instead is the app's call.
   */
  reject(key: string, reason: string): void {
    const e = this.entry(key);
    if (!e || e.source !== 'service' || e.version === undefined || !this.acks) return;
    this.acks.note({ ...ackOf(key, e.version, e.deployment), status: 'rejected', reason }, true);
  }

  /** Sends the acknowledgements noted so far now (they are otherwise batched). */
  async flushAcknowledgements(): Promise<void> {
    await this.acks?.flush();
  }

  /** Stops following; sends the outcomes left and finishes saving the last-known-good file. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'closed';
      this.abort.abort();
      clearInterval(this.reporter);
      this.acks?.stop();
      await this.running;
      await this.flushOutcomes();
      await this.saving;
      const closed = new Error('closed before the first snapshot');
      for (const w of this.waiters) w.reject(closed);
      this.waiters.clear();
    })();
    return this.closing;
  }

  // ---- internals ---------------------------------------------------------------------------

  private entry(key: string): ConfigEntry | undefined {
    const s = this.current;
    if (!s || !Object.hasOwn(s.configs, key)) return undefined;
    return {
      key,
      value: s.configs[key],
      version: s.versions[key],
      deployment: s.deployments[key],
      source: s.source,
    };
  }

  private typed<T>(key: string, kind: ValueKind, fallback: T): T {
    const e = this.entry(key);
    if (!e) return fallback;
    if (isKind(e.value, kind)) return e.value as T;
    // Once per key and kind until the values change, not on every read.
    const seen = `${key}\u0000${kind}`;
    if (!this.mismatches.has(seen)) {
      this.mismatches.add(seen);
      this.reportError(new ConfigTypeError(key, kind, kindOf(e.value)));
    }
    return fallback;
  }

  /** Online: the last-known-good values, else the bootstrap. Offline: the other way round. */
  private async loadFallback(): Promise<void> {
    const fromFile = async () => {
      const file = this.options.bootstrapFile;
      if (file) this.current = snapshotOf(await readBootstrapFile(file), 'bootstrap');
    };
    try {
      if (this.options.offline && (this.options.bootstrap || this.options.bootstrapFile)) {
        await fromFile();
        return;
      }
      const stored = await this.store?.load();
      if (
        stored &&
        stored.tenant === this.options.tenant &&
        stored.environment === this.options.environment
      ) {
        this.current = Object.freeze({
          etag: stored.etag,
          version: stored.version,
          configs: Object.freeze({ ...stored.configs }),
          versions: Object.freeze({ ...stored.versions }),
          deployments: Object.freeze({ ...stored.deployments }),
          source: 'last-known-good' as const,
        });
      } else if (!this.current) await fromFile();
    } catch (error) {
      this.reportError(error);
    }
  }

  private environmentPath(): string {
    const { tenant, environment } = this.options;
    return (
      `/api/v1/tenants/${encodeURIComponent(tenant)}` +
      `/environments/${encodeURIComponent(environment)}`
    );
  }

  private async follow(): Promise<void> {
    await this.loaded;
    const path = `${this.environmentPath()}/configs`;
    await new Follower(
      this.http!,
      path,
      {
        // Only values this process had from the service are named: the first answer is then
        // always a full snapshot, so fallback values are replaced, never taken as current.
        etag: () => (this.served && this.current ? this.current.etag : undefined),
        connected: () => {
          if (this.state === 'stale' && this.served) this.live('reconnected');
        },
        snapshot: (body, etag) => this.apply(body, etag),
        failed: (error) => this.failed(error),
      },
      this.options,
      this.abort.signal,
    ).run();
  }

  private live(event: 'reconnected' | undefined) {
    this.state = 'live';
    if (event) this.emit(event, [this.current!], (e) => this.reportError(e));
  }

  private apply(body: EnvironmentBody, etag: string) {
    if (this.state === 'closed') return;
    const previous = this.current;
    const configs = { ...body.configs };
    const versions = { ...(body.versions ?? {}) };
    const deployments = { ...(body.deployments ?? {}) };
    // Values the app's validator refuses are not taken: the key keeps what it had from the
    // service (or stays missing).
    const refused = new Map<string, string>();
    const validate = this.options.validate;
    if (validate) {
      const had = previous?.source === 'service' ? previous : undefined;
      for (const key of Object.keys(configs)) {
        if (had && Object.hasOwn(had.configs, key) && same(had.configs[key], configs[key]))
          continue;
        try {
          validate(key, configs[key]);
        } catch (error) {
          refused.set(key, messageOf(error));
          const received = ackOf(key, versions[key], deployments[key]);
          this.acks?.note({ ...received, status: 'rejected', reason: messageOf(error) });
          if (had && Object.hasOwn(had.configs, key)) {
            configs[key] = had.configs[key];
            versions[key] = had.versions[key]!;
            if (had.deployments[key]) deployments[key] = had.deployments[key];
            else delete deployments[key];
          } else {
            delete configs[key];
            delete versions[key];
            delete deployments[key];
          }
        }
      }
    }
    const next: ConfigSnapshot = Object.freeze({
      etag,
      version: body.version,
      configs: Object.freeze(configs),
      versions: Object.freeze(versions),
      deployments: Object.freeze(deployments),
      source: 'service' as const,
    });
    this.current = next;
    this.mismatches.clear();
    this.save(next);
    // A listener that throws rejects the values it was told about.
    let thrown: unknown;
    const onThrow = (e: unknown) => {
      thrown ??= e;
      this.reportError(e);
    };
    let told: string[];
    if (!this.served) {
      this.served = true;
      this.state = 'live';
      for (const w of this.waiters) w.resolve(next);
      this.waiters.clear();
      this.emit('ready', [next], onThrow);
      told = Object.keys(next.configs);
    } else {
      if (this.state === 'stale') this.live('reconnected');
      told = [];
    }
    if (previous) {
      const changed = changedKeys(previous, next);
      this.emit('change', [next, changed], onThrow);
      told = [...new Set([...told, ...changed])];
    }
    this.acknowledge(
      next,
      previous,
      refused,
      thrown === undefined ? new Set() : new Set(told),
      thrown,
    );
  }

  /**
   * After the listeners ran: every key whose value (version, canary, side) is new is applied,
   * or rejected when a listener told about it threw. Keys the validator refused were noted.
   */
  private acknowledge(
    next: ConfigSnapshot,
    previous: ConfigSnapshot | undefined,
    refused: Map<string, string>,
    failed: Set<string>,
    thrown: unknown,
  ) {
    const acks = this.acks;
    if (!acks) return;
    for (const key of Object.keys(next.configs)) {
      const version = next.versions[key];
      if (refused.has(key) || version === undefined) continue;
      const ack = ackOf(key, version, next.deployments[key]);
      if (failed.has(key)) acks.note({ ...ack, status: 'rejected', reason: messageOf(thrown) });
      else acks.note({ ...ack, status: 'applied' });
    }
    if (previous) {
      acks.forget(Object.keys(previous.configs).filter((k) => !Object.hasOwn(next.configs, k)));
    }
  }

  private failed(error: unknown) {
    if (this.state === 'closed') return;
    this.lastError = error;
    this.reportError(error);
    if (this.served) {
      if (this.state === 'live') {
        this.state = 'stale';
        this.emit('stale', [error], (e) => this.reportError(e));
      }
      return;
    }
    this.state = 'stale';
    if (this.initialFailure === undefined) {
      this.initialFailure = error;
      this.emit('failed', [error], (e) => this.reportError(e));
    }
    if (error instanceof ConfigServiceError && REFUSED.includes(error.status)) {
      this.refused = error; // misconfigured: say so to ready()
      for (const w of this.waiters) w.reject(error);
      this.waiters.clear();
    } else this.fallBack();
  }

  /** Resolves the waiting ready() calls with the fallback values, if there are any. */
  private fallBack() {
    if (!this.current || this.refused) return;
    for (const w of this.waiters) w.resolve(this.current);
    this.waiters.clear();
  }

  private save(snapshot: ConfigSnapshot) {
    const store = this.store;
    if (!store) return;
    const { url, tenant, environment, clientId } = this.options;
    this.saving = this.saving
      .then(() =>
        store.save({
          format: 1,
          savedAt: new Date().toISOString(),
          url,
          tenant,
          environment,
          clientId: clientId ?? null,
          etag: snapshot.etag,
          version: snapshot.version,
          configs: { ...snapshot.configs },
          versions: { ...snapshot.versions },
          deployments: { ...snapshot.deployments },
        }),
      )
      .catch((error: unknown) => this.reportError(error));
  }

  private reportError(error: unknown) {
    this.emit('error', [error], () => undefined);
  }
}
