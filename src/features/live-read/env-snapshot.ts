/**
 * An environment as the hot read path serves it: its entries and running canaries, and the JSON
 * bodies rendered from them once (whole environment, single keys, canary variants) with their
 * ETags, so that a hit writes a ready buffer. Pure: no I/O, used by the cache (hot-read.cache.ts)
 * and by the handler and watchers.
 */
import type { CachedCanary, CachedEntry } from './redis-cache.projection.js';
import type { LaneAnswer } from '../../core/http/fast-lane.js';
import { onCanary } from '../deployments/canary-buckets.js';
import { MASK, typedValue } from '../configs/config-values.js';

export interface EnvSnapshot {
  tenantId: string;
  environment: string;
  /** Quoted ETag of the whole environment. */
  etag: string;
  entries: Map<string, CachedEntry>;
  /** Canary deployments running on keys of this environment. */
  canaries: Map<string, CachedCanary>;
  /** Pre-rendered body of the whole environment. */
  body: Buffer;
  /** Pre-rendered bodies of single keys, made on first use. */
  keyBodies: Map<string, Rendered>;
  /** The whole environment as most clients get it (with its headers, once built). */
  stable?: Rendered;
  /** Hash of the running canaries and their shares: part of the ETags of bodies naming them. */
  canaryTag?: string;
  /** Whole-environment bodies per set of keys a client sees on the canary side. */
  envVariants: Map<string, Rendered>;
  expiresAt: number;
  source: 'redis' | 'postgres';
  /**
   * Read from PostgreSQL without becoming the Redis hash (the fill was refused or Redis is down):
   * later changes may never be announced against it, so it is kept one second only.
   */
  provisional: boolean;
  /**
   * Some values are encrypted: this snapshot's bodies show them masked, and `revealed` (built
   * once per snapshot, on the first read by a caller allowed to reveal) has them decrypted.
   */
  sealed: boolean;
  /** The entries as cached (ciphertext), kept for `revealed`. */
  stored?: { entries: Map<string, CachedEntry>; canaries: Map<string, CachedCanary> };
  revealed?: EnvSnapshot;
  revealing?: Promise<EnvSnapshot>;
}

export type CacheSource = 'local' | 'redis' | 'postgres';

export interface Rendered {
  body: Buffer;
  etag: string;
  /** Response headers, built on first use. */
  headers?: string[];
  /** The fast lane's 200 and 304 answers (status line and headers as bytes), built on first use. */
  lane?: LaneAnswer;
  lane304?: LaneAnswer;
  /** The server-sent event carrying this body, built on first use (shared by all streams). */
  event?: string;
}

export function snapshotOf(
  tenantId: string,
  environment: string,
  etag: string,
  entries: Map<string, CachedEntry>,
  canaries: Map<string, CachedCanary>,
  source: 'redis' | 'postgres',
): EnvSnapshot {
  let sealed = false;
  for (const e of entries.values()) if (e.encrypted) sealed = true;
  for (const c of canaries.values()) if (c.encrypted) sealed = true;
  const snap: EnvSnapshot = {
    tenantId,
    environment,
    etag: `"${etag}"`,
    entries: sealed ? maskedEntries(entries) : entries,
    canaries: sealed ? maskedEntries(canaries) : canaries,
    sealed,
    ...(sealed ? { stored: { entries, canaries } } : {}),
    body: Buffer.alloc(0),
    keyBodies: new Map(),
    envVariants: new Map(),
    expiresAt: 0,
    source,
    provisional: false,
  };
  snap.body = renderEnv(snap, new Set());
  return snap;
}

/** Encrypted values as everyone who may not reveal them sees them. */
function maskedEntries<T extends { value: string; type: string; encrypted?: true }>(
  map: Map<string, T>,
): Map<string, T> {
  const out = new Map<string, T>();
  for (const [k, e] of map) out.set(k, e.encrypted ? { ...e, value: MASK } : e);
  return out;
}

/** The typed value served; an entry still marked encrypted is shown masked. */
const served = (e: { value: string; type: string; encrypted?: true }): unknown =>
  e.encrypted ? MASK : typedValue(e.type, e.value);

function renderEnv(snap: EnvSnapshot, canarySide: Set<string>): Buffer {
  const configs: Record<string, unknown> = {};
  const versions: Record<string, number> = {};
  const deployments: Record<string, { deploymentId: string; side: 'canary' | 'stable' }> = {};
  for (const [k, e] of [...snap.entries].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const canary = snap.canaries.get(k);
    configs[k] = canarySide.has(k) ? served(canary!) : served(e);
    versions[k] = e.version;
    if (canary) {
      deployments[k] = { deploymentId: canary.id, side: canarySide.has(k) ? 'canary' : 'stable' };
    }
  }
  const body: Record<string, unknown> = {
    tenantId: snap.tenantId,
    environment: snap.environment,
    version: Number(snap.etag.slice(1, -1)),
    configs,
  };
  // Each key's version (what the replay route calls them too): apps' clients report it.
  if (snap.entries.size) body.versions = versions;
  if (Object.keys(deployments).length) body.deployments = deployments;
  return Buffer.from(JSON.stringify(body));
}

/**
 * The whole environment for a client. Without a client id, or with no canary running, it is the
 * one pre-rendered body; otherwise the variant for the keys this client sees on the canary side.
 */
export function envBody(snap: EnvSnapshot, clientId: string | undefined): Rendered {
  if (snap.canaries.size === 0) return (snap.stable ??= { body: snap.body, etag: snap.etag });
  // The body names the running canaries, so they (and their shares) are part of every ETag.
  snap.canaryTag ??= shortHash(
    [...snap.canaries]
      .map(([k, c]) => `${k}=${c.id}@${c.percentage}`)
      .sort()
      .join(','),
  );
  const base = `${snap.etag.slice(1, -1)}-${snap.canaryTag}`;
  if (!clientId) return (snap.stable ??= { body: snap.body, etag: `"${base}"` });
  const side = new Set<string>();
  for (const [k, c] of snap.canaries) {
    if (snap.entries.has(k) && onCanary(clientId, c.id, c.percentage)) side.add(k);
  }
  const variant = [...side].sort().join('\u0000');
  let rendered = snap.envVariants.get(variant);
  if (!rendered) {
    rendered = {
      body: renderEnv(snap, side),
      // Clients on different sides must not share an ETag.
      etag: side.size ? `"${base}-c${shortHash(variant)}"` : `"${base}"`,
    };
    if (snap.envVariants.size < 1024) snap.envVariants.set(variant, rendered);
  }
  return rendered;
}

function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}

/** One key for a client: the canary value if a canary runs on it and the client is on its side. */
export function keyBody(snap: EnvSnapshot, key: string, clientId?: string): Rendered | undefined {
  const canary = snap.canaries.get(key);
  const side =
    canary && clientId
      ? onCanary(clientId, canary.id, canary.percentage)
        ? 'canary'
        : 'stable'
      : undefined;
  const memo =
    side === 'canary' ? `${key}\u0000canary` : side === 'stable' ? `${key}\u0000stable` : key;
  let rendered = snap.keyBodies.get(memo);
  if (rendered) return rendered;
  const e = snap.entries.get(key);
  if (!e) return undefined;
  const shown = side === 'canary' ? canary! : e;
  rendered = {
    // The body names the deployment and the side, so both are part of the ETag.
    etag: side ? `"${e.version}-${canary!.id}-${side}"` : `"${e.version}"`,
    body: Buffer.from(
      JSON.stringify({
        tenantId: snap.tenantId,
        environment: snap.environment,
        key,
        value: served(shown),
        type: e.type,
        version: e.version,
        configId: e.id,
        updatedAt: e.updatedAt,
        ...(side ? { deployment: { deploymentId: canary!.id, side } } : {}),
      }),
    ),
  };
  snap.keyBodies.set(memo, rendered);
  return rendered;
}
