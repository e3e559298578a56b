/** A tenant's API keys, from the read table, with when each was last used. */
import type pg from 'pg';
import { pageOf, type Paging } from '../../core/postgres/paging.js';
import { apiKeyOfRow } from './api-key.view.js';

const WITH_USAGE = `(SELECT k.*, u.last_used_at FROM api_keys k
                      LEFT JOIN api_key_usage u ON u.key_id = k.key_id) keys`;

export class ApiKeyQueries {
  constructor(private readonly db: pg.Pool) {}

  apiKeys(tenantId: string, filter: Paging & { includeRevoked: boolean }) {
    const where = ['tenant_id = $1'];
    if (!filter.includeRevoked) where.push('revoked_at IS NULL');
    return pageOf(
      this.db,
      WITH_USAGE,
      where,
      [tenantId],
      'created_at, key_id',
      filter,
      apiKeyOfRow,
    );
  }

  async apiKey(tenantId: string, keyId: string) {
    const { rows } = await this.db.query(
      `SELECT * FROM ${WITH_USAGE} WHERE tenant_id = $1 AND key_id = $2`,
      [tenantId, keyId],
    );
    return rows[0] ? apiKeyOfRow(rows[0]) : undefined;
  }
}
