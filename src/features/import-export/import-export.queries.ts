/** What an export writes: an environment's live keys from the read model, secrets masked. */
import type pg from 'pg';
import { masked } from '../configs/config.view.js';
import type { ExportedConfig } from './config-formats.js';

export class ExportQueries {
  constructor(private readonly db: pg.Pool) {}

  async environment(
    tenantId: string,
    environment: string,
    tag?: string,
  ): Promise<ExportedConfig[]> {
    const args: unknown[] = [tenantId, environment];
    const byTag = tag === undefined ? '' : `AND $${args.push(tag)} = ANY(tags)`;
    const { rows } = await this.db.query(
      `SELECT key, type, value, is_sensitive, ever_sensitive, description, tags
         FROM configurations
        WHERE tenant_id = $1 AND environment = $2 AND deleted_at IS NULL ${byTag}
        ORDER BY key`,
      args,
    );
    return rows.map((r) => ({
      key: r.key,
      type: r.type,
      value: masked(r.value, r.is_sensitive),
      isSensitive: r.is_sensitive,
      description: r.description,
      tags: r.tags ?? [],
    }));
  }
}
