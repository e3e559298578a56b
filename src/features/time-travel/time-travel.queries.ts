/**
 * A whole tenant as of a position or a time, and the difference between two points, from the
 * `tenant-history` projection's tables: the newest snapshot at or before the point, then the
 * changes after it (at most SNAPSHOT_EVERY). No retention limit: every change is kept.
 */
import type pg from 'pg';
import { masked } from '../configs/config.view.js';

/** One configuration in a tenant's state (snapshot JSON field names). */
interface Entry {
  e: string;
  k: string;
  t: string;
  v: string | null;
  n: number;
  s: boolean;
  d: boolean;
}

export interface ConfigAt {
  configId: string;
  type: string;
  version: number;
  value: string;
}

/** environment → key → config, live configs only. */
export type TenantAt = Record<string, Record<string, ConfigAt>>;

export interface DiffItem {
  environment: string;
  key: string;
  configId: string;
  change: 'added' | 'removed' | 'changed';
  from: { version: number; value: string; type: string } | null;
  to: { version: number; value: string; type: string } | null;
}

export class TimeTravelQueries {
  constructor(private readonly pool: pg.Pool) {}

  /** Whether the tenant has any recorded change. */
  async known(tenantId: string): Promise<boolean> {
    const { rows } = await this.pool.query(
      'SELECT 1 FROM tenant_state WHERE tenant_id = $1 LIMIT 1',
      [tenantId],
    );
    return rows.length > 0;
  }

  /**
   * The position of the tenant's last change decided at or before `at` (0 when none): "as of a
   * time" is the tenant's log up to there.
   */
  async positionAt(tenantId: string, at: Date): Promise<bigint> {
    const { rows } = await this.pool.query<{ p: string | null }>(
      `SELECT max(position)::text AS p FROM tenant_changes WHERE tenant_id = $1 AND changed_at <= $2`,
      [tenantId, at.toISOString()],
    );
    return BigInt(rows[0]?.p ?? '0');
  }

  /** The tenant's last change (0 when none). */
  async head(tenantId: string): Promise<bigint> {
    const { rows } = await this.pool.query<{ p: string | null }>(
      'SELECT max(position)::text AS p FROM tenant_changes WHERE tenant_id = $1',
      [tenantId],
    );
    return BigInt(rows[0]?.p ?? '0');
  }

  /**
   * Every configuration of the tenant as of `position`, keyed by config id (deleted ones too),
   * and the configs that are or ever were sensitive. One statement (one snapshot of the tables,
   * one round trip): the newest snapshot at or before the point, the changes after it.
   */
  async entriesAt(
    tenantId: string,
    position: bigint,
  ): Promise<{ entries: Map<string, Entry>; sensitive: Set<string> }> {
    const { rows } = await this.pool.query<{
      state: Record<string, Entry> | null;
      changes: {
        config_id: string;
        environment: string;
        key: string;
        type: string;
        value: string | null;
        version: number;
        is_sensitive: boolean;
        deleted: boolean;
      }[];
      sensitive: string[];
    }>(
      `WITH snap AS (
         SELECT position, state FROM tenant_snapshots
          WHERE tenant_id = $1 AND position <= $2 ORDER BY position DESC LIMIT 1)
       SELECT (SELECT state FROM snap) AS state,
              (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                        'config_id', c.config_id, 'environment', c.environment, 'key', c.key,
                        'type', c.type, 'value', c.value, 'version', c.version,
                        'is_sensitive', c.is_sensitive, 'deleted', c.deleted)
                        ORDER BY c.position), '[]'::jsonb)
                 FROM tenant_changes c
                WHERE c.tenant_id = $1 AND c.position <= $2
                  AND c.position > COALESCE((SELECT position FROM snap), 0)) AS changes,
              (SELECT COALESCE(array_agg(config_id), '{}') FROM tenant_state
                WHERE tenant_id = $1 AND is_sensitive) AS sensitive`,
      [tenantId, position.toString()],
    );
    const r = rows[0]!;
    const entries = new Map(Object.entries(r.state ?? {}));
    for (const c of r.changes) {
      entries.set(c.config_id, {
        e: c.environment,
        k: c.key,
        t: c.type,
        v: c.value,
        n: c.version,
        s: (entries.get(c.config_id)?.s ?? false) || c.is_sensitive,
        d: c.deleted,
      });
    }
    return { entries, sensitive: new Set(r.sensitive) };
  }

  /** Configs that are, or ever were, sensitive: their values are masked at every point. */
  async sensitiveIds(tenantId: string): Promise<Set<string>> {
    const { rows } = await this.pool.query<{ config_id: string }>(
      'SELECT config_id FROM tenant_state WHERE tenant_id = $1 AND is_sensitive',
      [tenantId],
    );
    return new Set(rows.map((r) => r.config_id));
  }

  /** The tenant's live configurations as of `position`, by environment and key. */
  async tenantAt(
    tenantId: string,
    position: bigint,
    options: { mask?: boolean; environments?: (env: string) => boolean } = {},
  ): Promise<TenantAt> {
    const { entries, sensitive: ever } = await this.entriesAt(tenantId, position);
    const sensitive = options.mask === false ? new Set<string>() : ever;
    const out: TenantAt = {};
    for (const [configId, x] of entries) {
      if (x.d || x.v === null) continue;
      if (options.environments && !options.environments(x.e)) continue;
      (out[x.e] ??= {})[x.k] = {
        configId,
        type: x.t,
        version: x.n,
        value: masked(x.v, x.s || sensitive.has(configId)),
      };
    }
    return out;
  }

  /** What changed between two points: keys added, removed, or with another version. */
  async diff(
    tenantId: string,
    from: bigint,
    to: bigint,
    environments?: (env: string) => boolean,
  ): Promise<DiffItem[]> {
    const [a, b] = await Promise.all([
      this.tenantAt(tenantId, from, { environments }),
      this.tenantAt(tenantId, to, { environments }),
    ]);
    return diffStates(a, b);
  }
}

/** Pure: the differences between two tenant states, by environment then key. */
export function diffStates(a: TenantAt, b: TenantAt): DiffItem[] {
  const items: DiffItem[] = [];
  const envs = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const environment of envs) {
    const x = a[environment] ?? {};
    const y = b[environment] ?? {};
    for (const key of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) {
      const before = x[key];
      const after = y[key];
      const side = (c: ConfigAt | undefined) =>
        c ? { version: c.version, value: c.value, type: c.type } : null;
      if (before && after && before.version === after.version && before.value === after.value) {
        continue;
      }
      items.push({
        environment,
        key,
        configId: (after ?? before)!.configId,
        change: !before ? 'added' : !after ? 'removed' : 'changed',
        from: side(before),
        to: side(after),
      });
    }
  }
  return items;
}
