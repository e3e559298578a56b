/** Blame from its read tables (the `blame` projection): one version's lineage. */
import type pg from 'pg';
import { iso } from '../../core/postgres/paging.js';
import { masked } from '../configs/config.view.js';
import type { AcknowledgementQueries } from '../acknowledgements/acknowledgements.queries.js';
import {
  changeRequestView,
  type ApprovalRow,
  type DecisionRow,
  type DeploymentBlame,
  type VersionBlame,
} from './blame.view.js';

interface VersionRow {
  config_id: string;
  version: number;
  tenant_id: string;
  environment: string;
  key: string;
  change_type: string | null;
  value: string | null;
  rolled_back_to: number | null;
  changed_by: string | null;
  ip_address: string | null;
  trace_id: string | null;
  changed_at: Date | null;
  position: bigint | string | null;
  deployment_id: string | null;
}

interface DeploymentRow {
  deployment_id: string;
  approval_id: string | null;
  base_version: number;
  strategy: string;
  plan: DeploymentBlame['plan'];
  started_by: string;
  started_at: Date;
  status: string;
  ended_at: Date | null;
  rollback_reason: string | null;
  automatic: boolean | null;
}

export interface ConfigIdentity {
  configId: string;
  tenantId: string;
  environment: string;
  key: string;
  /** The newest version (what is served now, canaries aside). */
  currentVersion: number;
  sensitive: boolean;
}

export class BlameQueries {
  constructor(
    private readonly pool: pg.Pool,
    private readonly acks: AcknowledgementQueries,
  ) {}

  /** Undefined when the configuration has no recorded version. */
  async identity(configId: string): Promise<ConfigIdentity | undefined> {
    const { rows } = await this.pool.query<{
      tenant_id: string;
      environment: string;
      key: string;
      version: number;
      sensitive: boolean;
    }>(
      `SELECT tenant_id, environment, key, max(version) FILTER (WHERE change_type IS NOT NULL)
              AS version,
              bool_or(is_sensitive) OR EXISTS (SELECT 1 FROM blame_approvals a
                                                WHERE a.config_id = $1 AND a.is_sensitive)
              AS sensitive
         FROM blame_versions WHERE config_id = $1
        GROUP BY tenant_id, environment, key`,
      [configId],
    );
    const r = rows[0];
    if (!r || r.version === null) return undefined;
    return {
      configId,
      tenantId: r.tenant_id,
      environment: r.environment,
      key: r.key,
      currentVersion: r.version,
      sensitive: r.sensitive,
    };
  }

  /** One version's lineage; undefined when there is no such version. */
  async version(c: ConfigIdentity, version: number): Promise<VersionBlame | undefined> {
    const { rows } = await this.pool.query<VersionRow>(
      `SELECT * FROM blame_versions
        WHERE config_id = $1 AND version = $2 AND change_type IS NOT NULL`,
      [c.configId, version],
    );
    const v = rows[0];
    if (!v) return undefined;
    const { rows: deployments } = await this.pool.query<DeploymentRow>(
      `SELECT * FROM blame_deployments
        WHERE deployment_id = $1
           OR (config_id = $2 AND base_version = $3 AND status <> 'Completed')
        ORDER BY started_at, deployment_id`,
      [v.deployment_id, c.configId, version],
    );
    const [views, acknowledgements] = await Promise.all([
      this.deployments(deployments, c.sensitive),
      this.acks.forVersion(c.configId, v.version, v.deployment_id),
    ]);
    return {
      version: v.version,
      changeType: v.change_type,
      value: masked(v.value, c.sensitive),
      rolledBackTo: v.rolled_back_to,
      change: {
        by: v.changed_by,
        at: iso(v.changed_at),
        ipAddress: v.ip_address,
        traceId: v.trace_id,
        position: v.position === null ? null : String(v.position),
      },
      deployment: views.find((d) => d.deploymentId === v.deployment_id) ?? null,
      laterAttempts: views.filter((d) => d.deploymentId !== v.deployment_id),
      acknowledgements,
    };
  }

  private async deployments(rows: DeploymentRow[], sensitive: boolean): Promise<DeploymentBlame[]> {
    if (!rows.length) return [];
    const ids = rows.map((r) => r.deployment_id);
    const approvalIds = rows.map((r) => r.approval_id).filter((a): a is string => a !== null);
    const [steps, metrics, approvals, decisions] = await Promise.all([
      this.pool.query<{
        deployment_id: string;
        event_type: string;
        step_index: number | null;
        percentage: number | null;
        by_user: string | null;
        at: Date;
        details: Record<string, unknown> | null;
      }>(`SELECT * FROM blame_deployment_steps WHERE deployment_id = ANY($1) ORDER BY position`, [
        ids,
      ]),
      this.pool.query<{
        deployment_id: string;
        step_index: number;
        side: string;
        requests: string;
        errors: string;
      }>(
        `SELECT * FROM blame_step_metrics WHERE deployment_id = ANY($1)
          ORDER BY step_index, side`,
        [ids],
      ),
      this.pool.query<ApprovalRow>(`SELECT * FROM blame_approvals WHERE approval_id = ANY($1)`, [
        approvalIds,
      ]),
      this.pool.query<DecisionRow>(
        `SELECT * FROM blame_approval_decisions WHERE approval_id = ANY($1) ORDER BY position`,
        [approvalIds],
      ),
    ]);
    return rows.map((d) => {
      const approval = approvals.rows.find((a) => a.approval_id === d.approval_id);
      return {
        deploymentId: d.deployment_id,
        strategy: d.strategy,
        status: d.status,
        baseVersion: d.base_version,
        plan: d.plan,
        startedBy: d.started_by,
        startedAt: iso(d.started_at)!,
        endedAt: iso(d.ended_at),
        rollbackReason: d.rollback_reason,
        automaticRollback: d.automatic,
        steps: steps.rows
          .filter((s) => s.deployment_id === d.deployment_id)
          .map((s) => ({
            event: s.event_type,
            stepIndex: s.step_index,
            percentage: s.percentage,
            by: s.by_user,
            at: iso(s.at)!,
            details: s.details ?? {},
          })),
        metrics: metrics.rows
          .filter((m) => m.deployment_id === d.deployment_id)
          .map((m) => {
            const requests = Number(m.requests);
            const errors = Number(m.errors);
            return {
              stepIndex: m.step_index,
              side: m.side,
              requests,
              errors,
              errorRate: requests > 0 ? errors / requests : null,
            };
          }),
        changeRequest: approval
          ? changeRequestView(
              approval,
              decisions.rows.filter((x) => x.approval_id === approval.approval_id),
              sensitive,
            )
          : null,
      };
    });
  }
}
