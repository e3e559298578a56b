/**
 * Checks the API keys apps send, for every route that takes them (the hot read path included).
 *
 * A key is looked up once per process from its own stream (`apikey-{keyId}`, not a read table: a
 * new key works at once and a revocation is never hidden by a projection that lags), then served
 * from memory: a hit is a Map lookup and a SHA-256 compared in constant time. A revocation is
 * published on Redis; every replica drops the key when it hears it (well under a second). While a
 * replica is not subscribed (Redis away) it re-reads a key's stream at least every second, and
 * even when subscribed every `maxAgeMs`, so a lost message cannot keep a revoked key alive.
 *
 * `lastUsedAt` is written at most once a minute per key and process, off the request's path, to
 * api_key_usage (a table of its own, so rebuilding the read model keeps it).
 */
import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { EventStore } from '../../core/event-store/event-store.js';
import type { RedisKeys } from '../../core/redis/redis.js';
import type { ApiKeyVerifier } from '../../core/auth/auth.js';
import { apiKeyPrincipal, type Principal } from '../../core/auth/principal.js';
import { HttpProblem } from '../../core/http/problem.js';
import { apiKeyStream } from '../../core/streams.js';
import { evolveApiKey, initialApiKeyState, isUsable, type ApiKeyEvent } from './api-key.decider.js';
import { parseApiKey, secretMatches } from './api-key-secret.js';

interface Entry {
  secretHash: string;
  principal: Principal;
  loadedAt: number;
}

const invalid = () =>
  new HttpProblem(401, 'Unauthorized', 'Invalid API key: unknown, revoked or expired', {
    field: 'Authorization',
  });

export const apiKeyRevocationChannel = (keys: RedisKeys) => `${keys.prefix}api-key-revocations`;

/** Tells every API replica that a key was revoked. */
export const announceRevocation = (redis: Redis, keys: RedisKeys) => async (keyId: string) => {
  await redis.publish(apiKeyRevocationChannel(keys), keyId);
};

export class ApiKeyCache implements ApiKeyVerifier {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry | undefined>>();
  /** Revocations heard, by key id: a lookup that started before one must not be believed. */
  private readonly revokedAt = new Map<string, number>();
  private readonly lastTouched = new Map<string, number>();
  /**
   * Key ids found unknown, revoked or expired: that never changes (ids are random and made at
   * creation), so made-up or dead keys cost a Map lookup, not a read of the event store each.
   */
  private readonly unusable = new Set<string>();
  private subscribed = false;
  private readonly listeners: ((keyId: string) => void)[] = [];

  constructor(
    private readonly store: EventStore,
    private readonly db: pg.Pool,
    private readonly keys: RedisKeys,
    private readonly options: {
      maxAgeMs?: number;
      touchEveryMs?: number;
      maxEntries?: number;
      onTouchError?: (error: unknown) => void;
    } = {},
  ) {}

  /** Follows revocations on `sub` (a connection in subscriber mode, shared with the cache). */
  listen(sub: Redis): void {
    const channel = apiKeyRevocationChannel(this.keys);
    sub.on('message', (ch: string, keyId: string) => {
      if (ch === channel) this.revoked(keyId);
    });
    const subscribe = () =>
      void sub.subscribe(channel).then(
        () => {
          // Anything could have been revoked while we were not listening.
          this.entries.clear();
          this.subscribed = true;
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

  /** A revocation heard: the key's principal stops being valid everywhere it is remembered. */
  revoked(keyId: string): void {
    const now = Date.now();
    const entry = this.entries.get(keyId);
    if (entry) entry.principal.expiresAt = 0;
    this.entries.delete(keyId);
    this.revokedAt.set(keyId, now);
    this.unusable.add(keyId);
    for (const listener of this.listeners) listener(keyId);
    if (this.revokedAt.size > 10_000) {
      for (const [id, at] of this.revokedAt) if (now - at > 60_000) this.revokedAt.delete(id);
    }
  }

  onRevoked(listener: (keyId: string) => void): void {
    this.listeners.push(listener);
  }

  verify(credential: string): Principal | Promise<Principal> {
    const parsed = parseApiKey(credential);
    if (!parsed || this.unusable.has(parsed.keyId)) throw invalid();
    const now = Date.now();
    const entry = this.entries.get(parsed.keyId);
    if (entry && this.fresh(entry, now)) return this.accept(entry, parsed.secret, now);
    return this.load(parsed.keyId).then((loaded) => {
      if (!loaded) throw invalid();
      return this.accept(loaded, parsed.secret, Date.now());
    });
  }

  stillValid(principal: Principal): boolean {
    const entry = principal.keyId !== undefined ? this.entries.get(principal.keyId) : undefined;
    const now = Date.now();
    if (!entry || entry.principal !== principal || !this.fresh(entry, now)) return false;
    this.touch(principal.keyId!, now);
    return true;
  }

  private fresh(entry: Entry, now: number): boolean {
    const maxAge = this.subscribed ? (this.options.maxAgeMs ?? 60_000) : 1000;
    return entry.principal.expiresAt > now && now - entry.loadedAt < maxAge;
  }

  private accept(entry: Entry, secret: string, now: number): Principal {
    if (!secretMatches(secret, entry.secretHash)) throw invalid();
    this.touch(entry.principal.keyId!, now);
    return entry.principal;
  }

  /** Reads the key's stream (one read per key at a time). */
  private load(keyId: string): Promise<Entry | undefined> {
    const inFlight = this.loading.get(keyId);
    if (inFlight) return inFlight;
    const started = Date.now();
    const loading = this.store
      .readStream(apiKeyStream(keyId))
      .then(({ events }) => {
        const state = (events as unknown as ApiKeyEvent[]).reduce(
          evolveApiKey,
          initialApiKeyState(),
        );
        const now = Date.now();
        if (!isUsable(state, now)) {
          if (this.unusable.size >= 100_000) this.unusable.clear();
          this.unusable.add(keyId);
          return undefined;
        }
        // A revocation heard while reading may be newer than what was read.
        if ((this.revokedAt.get(keyId) ?? -1) >= started) return undefined;
        const entry: Entry = {
          secretHash: state.secretHash,
          loadedAt: now,
          principal: apiKeyPrincipal({
            keyId,
            tenantId: state.tenantId,
            scopes: state.scopes,
            environments: state.environments,
            expiresAt:
              state.expiresAt === null ? Number.MAX_SAFE_INTEGER : Date.parse(state.expiresAt),
          }),
        };
        // The principal it replaces (stale) is let go by connections that remembered it.
        const previous = this.entries.get(keyId);
        if (previous) previous.principal.expiresAt = 0;
        if (this.entries.size >= (this.options.maxEntries ?? 10_000)) {
          this.entries.delete(this.entries.keys().next().value!);
        }
        this.entries.set(keyId, entry);
        return entry;
      })
      .finally(() => this.loading.delete(keyId));
    this.loading.set(keyId, loading);
    return loading;
  }

  /** Records the key's use, at most once per `touchEveryMs`, without waiting for it. */
  private touch(keyId: string, now: number): void {
    const last = this.lastTouched.get(keyId);
    if (last !== undefined && now - last < (this.options.touchEveryMs ?? 60_000)) return;
    if (this.lastTouched.size > 100_000) this.lastTouched.clear();
    this.lastTouched.set(keyId, now);
    this.db
      .query(
        `INSERT INTO api_key_usage (key_id, last_used_at) VALUES ($1, $2)
         ON CONFLICT (key_id) DO UPDATE
           SET last_used_at = GREATEST(api_key_usage.last_used_at, EXCLUDED.last_used_at)`,
        [keyId, new Date(now).toISOString()],
      )
      .catch((error: unknown) => this.options.onTouchError?.(error));
  }
}
