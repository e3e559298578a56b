/**
 * The client acknowledgement ledger: which app instances applied (or rejected) which value of
 * each configuration. Apps report often and repetitively, so reports are rows, not events
 * (`client_instances`, `client_acknowledgements`, written here by the API); the decisions they
 * cause (a canary step held or allowed on, a rollback by rejections) are events, decided by the
 * deployment commands with the counts read here.
 *
 * An instance runs what its newest report says, for as long as it keeps reporting: one silent
 * for `instanceTtlMs` no longer counts. A report with no acknowledgements is a heartbeat.
 */
import type pg from 'pg';
import { configIdFor } from '../configs/config.events.js';
import type { CanaryAcknowledgements } from '../deployments/deployment.decider.js';
import { AcknowledgementQueries, MS } from './acknowledgements.queries.js';

export type AckStatus = 'applied' | 'rejected';
export type AckSide = 'canary' | 'stable';

export interface Acknowledgement {
  key: string;
  version: number;
  status: AckStatus;
  reason?: string | undefined;
  /** Set when the value came with a running canary: its deployment and this instance's side. */
  deploymentId?: string | undefined;
  side?: AckSide | undefined;
}

export interface Report {
  tenantId: string;
  /** The declared spelling. */
  environment: string;
  instanceId: string;
  acknowledgements: Acknowledgement[];
}

export interface Recorded {
  recorded: number;
  /** The service had no live record of this instance: the client should report all it runs. */
  resend: boolean;
  /** Running canaries whose canary side just reported: their decisions may change. */
  canaries: { deploymentId: string; configId: string }[];
}

export class AcknowledgementLedger {
  private prunedAt = 0;
  private readonly queries: AcknowledgementQueries;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: { instanceTtlMs: number; retentionMs: number },
    private readonly onPruneError: (error: unknown) => void = () => undefined,
  ) {
    this.queries = new AcknowledgementQueries(pool, options.instanceTtlMs);
  }

  get instanceTtlMs(): number {
    return this.options.instanceTtlMs;
  }

  async record(report: Report): Promise<Recorded> {
    const { tenantId, environment, instanceId } = report;
    // One value per key and report: the last one said.
    const byKey = new Map(report.acknowledgements.map((a) => [a.key, a]));
    const acks = [...byKey.values()].map((a) => ({
      ...a,
      configId: configIdFor(tenantId, environment, a.key),
      canary: a.deploymentId && a.side ? { deploymentId: a.deploymentId, side: a.side } : null,
    }));
    // One statement, so one round trip and atomic: `before` sees the instance's row as it was.
    const { rows } = await this.pool.query<{ live: boolean | null }>(
      `WITH before AS (
         SELECT last_seen_at FROM client_instances
          WHERE tenant_id = $1 AND environment = $2 AND instance_id = $3),
       seen AS (
         INSERT INTO client_instances (tenant_id, environment, instance_id, first_seen_at,
                                       last_seen_at)
         VALUES ($1, $2, $3, now(), now())
         ON CONFLICT (tenant_id, environment, instance_id) DO UPDATE SET last_seen_at = now()),
       acks AS (
         INSERT INTO client_acknowledgements (config_id, instance_id, version, deployment_id,
                     side, tenant_id, environment, status, reason, acknowledged_at)
         SELECT c, $3, v, d, s, $1, $2, st, r, clock_timestamp()
           FROM unnest($5::text[], $6::int[], $7::text[], $8::text[], $9::text[], $10::text[])
                AS u(c, v, d, s, st, r)
         ON CONFLICT (config_id, instance_id, version, deployment_id, side) DO UPDATE
            SET status = EXCLUDED.status, reason = EXCLUDED.reason,
                acknowledged_at = EXCLUDED.acknowledged_at)
       SELECT (SELECT last_seen_at > now() - $4::bigint ${MS} FROM before) AS live`,
      [
        tenantId,
        environment,
        instanceId,
        this.options.instanceTtlMs,
        acks.map((a) => a.configId),
        acks.map((a) => a.version),
        acks.map((a) => a.canary?.deploymentId ?? ''),
        acks.map((a) => a.canary?.side ?? ''),
        acks.map((a) => a.status),
        acks.map((a) => (a.status === 'rejected' ? (a.reason ?? '') : null)),
      ],
    );
    this.pruneNowAndThen();
    const canaries = new Map<string, string>();
    for (const a of acks) {
      if (a.canary?.side === 'canary') canaries.set(a.canary.deploymentId, a.configId);
    }
    return {
      recorded: acks.length,
      resend: rows[0]?.live !== true,
      canaries: [...canaries].map(([deploymentId, configId]) => ({ deploymentId, configId })),
    };
  }

  /**
   * The live instances on a canary's canary side, each by its newest report of the canary's
   * values: what the step and rollback decisions count.
   */
  async canaryCounts(deploymentId: string, configId: string): Promise<CanaryAcknowledgements> {
    const sides = await this.queries.sideCounts([deploymentId], true, configId);
    const c = sides.get(deploymentId)?.canary ?? { applied: 0, rejected: 0, reason: undefined };
    return {
      applied: c.applied,
      rejected: c.rejected,
      ...(c.reason ? { reason: c.reason } : {}),
    };
  }

  /** At most once a minute per process: instances silent past retention, and their rows. */
  private pruneNowAndThen() {
    const now = Date.now();
    if (now - this.prunedAt < 60_000) return;
    this.prunedAt = now;
    void this.prune().catch(this.onPruneError);
  }

  async prune(): Promise<void> {
    const retention = this.options.retentionMs;
    await this.pool.query(
      `DELETE FROM client_acknowledgements a
        WHERE a.acknowledged_at < now() - $1::bigint ${MS}
          AND NOT EXISTS (SELECT 1 FROM client_instances i
                           WHERE i.tenant_id = a.tenant_id AND i.environment = a.environment
                             AND i.instance_id = a.instance_id
                             AND i.last_seen_at >= now() - $1::bigint ${MS})`,
      [retention],
    );
    await this.pool.query(
      `DELETE FROM client_instances WHERE last_seen_at < now() - $1::bigint ${MS}`,
      [retention],
    );
  }
}
