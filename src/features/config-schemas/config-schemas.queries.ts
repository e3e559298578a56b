/** A tenant's config schemas, from the read table, with how many live configurations name each. */
import type pg from 'pg';
import { pageOf } from '../../core/postgres/paging.js';
import type { SchemaUse } from './schema-registry.js';
import { configSchemaOfRow } from './config-schema.view.js';

const WITH_USE = `SELECT s.*, (SELECT count(*)::int FROM configurations c
                                WHERE c.tenant_id = s.tenant_id AND c.schema_id = s.schema_id
                                  AND c.deleted_at IS NULL) AS used_by
                    FROM config_schemas s WHERE s.tenant_id = $1`;

export class SchemaQueries {
  constructor(private readonly db: pg.Pool) {}

  async schemas(tenantId: string, page: number, pageSize: number) {
    return pageOf(
      this.db,
      `(${WITH_USE}) x`,
      [],
      [tenantId],
      'schema_id',
      { page, pageSize },
      configSchemaOfRow,
    );
  }

  async schema(tenantId: string, id: string) {
    const { rows } = await this.db.query(`${WITH_USE} AND s.schema_id = $2`, [tenantId, id]);
    return rows[0] ? configSchemaOfRow(rows[0]) : undefined;
  }

  /**
   * The values in use under a schema: live configurations' values and defaults, and the values
   * running or paused deployments of them are rolling out (a new version must fit them all).
   */
  async usesOf(tenantId: string, schemaId: string): Promise<SchemaUse[]> {
    const { rows } = await this.db.query<SchemaUse>(
      `SELECT config_id AS "configId", key, environment, type, value,
              default_value AS "defaultValue", NULL AS "deploymentId"
         FROM configurations
        WHERE tenant_id = $1 AND schema_id = $2 AND deleted_at IS NULL
       UNION ALL
       SELECT d.config_id, c.key, c.environment, c.type, d.value, NULL, d.deployment_id
         FROM deployments d JOIN configurations c USING (config_id)
        WHERE c.tenant_id = $1 AND c.schema_id = $2 AND c.deleted_at IS NULL
          AND d.status IN ('InProgress', 'Paused')`,
      [tenantId, schemaId],
    );
    return rows;
  }
}
