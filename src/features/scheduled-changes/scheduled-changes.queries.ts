/** Scheduled changes, from the read table. */
import type pg from 'pg';
import { pageOf, type Paging } from '../../core/postgres/paging.js';
import { scheduledChangeOfRow } from './scheduled-change.view.js';

// A value is masked if the schedule or its configuration is, or ever was, sensitive (as history is).
const SCHEDULED_CHANGES = `(SELECT s.*, (s.is_sensitive OR COALESCE(c.is_sensitive OR c.ever_sensitive, FALSE))
                                AS masked
                           FROM scheduled_changes s LEFT JOIN configurations c USING (config_id)) x`;

export class ScheduledChangeQueries {
  constructor(private readonly db: pg.Pool) {}

  list(
    tenantId: string,
    filter: Paging & { status?: string; configId?: string; environments?: string[] | null },
  ) {
    const where = ['tenant_id = $1'];
    const args: unknown[] = [tenantId];
    if (filter.status) where.push(`status = $${args.push(filter.status)}`);
    if (filter.configId) where.push(`config_id = $${args.push(filter.configId)}`);
    if (filter.environments) where.push(`environment = ANY($${args.push(filter.environments)})`);
    return pageOf(
      this.db,
      SCHEDULED_CHANGES,
      where,
      args,
      'apply_at, schedule_id',
      filter,
      scheduledChangeOfRow,
    );
  }

  /** A configuration's changes still to come (direct or approved change requests), by time. */
  async pendingFor(configId: string) {
    const { rows } = await this.db.query(
      `SELECT * FROM ${SCHEDULED_CHANGES} WHERE config_id = $1 AND status = 'Pending'
        ORDER BY apply_at, schedule_id`,
      [configId],
    );
    return rows.map(scheduledChangeOfRow);
  }
}
