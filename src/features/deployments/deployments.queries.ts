/** Deployments, from the read tables, as deployment.view.ts shows them (sensitive values masked). */
import type pg from 'pg';
import { pageOf, resourceWhere, type ResourceFilter } from '../../core/postgres/paging.js';
import type { ResourceQueries } from '../../core/http/resource-access.js';
import { deploymentOfRow, type DeploymentView } from './deployment.view.js';
import type { AcknowledgementQueries } from '../acknowledgements/acknowledgements.queries.js';
import { zeroSideAcknowledgements } from '../acknowledgements/acknowledgements.view.js';

const DEPLOYMENTS = `(SELECT d.*, c.key, c.type AS config_type, COALESCE(c.is_sensitive OR c.ever_sensitive, FALSE) AS sensitive
                       FROM deployments d LEFT JOIN configurations c USING (config_id)) x`;

export class DeploymentQueries implements ResourceQueries<DeploymentView> {
  constructor(
    private readonly db: pg.Pool,
    private readonly acks?: AcknowledgementQueries,
  ) {}

  /** Newest first. */
  async list(filter: ResourceFilter) {
    const { where, args } = resourceWhere(filter, 'environment');
    const order = 'started_at DESC, deployment_id';
    const page = await pageOf(this.db, DEPLOYMENTS, where, args, order, filter, deploymentOfRow);
    return { ...page, items: await this.withAcknowledgements(page.items) };
  }

  async find(deploymentId: string) {
    const { rows } = await this.db.query(`SELECT * FROM ${DEPLOYMENTS} WHERE deployment_id = $1`, [
      deploymentId,
    ]);
    return rows[0] ? (await this.withAcknowledgements([deploymentOfRow(rows[0])]))[0] : undefined;
  }

  /** Running ones count the live instances (what their steps count); finished ones, all. */
  private async withAcknowledgements(views: DeploymentView[]): Promise<DeploymentView[]> {
    const running = (v: DeploymentView) => v.status === 'InProgress' || v.status === 'Paused';
    const ids = (live: boolean) =>
      views.filter((v) => running(v) === live).map((v) => v.deploymentId);
    const [live, all] = this.acks
      ? await Promise.all([
          this.acks.sideCounts(ids(true), true),
          this.acks.sideCounts(ids(false), false),
        ])
      : [new Map(), new Map()];
    return views.map((v) => {
      const sides = (running(v) ? live : all).get(v.deploymentId);
      const acknowledgements = zeroSideAcknowledgements();
      for (const side of ['canary', 'stable'] as const) {
        if (sides?.[side]) {
          acknowledgements[side] = { applied: sides[side].applied, rejected: sides[side].rejected };
        }
      }
      return { ...v, acknowledgements };
    });
  }

  /** The tenant's running (in progress or paused) deployments, newest first. */
  async running(tenantId: string, environments: string[] | null) {
    const { rows } = await this.db.query(
      `SELECT * FROM ${DEPLOYMENTS}
        WHERE tenant_id = $1 AND status IN ('InProgress', 'Paused')
          AND ($2::text[] IS NULL OR environment = ANY($2::text[]))
        ORDER BY started_at DESC, deployment_id LIMIT 100`,
      [tenantId, environments],
    );
    return rows.map(deploymentOfRow);
  }

  environmentOf(row: DeploymentView): string {
    return row.environment;
  }
}
