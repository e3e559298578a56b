/**
 * Acknowledgements as the API shows them, from the ledger's tables (never the event store):
 * the instances running a configuration, who acknowledged a version (blame), per-side counts of
 * a deployment (the deployment view, and what its steps count).
 */
import type pg from 'pg';
import { iso } from '../../core/postgres/paging.js';
import type { AckSide, AckStatus } from './acknowledgement-ledger.js';
import type { VersionAcknowledgements } from './acknowledgements.view.js';

/** `$n::bigint ${MS}`: a number of milliseconds as an interval. */
export const MS = `* interval '1 millisecond'`;

type SideCounts = Record<AckSide, { applied: number; rejected: number; reason?: string }>;

export class AcknowledgementQueries {
  constructor(
    private readonly pool: pg.Pool,
    readonly instanceTtlMs: number,
  ) {}

  /**
   * Per deployment and side, instances by their newest report of its values: live ones only
   * (`live`), or every instance that ever reported it.
   */
  async sideCounts(
    deploymentIds: string[],
    live: boolean,
    configId?: string,
  ): Promise<Map<string, SideCounts>> {
    const out = new Map<string, SideCounts>();
    if (!deploymentIds.length) return out;
    const { rows } = await this.pool.query<{
      deployment_id: string;
      side: AckSide;
      status: AckStatus;
      n: number;
      reason: string | null;
    }>(
      `SELECT deployment_id, side, status, count(*)::int AS n, min(reason) AS reason
         FROM (SELECT DISTINCT ON (a.deployment_id, a.instance_id)
                      a.deployment_id, a.side, a.status, a.reason
                 FROM client_acknowledgements a
                 LEFT JOIN client_instances i
                        ON i.tenant_id = a.tenant_id AND i.environment = a.environment
                       AND i.instance_id = a.instance_id
                WHERE a.deployment_id = ANY($1) AND a.side <> ''
                  AND ($3::text IS NULL OR a.config_id = $3)
                  AND (NOT $2 OR i.last_seen_at > now() - $4::bigint ${MS})
                ORDER BY a.deployment_id, a.instance_id, a.acknowledged_at DESC) newest
        GROUP BY deployment_id, side, status`,
      [deploymentIds, live, configId ?? null, this.instanceTtlMs],
    );
    for (const r of rows) {
      let sides = out.get(r.deployment_id);
      if (!sides) {
        sides = { canary: { applied: 0, rejected: 0 }, stable: { applied: 0, rejected: 0 } };
        out.set(r.deployment_id, sides);
      }
      sides[r.side][r.status] = r.n;
      if (r.reason) sides[r.side].reason = r.reason;
    }
    return out;
  }

  /** The live instances of a configuration, each by its newest report; undefined: no such key. */
  async instances(configId: string) {
    const { rows: found } = await this.pool.query<{
      tenant_id: string;
      environment: string;
      key: string;
    }>('SELECT tenant_id, environment, key FROM configurations WHERE config_id = $1', [configId]);
    const c = found[0];
    if (!c) return undefined;
    const { rows } = await this.pool.query<{
      instance_id: string;
      version: number;
      deployment_id: string;
      side: string;
      status: AckStatus;
      reason: string | null;
      acknowledged_at: Date;
      last_seen_at: Date;
    }>(
      `SELECT DISTINCT ON (a.instance_id) a.instance_id, a.version, a.deployment_id, a.side,
              a.status, a.reason, a.acknowledged_at, i.last_seen_at
         FROM client_acknowledgements a
         JOIN client_instances i
           ON i.tenant_id = a.tenant_id AND i.environment = a.environment
          AND i.instance_id = a.instance_id
        WHERE a.config_id = $1 AND i.last_seen_at > now() - $2::bigint ${MS}
        ORDER BY a.instance_id, a.acknowledged_at DESC
        LIMIT 10000`,
      [configId, this.instanceTtlMs],
    );
    return {
      configId,
      tenantId: c.tenant_id,
      environment: c.environment,
      key: c.key,
      instanceTtlSeconds: this.instanceTtlMs / 1000,
      instances: rows.map((r) => ({
        instanceId: r.instance_id,
        version: r.version,
        deploymentId: r.deployment_id || null,
        side: (r.side || null) as AckSide | null,
        status: r.status,
        reason: r.reason,
        acknowledgedAt: iso(r.acknowledged_at)!,
        lastSeenAt: iso(r.last_seen_at)!,
      })),
    };
  }

  /**
   * Who acknowledged one version of a configuration: instances that reported the version
   * outside a canary or on its stable side, and those that ran it on the canary side of the
   * deployment that produced it (`deploymentId`). Each instance once, by its newest such report.
   */
  async forVersion(
    configId: string,
    version: number,
    deploymentId: string | null,
  ): Promise<VersionAcknowledgements> {
    const { rows } = await this.pool.query<{
      instance_id: string;
      status: AckStatus;
      reason: string | null;
      side: string;
      acknowledged_at: Date;
      last_seen_at: Date | null;
      live: boolean;
    }>(
      `SELECT * FROM (
         SELECT DISTINCT ON (a.instance_id) a.instance_id, a.status, a.reason, a.side,
                a.acknowledged_at, i.last_seen_at,
                COALESCE(i.last_seen_at > now() - $4::bigint ${MS}, FALSE) AS live
           FROM client_acknowledgements a
           LEFT JOIN client_instances i
                  ON i.tenant_id = a.tenant_id AND i.environment = a.environment
                 AND i.instance_id = a.instance_id
          WHERE a.config_id = $1
            AND ((a.version = $2 AND a.side <> 'canary')
                 OR (a.side = 'canary' AND a.deployment_id = $3))
          ORDER BY a.instance_id, a.acknowledged_at DESC) acks
        ORDER BY acknowledged_at DESC, instance_id
        LIMIT 1000`,
      [configId, version, deploymentId ?? '', this.instanceTtlMs],
    );
    const counts = await this.pool.query<{ status: AckStatus; n: number }>(
      `SELECT status, count(*)::int AS n FROM (
         SELECT DISTINCT ON (instance_id) status FROM client_acknowledgements
          WHERE config_id = $1
            AND ((version = $2 AND side <> 'canary') OR (side = 'canary' AND deployment_id = $3))
          ORDER BY instance_id, acknowledged_at DESC) newest
        GROUP BY status`,
      [configId, version, deploymentId ?? ''],
    );
    const n = (status: AckStatus) => counts.rows.find((r) => r.status === status)?.n ?? 0;
    return {
      applied: n('applied'),
      rejected: n('rejected'),
      instances: rows.map((r) => ({
        instanceId: r.instance_id,
        status: r.status,
        reason: r.reason,
        side: (r.side || null) as AckSide | null,
        acknowledgedAt: iso(r.acknowledged_at)!,
        lastSeenAt: iso(r.last_seen_at),
        live: r.live,
      })),
    };
  }
}
