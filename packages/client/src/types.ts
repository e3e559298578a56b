/** The client's public types: options, snapshots, events. */

/** A bearer credential, or a function returning one (called again when the service says it expired). */
export type TokenSource = string | (() => string | Promise<string>);

/** Where a last-known-good snapshot is kept: a file (Node) or anything with these two methods. */
export interface SnapshotStore {
  load(): Promise<StoredSnapshot | undefined>;
  save(snapshot: StoredSnapshot): Promise<void>;
}

export interface ClientOptions {
  /** The service, e.g. `http://config-service:5000`. */
  url: string;
  tenant: string;
  environment: string;
  /** An API key (`cfgk_…`), sent as `Authorization: Bearer <key>`. Give this or `token`. */
  apiKey?: string;
  /** A reader token (JWT), or a function returning one; renewed when the service says it expired. */
  token?: TokenSource;
  /** A stable id of this app instance (pod name): decides its side of a running canary. */
  clientId?: string;
  /** `stream` (server-sent events, default) or `poll` (long polls, for proxies that buffer). */
  mode?: 'stream' | 'poll';
  /** Seconds a long poll may wait (1..60, default 30). */
  waitSeconds?: number;
  /** How long `ready()` waits when given no timeout (ms, default 10,000). */
  readyTimeoutMs?: number;
  /** How often recorded outcomes are sent (ms, default 10,000). */
  reportIntervalMs?: number;
  /**
   * Tell the service which values this instance applied or rejected (default true): it keeps
   * which instances run which version, and canaries can wait for (or roll back on) them. Needs
   * the `report-metrics` capability (every role; API keys with that scope).
   */
  acknowledge?: boolean;
  /** This instance in acknowledgements (default: `clientId`, else a random id per process). */
  instanceId?: string;
  /** Acknowledgements noted within this many ms go in one request (default 1,000). */
  acknowledgeIntervalMs?: number;
  /**
   * Checks a new or changed value before it is taken; throw to reject it: the key keeps its
   * previous value (or stays missing) and the service is told it was rejected, with the message.
   */
  validate?: (key: string, value: unknown) => void;
  /** Reconnect back-off bounds (ms, default 500 and 30,000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Values to serve until the service answers (and when it cannot be reached at start). */
  bootstrap?: Record<string, unknown>;
  /**
   * A JSON file with such values: a flat `{ "key": value }` object, or what the environment route
   * answers (`{ "environment": …, "configs": {…} }`). Node only.
   */
  bootstrapFile?: string;
  /**
   * The last values received are kept here and used at start when the service cannot be
   * reached. Default (Node): a file in the OS temp directory named after url, tenant, environment
   * and client id; `false` turns it off; a string is the file to use. Elsewhere pass a store.
   */
  lastKnownGood?: boolean | string | SnapshotStore;
  /** Never contact the service: serve the bootstrap values (or the last-known-good ones). */
  offline?: boolean;
  fetch?: typeof fetch;
}

export interface DeploymentSide {
  deploymentId: string;
  side: 'canary' | 'stable';
}

/** Where the values in a snapshot came from. */
export type SnapshotSource = 'service' | 'last-known-good' | 'bootstrap';

export interface ConfigSnapshot {
  /** The environment's ETag (without quotes): changes whenever what this client sees changes. */
  etag: string;
  version: number;
  configs: Readonly<Record<string, unknown>>;
  /** Each key's version (the service sends them; fallbacks may lack them). */
  versions: Readonly<Record<string, number>>;
  /** Keys with a canary running, and the side this client is on. */
  deployments: Readonly<Record<string, DeploymentSide>>;
  source: SnapshotSource;
}

/** What the last-known-good store keeps. */
export interface StoredSnapshot {
  format: 1;
  savedAt: string;
  url: string;
  tenant: string;
  environment: string;
  clientId: string | null;
  etag: string;
  version: number;
  configs: Record<string, unknown>;
  versions: Record<string, number>;
  deployments: Record<string, DeploymentSide>;
}

/** One key as this client sees it. */
export interface ConfigEntry {
  key: string;
  value: unknown;
  version: number | undefined;
  /** Set while a canary runs on the key. */
  deployment: DeploymentSide | undefined;
  source: SnapshotSource;
}

/** The value kinds of the typed getters. */
export type ValueKind = 'boolean' | 'number' | 'string' | 'json';

/** `starting` → `live` ⇄ `stale`; `offline` and `closed` are final. */
export type ClientStatus = 'starting' | 'live' | 'stale' | 'offline' | 'closed';

export interface ClientEvents {
  /** The first snapshot from the service (once). */
  ready: [snapshot: ConfigSnapshot];
  /** A new snapshot after an earlier one, with the keys whose value changed. */
  change: [snapshot: ConfigSnapshot, changedKeys: string[]];
  /** The first attempt to reach the service failed (once); the client keeps trying. */
  failed: [error: unknown];
  /** Contact was lost after values were live; the last values stay in use. */
  stale: [error: unknown];
  /** The service answers again after `stale`. */
  reconnected: [snapshot: ConfigSnapshot];
  /** Every failed attempt, type mismatch, failed save or send, and listener that threw. */
  error: [error: unknown];
}

export type ClientEvent = keyof ClientEvents;
