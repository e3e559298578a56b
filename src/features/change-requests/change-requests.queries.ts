/** Change requests, from the read tables; values of sensitive configurations are masked. */
import type pg from 'pg';
import { pageOf, resourceWhere, type ResourceFilter } from '../../core/postgres/paging.js';
import type { ResourceQueries } from '../../core/http/resource-access.js';
import { changeRequestOfRow, type ChangeRequestView } from './change-request.view.js';

// Sensitivity and key come from the configuration (a request for a new one has neither yet); an
// approved timed request's progress from its schedule.
const CHANGE_REQUESTS = `(SELECT a.*, a.config_key AS key,
                            (a.is_sensitive OR COALESCE(c.is_sensitive OR c.ever_sensitive, FALSE)) AS sensitive,
                            s.status AS schedule_status, s.failure AS schedule_failure
                       FROM approval_requests a LEFT JOIN configurations c USING (config_id)
                            LEFT JOIN scheduled_changes s ON s.schedule_id = a.schedule_id) x`;

export class ChangeRequestQueries implements ResourceQueries<ChangeRequestView> {
  constructor(private readonly db: pg.Pool) {}

  /** Newest first. */
  async list(filter: ResourceFilter) {
    const { where, args } = resourceWhere(filter, 'target_environment');
    return pageOf(
      this.db,
      CHANGE_REQUESTS,
      where,
      args,
      'created_at DESC, approval_id',
      filter,
      changeRequestOfRow,
    );
  }

  async find(approvalId: string): Promise<ChangeRequestView | undefined> {
    const { rows } = await this.db.query(
      `SELECT * FROM ${CHANGE_REQUESTS} WHERE approval_id = $1`,
      [approvalId],
    );
    return rows[0] ? changeRequestOfRow(rows[0]) : undefined;
  }

  environmentOf(row: ChangeRequestView): string {
    return row.targetEnvironment;
  }
}
