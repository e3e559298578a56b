/** The audit log, from its read table. */
import type pg from 'pg';
import { pageOf } from '../../core/postgres/paging.js';
import { auditLogEntryOfRow } from './audit.view.js';

export class AuditQueries {
  constructor(private readonly db: pg.Pool) {}

  async auditLogs(filter: {
    tenantId?: string;
    configId?: string;
    eventType?: string;
    from?: Date;
    to?: Date;
    page: number;
    pageSize: number;
    environments?: string[] | null;
  }) {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.tenantId) where.push(`tenant_id = $${args.push(filter.tenantId)}`);
    if (filter.configId) where.push(`config_id = $${args.push(filter.configId)}`);
    if (filter.eventType) where.push(`event_type = $${args.push(filter.eventType)}`);
    if (filter.from) where.push(`timestamp >= $${args.push(filter.from.toISOString())}`);
    if (filter.to) where.push(`timestamp < $${args.push(filter.to.toISOString())}`);
    if (filter.environments) {
      // Tenant-wide events (no environment) stay visible; other environments' do not.
      where.push(`(environment IS NULL OR environment = ANY($${args.push(filter.environments)}))`);
    }
    return pageOf(
      this.db,
      'audit_logs',
      where,
      args,
      'timestamp DESC, log_id',
      filter,
      auditLogEntryOfRow,
    );
  }
}
