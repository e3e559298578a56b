/**
 * The tenants' data keys (`tenant_data_keys`, outside the event log: the log is immutable, and
 * destroying a key is how a tenant's values are shredded). Each tenant has versions of one data
 * key (AES-256), stored only wrapped by a key-encryption key (`key-wrapping.ts`). Unwrapped keys
 * are cached per process for `Encryption__DataKeyCacheTTL`, so reads decrypt without a round trip
 * (Vault) once per key and process; destroying a tenant's keys tells every process over Redis
 * pub/sub to forget them at once.
 */
import type pg from 'pg';
import { KeyDestroyedError, newDataKey } from './envelope.js';
import type { KeyWrapper, WrappedKey } from './key-wrapping.js';

interface KeyRow {
  version: number;
  wrapped_key: string | null;
  kek_id: string | null;
  destroyed_at: Date | null;
}

interface Cached {
  key: Buffer;
  expiresAt: number;
}

export interface RewrapReport {
  keys: number;
  rewrapped: number;
  kek: string;
  /** Keys that could not be re-wrapped (their key-encryption key is not configured, …). */
  failures: { tenantId: string; version: number; error: string }[];
}

export class DataKeys {
  private readonly cache = new Map<string, Cached>();
  private readonly current = new Map<string, { version: number } & Cached>();
  private readonly unwrapping = new Map<string, Promise<Buffer>>();
  /** Bumped by every forget: an unwrap that started before it is not cached. */
  private generation = 0;

  constructor(
    private readonly db: pg.Pool,
    readonly wrapper: KeyWrapper,
    private readonly ttlMs: number,
  ) {}

  /** The key of (tenant, version) when this process holds it: no I/O. */
  cached(tenantId: string, version: number): Buffer | undefined {
    const hit = this.cache.get(`${tenantId}:${version}`);
    if (hit && hit.expiresAt > Date.now()) return hit.key;
    return undefined;
  }

  async key(tenantId: string, version: number): Promise<Buffer> {
    const hit = this.cached(tenantId, version);
    if (hit) return hit;
    const id = `${tenantId}:${version}`;
    let pending = this.unwrapping.get(id);
    if (!pending) {
      const generation = this.generation;
      pending = this.load(tenantId, version).then((key) => {
        if (generation === this.generation) {
          this.cache.set(id, { key, expiresAt: Date.now() + this.ttlMs });
        }
        return key;
      });
      pending.finally(() => this.unwrapping.delete(id)).catch(() => undefined);
      this.unwrapping.set(id, pending);
    }
    return pending;
  }

  /** The version new values of the tenant are encrypted with; its first key is made on demand. */
  async currentKey(tenantId: string): Promise<{ version: number; key: Buffer }> {
    const hit = this.current.get(tenantId);
    if (hit && hit.expiresAt > Date.now()) return hit;
    const generation = this.generation;
    let rows = await this.rows(tenantId);
    if (rows.length === 0) {
      const wrapped = await this.wrapper.wrap(newDataKey(), tenantId);
      // Racing writers: the first insert wins, everyone uses the row that is there.
      await this.db.query(
        `INSERT INTO tenant_data_keys (tenant_id, version, wrapped_key, kek_id)
         VALUES ($1, 1, $2, $3) ON CONFLICT DO NOTHING`,
        [tenantId, wrapped.wrapped, wrapped.kekId],
      );
      rows = await this.rows(tenantId);
    }
    if (rows.some((r) => r.destroyed_at)) throw new KeyDestroyedError(tenantId);
    const newest = rows[0]!;
    const key = await this.key(tenantId, newest.version);
    const entry = { version: newest.version, key, expiresAt: Date.now() + this.ttlMs };
    if (generation === this.generation) this.current.set(tenantId, entry);
    return entry;
  }

  /** A new version of the tenant's data key: new values use it, older ones keep theirs. */
  async addVersion(tenantId: string): Promise<number> {
    const wrapped = await this.wrapper.wrap(newDataKey(), tenantId);
    const { rows } = await this.db.query<{ version: number }>(
      `INSERT INTO tenant_data_keys (tenant_id, version, wrapped_key, kek_id)
       SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3 FROM tenant_data_keys WHERE tenant_id = $1
       HAVING bool_and(destroyed_at IS NULL) IS NOT FALSE
       RETURNING version`,
      [tenantId, wrapped.wrapped, wrapped.kekId],
    );
    if (!rows[0]) throw new KeyDestroyedError(tenantId);
    this.forget(tenantId);
    return rows[0].version;
  }

  /**
   * Crypto-shredding: the wrapped keys are overwritten and marked destroyed (a tombstone row
   * when the tenant never had one, so none is made later). Returns how many keys were destroyed.
   */
  async destroy(tenantId: string): Promise<number> {
    const { rowCount } = await this.db.query(
      `UPDATE tenant_data_keys SET wrapped_key = NULL, kek_id = NULL, destroyed_at = now()
        WHERE tenant_id = $1 AND destroyed_at IS NULL`,
      [tenantId],
    );
    await this.db.query(
      `INSERT INTO tenant_data_keys (tenant_id, version, wrapped_key, kek_id, destroyed_at)
       VALUES ($1, 0, NULL, NULL, now()) ON CONFLICT DO NOTHING`,
      [tenantId],
    );
    this.forget(tenantId);
    return rowCount ?? 0;
  }

  /** Drops what this process holds of the tenant's keys (another process destroyed them). */
  forget(tenantId: string): void {
    this.generation += 1;
    this.current.delete(tenantId);
    for (const id of this.cache.keys()) if (id.startsWith(`${tenantId}:`)) this.cache.delete(id);
  }

  /**
   * Re-wraps every live data key under the current key-encryption key (`npm run keys:rotate`).
   * Events are untouched: values name the data key version, which does not change. Each update
   * expects the wrapped key it read, so a concurrent purge or rotation is not undone.
   */
  async rewrapAll(options: { tenantId?: string } = {}): Promise<RewrapReport> {
    const { rows } = await this.db.query<KeyRow & { tenant_id: string }>(
      `SELECT tenant_id, version, wrapped_key, kek_id, destroyed_at FROM tenant_data_keys
        WHERE destroyed_at IS NULL AND ($1::text IS NULL OR tenant_id = $1)
        ORDER BY tenant_id, version`,
      [options.tenantId ?? null],
    );
    let rewrapped = 0;
    const failures: RewrapReport['failures'] = [];
    for (const r of rows) {
      let next: WrappedKey | undefined;
      try {
        next = await this.wrapper.rewrap(
          { kekId: r.kek_id!, wrapped: r.wrapped_key! },
          r.tenant_id,
        );
      } catch (error) {
        // One key that cannot be re-wrapped does not stop the others; the report names it.
        failures.push({
          tenantId: r.tenant_id,
          version: r.version,
          error: (error as Error).message,
        });
        continue;
      }
      if (!next) continue;
      const { rowCount } = await this.db.query(
        `UPDATE tenant_data_keys SET wrapped_key = $4, kek_id = $5, rewrapped_at = now()
          WHERE tenant_id = $1 AND version = $2 AND wrapped_key = $3`,
        [r.tenant_id, r.version, r.wrapped_key, next.wrapped, next.kekId],
      );
      rewrapped += rowCount ?? 0;
    }
    return { keys: rows.length, rewrapped, kek: this.wrapper.current, failures };
  }

  private async rows(tenantId: string): Promise<KeyRow[]> {
    const { rows } = await this.db.query<KeyRow>(
      `SELECT version, wrapped_key, kek_id, destroyed_at FROM tenant_data_keys
        WHERE tenant_id = $1 ORDER BY version DESC`,
      [tenantId],
    );
    return rows;
  }

  private async load(tenantId: string, version: number): Promise<Buffer> {
    const { rows } = await this.db.query<KeyRow>(
      `SELECT version, wrapped_key, kek_id, destroyed_at FROM tenant_data_keys
        WHERE tenant_id = $1 AND (version = $2 OR destroyed_at IS NOT NULL)`,
      [tenantId, version],
    );
    const row = rows.find((r) => r.version === version);
    // No row at all: a log restored without its keys, or a shredded tenant.
    if (!row || rows.some((r) => r.destroyed_at) || !row.wrapped_key || !row.kek_id) {
      throw new KeyDestroyedError(tenantId);
    }
    const wrapped: WrappedKey = { kekId: row.kek_id, wrapped: row.wrapped_key };
    return this.wrapper.unwrap(wrapped, tenantId);
  }
}
