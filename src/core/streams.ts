/** Stream names, built in one place. Projections subscribe by these prefixes. */
export const TENANT_PREFIX = 'tenant-';
export const CONFIG_PREFIX = 'config-';

export const tenantStream = (tenantId: string) => `${TENANT_PREFIX}${tenantId}`;
export const configStream = (configId: string) => `${CONFIG_PREFIX}${configId}`;
export const APPROVAL_PREFIX = 'approval-';
export const DEPLOYMENT_PREFIX = 'deployment-';

export const approvalStream = (approvalId: string) => `${APPROVAL_PREFIX}${approvalId}`;
export const deploymentStream = (deploymentId: string) => `${DEPLOYMENT_PREFIX}${deploymentId}`;
export const SCHEMA_PREFIX = 'schema-';

/** ':' cannot occur in a tenant id or a schema id, so no two pairs share a stream. */
export const schemaStream = (tenantId: string, schemaId: string) =>
  `${SCHEMA_PREFIX}${tenantId}:${schemaId}`;
export const WEBHOOK_PREFIX = 'webhook-';

/** ':' cannot occur in a tenant id, so no two pairs share a stream. */
export const webhookStream = (tenantId: string, webhookId: string) =>
  `${WEBHOOK_PREFIX}${tenantId}:${webhookId}`;
export const CHANGE_SET_PREFIX = 'changeset-';

/** ':' cannot occur in a tenant id, so no two pairs share a stream. */
export const changeSetStream = (tenantId: string, changeSetId: string) =>
  `${CHANGE_SET_PREFIX}${tenantId}:${changeSetId}`;
export const SCHEDULE_PREFIX = 'schedule-';

/** ':' cannot occur in a tenant id, so no two pairs share a stream. */
export const scheduleStream = (tenantId: string, scheduleId: string) =>
  `${SCHEDULE_PREFIX}${tenantId}:${scheduleId}`;
export const API_KEY_PREFIX = 'apikey-';

/** Key ids are random and global: the credential names its stream without its tenant. */
export const apiKeyStream = (keyId: string) => `${API_KEY_PREFIX}${keyId}`;
