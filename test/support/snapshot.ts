import type pg from 'pg';

/** Every read table, by its key: what a rebuild or a restore must reproduce row for row. */
export const READ_TABLES: Record<string, string> = {
  tenants: 'tenant_id',
  configurations: 'config_id',
  config_versions: 'version_id',
  audit_logs: 'log_id',
  approval_requests: 'approval_id',
  deployments: 'deployment_id',
  approval_policies: 'tenant_id, environment',
  config_schemas: 'tenant_id, schema_id',
  audit_sensitive_configs: 'config_id',
  audit_approvals: 'approval_id',
};

/** All rows of the read tables, in key order. */
export async function snapshotReadTables(
  db: pg.Pool | pg.Client,
  tables: Record<string, string> = READ_TABLES,
): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const [table, key] of Object.entries(tables)) {
    out[table] = (await db.query(`SELECT * FROM ${table} ORDER BY ${key}`)).rows;
  }
  return out;
}
