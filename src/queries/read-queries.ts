/**
 * Queries over the read tables (never the event store). Rows come back in the API's camelCase
 * shape; values of sensitive configurations are masked in every list.
 */
import type pg from 'pg';
import { MASK } from '../domain/values.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export interface TenantView {
  tenantId: string;
  name: string;
  tier: string;
  status: string;
  maxConfigurations: number;
  maxEnvironments: number;
  contactEmail: string | null;
  metadata: unknown;
  createdAt: string | null;
  updatedAt: string | null;
  deletedAt: string | null;
}

export interface ConfigView {
  configId: string;
  tenantId: string;
  key: string;
  value: string;
  type: string;
  environment: string;
  version: number;
  description: string | null;
  tags: string[];
  isEncrypted: boolean;
  isSensitive: boolean;
  defaultValue: string | null;
  schemaId: string | null;
  createdBy: string | null;
  updatedBy: string | null;
  createdAt: string | null;
  updatedAt: string | null;
  deletedAt: string | null;
}

export interface Page<T> {
  items: T[];
  page: number;
  pageSize: number;
  total: number;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
const tenantView = (r: any): TenantView => ({
  tenantId: r.tenant_id,
  name: r.name,
  tier: r.tier,
  status: r.status,
  maxConfigurations: r.max_configurations,
  maxEnvironments: r.max_environments,
  contactEmail: r.contact_email,
  metadata: r.metadata,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
  deletedAt: iso(r.deleted_at),
});

export const configView = (r: any, mask = false): ConfigView => ({
  configId: r.config_id,
  tenantId: r.tenant_id,
  key: r.key,
  value: mask && r.is_sensitive ? MASK : r.value,
  type: r.type,
  environment: r.environment,
  version: r.version,
  description: r.description,
  tags: r.tags ?? [],
  isEncrypted: r.is_encrypted,
  isSensitive: r.is_sensitive,
  defaultValue: mask && r.is_sensitive && r.default_value !== null ? MASK : r.default_value,
  schemaId: r.schema_id,
  createdBy: r.created_by,
  updatedBy: r.updated_by,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
  deletedAt: iso(r.deleted_at),
});

const versionView = (r: any, mask: boolean) => ({
  versionId: r.version_id,
  configId: r.config_id,
  version: r.version,
  value: mask ? MASK : r.value,
  previousValue: mask && r.previous_value !== null ? MASK : r.previous_value,
  changeType: r.change_type,
  changeDescription: r.change_description,
  changedBy: r.changed_by,
  environment: r.environment,
  ipAddress: r.ip_address,
  traceId: r.trace_id,
  createdAt: iso(r.created_at),
});

const auditView = (r: any) => ({
  logId: r.log_id,
  eventType: r.event_type,
  tenantId: r.tenant_id,
  configId: r.config_id,
  configKey: r.config_key,
  oldValue: r.old_value,
  newValue: r.new_value,
  userId: r.user_id,
  ipAddress: r.ip_address,
  traceId: r.trace_id,
  environment: r.environment,
  details: r.details,
  timestamp: iso(r.timestamp),
});
const approvalView = (r: any) => {
  const mask = (v: string | null) => (r.sensitive && v !== null ? MASK : v);
  return {
    approvalId: r.approval_id,
    configId: r.config_id,
    tenantId: r.tenant_id,
    targetEnvironment: r.target_environment,
    key: r.key ?? null,
    action: r.action,
    // A Delete proposes no value (the column holds an empty string).
    proposedValue: r.action === 'Delete' ? null : mask(r.proposed_value),
    currentValue: mask(r.current_value),
    changeDescription: r.change_description,
    requestedBy: r.requested_by,
    status: r.status,
    requiredApprovalLevel: r.required_approval_level,
    currentApprovalLevel: r.current_approval_level,
    approvers: r.approvers ?? [],
    createdAt: iso(r.created_at),
    expiresAt: iso(r.expires_at),
    resolvedAt: iso(r.resolved_at),
    resolvedBy: r.resolved_by,
    resolvedComments: r.resolved_comments,
    deploymentId: r.deployment_id,
  };
};

const deploymentView = (r: any) => {
  const mask = (v: string | null) => (r.is_sensitive && v !== null ? MASK : v);
  return {
    deploymentId: r.deployment_id,
    configId: r.config_id,
    tenantId: r.tenant_id,
    environment: r.environment,
    key: r.key ?? null,
    strategy: r.strategy,
    status: r.status,
    value: mask(r.value),
    previousValue: mask(r.previous_value),
    progress: r.progress,
    canaryPercentage: r.canary_percentage,
    deployedBy: r.deployed_by,
    startedAt: iso(r.started_at),
    completedAt: iso(r.completed_at),
    errorMessage: r.error_message,
    metrics: r.metrics,
    wasRolledBack: r.was_rolled_back,
    rollbackReason: r.rollback_reason,
    rolledBackAt: iso(r.rolled_back_at),
  };
};
const schemaView = (r: any) => ({
  tenantId: r.tenant_id,
  schemaId: r.schema_id,
  version: r.version,
  schema: r.schema,
  description: r.description,
  usedBy: r.used_by,
  updatedBy: r.updated_by,
  updatedAt: iso(r.updated_at),
});

/* eslint-enable @typescript-eslint/no-explicit-any */

export type ApprovalView = ReturnType<typeof approvalView>;
export type DeploymentView = ReturnType<typeof deploymentView>;

// Sensitivity and key come from the configuration (a request for a new one has neither yet).
const APPROVALS = `(SELECT a.*, a.config_key AS key,
                            (a.is_sensitive OR COALESCE(c.is_sensitive OR c.ever_sensitive, FALSE)) AS sensitive
                       FROM approval_requests a LEFT JOIN configurations c USING (config_id)) x`;
const DEPLOYMENTS = `(SELECT d.*, c.key, COALESCE(c.is_sensitive OR c.ever_sensitive, FALSE) AS is_sensitive
                       FROM deployments d LEFT JOIN configurations c USING (config_id)) x`;

export interface WorkflowFilter {
  tenantId?: string;
  status?: string;
  environment?: string;
  /** A token limited to some environments sees only those. */
  environments?: string[] | null;
  configId?: string;
  page: number;
  pageSize: number;
}

/** The filters change requests and deployments share (their environment columns differ). */
function workflowWhere(filter: WorkflowFilter, environmentColumn: string) {
  const where: string[] = [];
  const args: unknown[] = [];
  if (filter.tenantId) where.push(`tenant_id = $${args.push(filter.tenantId)}`);
  if (filter.status) where.push(`status = $${args.push(filter.status)}`);
  if (filter.environment) where.push(`${environmentColumn} = $${args.push(filter.environment)}`);
  if (filter.environments) {
    where.push(`${environmentColumn} = ANY($${args.push(filter.environments)})`);
  }
  if (filter.configId) where.push(`config_id = $${args.push(filter.configId)}`);
  return { where, args };
}

export class ReadQueries {
  constructor(private readonly db: pg.Pool) {}

  async tenant(tenantId: string): Promise<TenantView | undefined> {
    const { rows } = await this.db.query('SELECT * FROM tenants WHERE tenant_id = $1', [tenantId]);
    return rows[0] ? tenantView(rows[0]) : undefined;
  }

  /** The effective approval policy: the defaults, overridden by the tenant's own settings. */
  async approvalPolicy(tenantId: string, defaults: Record<string, number>) {
    const { rows } = await this.db.query<{ environment: string; required_approvals: number }>(
      'SELECT environment, required_approvals FROM approval_policies WHERE tenant_id = $1 ORDER BY environment',
      [tenantId],
    );
    const policy: Record<string, number> = { ...defaults };
    for (const r of rows) policy[r.environment] = r.required_approvals;
    return policy;
  }

  /** A tenant's config schemas, with how many live configurations name each. */
  async schemas(tenantId: string, page: number, pageSize: number) {
    return this.page(
      `(SELECT s.*, (SELECT count(*)::int FROM configurations c
                      WHERE c.tenant_id = s.tenant_id AND c.schema_id = s.schema_id
                        AND c.deleted_at IS NULL) AS used_by
          FROM config_schemas s WHERE s.tenant_id = $1) x`,
      [],
      [tenantId],
      'schema_id',
      { page, pageSize },
      schemaView,
    );
  }

  async schema(tenantId: string, id: string) {
    const { rows } = await this.db.query(
      `SELECT s.*, (SELECT count(*)::int FROM configurations c
                     WHERE c.tenant_id = s.tenant_id AND c.schema_id = s.schema_id
                       AND c.deleted_at IS NULL) AS used_by
         FROM config_schemas s WHERE s.tenant_id = $1 AND s.schema_id = $2`,
      [tenantId, id],
    );
    return rows[0] ? schemaView(rows[0]) : undefined;
  }

  async configRow(configId: string): Promise<ConfigView | undefined> {
    const { rows } = await this.db.query('SELECT * FROM configurations WHERE config_id = $1', [
      configId,
    ]);
    return rows[0] ? configView(rows[0]) : undefined;
  }

  async listConfigs(filter: {
    tenantId: string;
    environment?: string;
    key?: string;
    includeDeleted?: boolean;
    /** Only these environments (a token limited to them). */
    environments?: string[];
    page: number;
    pageSize: number;
  }): Promise<Page<ConfigView>> {
    const where = ['tenant_id = $1'];
    const args: unknown[] = [filter.tenantId];
    if (filter.environment) where.push(`environment = $${args.push(filter.environment)}`);
    if (filter.environments) where.push(`environment = ANY($${args.push(filter.environments)})`);
    if (filter.key)
      where.push(`key LIKE $${args.push(`${filter.key.replace(/[%_\\]/g, '\\$&')}%`)}`);
    if (!filter.includeDeleted) where.push('deleted_at IS NULL');
    return this.page('configurations', where, args, 'environment, key', filter, (r) =>
      configView(r, true),
    );
  }

  /** A config's versions, masked if it is or ever was sensitive (old values stay secrets). */
  async versions(configId: string, page: number, pageSize: number) {
    const { rows } = await this.db.query<{ sensitive: boolean }>(
      'SELECT is_sensitive OR ever_sensitive AS sensitive FROM configurations WHERE config_id = $1',
      [configId],
    );
    const sensitive = rows[0]?.sensitive ?? true;
    return this.page(
      'config_versions',
      ['config_id = $1'],
      [configId],
      'version DESC',
      { page, pageSize },
      (r) => versionView(r, sensitive),
    );
  }

  /** One version; masked, like the list, if the config is or ever was sensitive. */
  async version(configId: string, version: number) {
    const { rows } = await this.db.query(
      `SELECT v.*, COALESCE(c.is_sensitive OR c.ever_sensitive, TRUE) AS sensitive
         FROM config_versions v LEFT JOIN configurations c USING (config_id)
        WHERE v.config_id = $1 AND v.version = $2`,
      [configId, version],
    );
    return rows[0] ? versionView(rows[0], rows[0].sensitive) : undefined;
  }

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
    return this.page('audit_logs', where, args, 'timestamp DESC, log_id', filter, auditView);
  }

  async approvals(filter: WorkflowFilter) {
    const { where, args } = workflowWhere(filter, 'target_environment');
    return this.page(APPROVALS, where, args, 'created_at DESC, approval_id', filter, approvalView);
  }

  async approval(approvalId: string): Promise<ApprovalView | undefined> {
    const { rows } = await this.db.query(`SELECT * FROM ${APPROVALS} WHERE approval_id = $1`, [
      approvalId,
    ]);
    return rows[0] ? approvalView(rows[0]) : undefined;
  }

  async deployments(filter: WorkflowFilter) {
    const { where, args } = workflowWhere(filter, 'environment');
    const order = 'started_at DESC, deployment_id';
    return this.page(DEPLOYMENTS, where, args, order, filter, deploymentView);
  }

  async deployment(deploymentId: string): Promise<DeploymentView | undefined> {
    const { rows } = await this.db.query(`SELECT * FROM ${DEPLOYMENTS} WHERE deployment_id = $1`, [
      deploymentId,
    ]);
    return rows[0] ? deploymentView(rows[0]) : undefined;
  }

  private async page<T>(
    table: string,
    where: string[],
    args: unknown[],
    orderBy: string,
    { page, pageSize }: { page: number; pageSize: number },
    view: (row: unknown) => T,
  ): Promise<Page<T>> {
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const [items, count] = await Promise.all([
      this.db.query(
        `SELECT * FROM ${table} ${clause} ORDER BY ${orderBy} LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`,
        args,
      ),
      this.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} ${clause}`, args),
    ]);
    return { items: items.rows.map(view), page, pageSize, total: Number(count.rows[0]!.n) };
  }
}
