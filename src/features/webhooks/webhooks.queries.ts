/** Webhooks and their delivery log, from the read tables. */
import type pg from 'pg';
import { pageOf, type Paging } from '../../core/postgres/paging.js';
import { deliveryOfRow, webhookOfRow } from './webhook.view.js';

export class WebhookQueries {
  constructor(private readonly db: pg.Pool) {}

  webhooks(tenantId: string, paging: Paging) {
    return pageOf(
      this.db,
      'webhooks',
      ['tenant_id = $1', 'deleted_at IS NULL'],
      [tenantId],
      'created_at, webhook_id',
      paging,
      webhookOfRow,
    );
  }

  async webhook(tenantId: string, webhookId: string) {
    const { rows } = await this.db.query(
      'SELECT * FROM webhooks WHERE tenant_id = $1 AND webhook_id = $2 AND deleted_at IS NULL',
      [tenantId, webhookId],
    );
    return rows[0] ? webhookOfRow(rows[0]) : undefined;
  }

  deliveries(tenantId: string, webhookId: string, filter: Paging & { status?: string }) {
    const where = ['tenant_id = $1', 'webhook_id = $2'];
    const args: unknown[] = [tenantId, webhookId];
    if (filter.status) where.push(`status = $${args.push(filter.status)}`);
    return pageOf(
      this.db,
      'webhook_deliveries',
      where,
      args,
      'position DESC, delivery_id',
      filter,
      deliveryOfRow,
    );
  }
}
