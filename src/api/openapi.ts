/**
 * The API's OpenAPI 3.1 document, built from the zod schemas that validate the requests
 * (api/schemas.ts), and served as JSON (`/swagger/v1/swagger.json`, `/openapi.json`) and as
 * Swagger UI (`/swagger`, assets from the installed swagger-ui-dist package, no CDN).
 *
 * ROUTES is the catalogue: one entry per operation the service answers. Request bodies and
 * queries are the validators themselves (converted with `z.toJSONSchema(…, { io: 'input' })`);
 * responses are described loosely (their main fields). test/api/openapi.e2e.spec.ts fails when
 * the app serves a route that is not here, or this lists one the app does not serve.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { DomainErrorCode } from '../domain/errors.js';
import { CONFIG_TYPES } from '../domain/values.js';
import { TENANT_TIERS } from '../domain/tenant.js';
import { CHANGE_ACTIONS } from '../domain/approval.js';
import { ROLES, can, type Capability, type Role } from './auth.js';
import { HOT_ENV_ROUTE, HOT_KEY_ROUTE } from './hot-read.js';
import { MAX_WAIT_SECONDS } from './watch.js';
import { PROJECTIONS } from './routes/admin.js';
import * as schemas from './schemas.js';

type Json = Record<string, unknown>;
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Tag =
  | 'Tenants'
  | 'Configurations'
  | 'App reads'
  | 'Change requests'
  | 'Deployments'
  | 'Audit'
  | 'Replay'
  | 'Operations';
type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 428 | 429 | 503;
type RequestHeader = 'If-Match' | 'If-None-Match' | 'X-Client-Id';
type ResponseHeader = 'ETag' | 'Location' | 'X-Event-Position';

/** One operation of the API. */
export interface ApiOperation {
  method: Method;
  /** Express-style path (`/api/v1/configs/:configId`), as the app registers it. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: Tag;
  /** The zod schema that validates the JSON body (an export of api/schemas.ts). */
  body?: z.ZodType;
  /** The zod schema that validates the query string (an export of api/schemas.ts). */
  query?: z.ZodObject;
  /**
   * What the caller needs on the resource's tenant (and environment): the roles are derived from
   * auth.ts's grants (`rolesFor`). 'public' needs no token.
   */
  access: Capability | 'public';
  /** Request headers beyond X-Correlation-Id (accepted everywhere). */
  headers?: RequestHeader[];
  /** Waits (bounded) for `?minPosition=` / `X-Min-Position` before reading: may answer 503. */
  readYourWrites?: boolean;
  /** Follows changes: `?wait=` long polls and `Accept: text/event-stream` (src/api/watch.ts). */
  live?: boolean;
  success: {
    status: number;
    description: string;
    /** A name in RESPONSE_SCHEMAS. */
    schema: ResponseName;
    contentType?: string;
    headers?: ResponseHeader[];
  };
  /** Other answers that are not problems (304, a 503 health report). */
  otherResponses?: Record<number, { description: string; schema?: ResponseName }>;
  /**
   * Problems the route itself can answer. 401 (token), 400 and 413 (body), and 503 (read your
   * writes) are added from `access`, `body`, `query` and `readYourWrites`.
   */
  errors: ErrorStatus[];
}

// ---------------------------------------------------------------------------------------------
// Responses: documentation only, described loosely (the main fields; more may be present).
// ---------------------------------------------------------------------------------------------

const timestamp = z.string().meta({ format: 'date-time' });
const nullableTimestamp = timestamp.nullable();
const position = z
  .string()
  .nullable()
  .describe(
    'Event position of the change (also in X-Event-Position); null when nothing changed. ' +
      'Pass it as minPosition to read your own write.',
  );
const page = <T extends z.ZodType>(item: T, what: string) =>
  z
    .looseObject({
      items: z.array(item),
      page: z.number().int(),
      pageSize: z.number().int(),
      total: z.number().int(),
    })
    .describe(`A page of ${what}`);

const DOMAIN_ERROR_CODES = [
  'validation',
  'not_found',
  'already_exists',
  'version_conflict',
  'precondition_required',
  'quota_exceeded',
  'invalid_state',
  'approval_required',
  'stale',
  'forbidden',
] as const satisfies readonly DomainErrorCode[];
// Fails to compile when a DomainErrorCode is missing from the list above.
const _allCodes: Record<Exclude<DomainErrorCode, (typeof DOMAIN_ERROR_CODES)[number]>, never> = {};

const problem = z
  .looseObject({
    type: z.string().describe('always about:blank'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional().describe('the request path'),
    field: z.string().optional().describe('the field, header or parameter the problem is about'),
    errors: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .describe('each offending field (validation problems)'),
    code: z.enum(DOMAIN_ERROR_CODES).optional().describe('why the domain refused the command'),
    currentVersion: z.number().int().optional().describe('409 version conflict and 428'),
    retryAfter: z.number().optional().describe('503: seconds (also in Retry-After)'),
  })
  .describe('RFC 9457 problem details (application/problem+json)');

const tenant = z.looseObject({
  tenantId: z.string(),
  name: z.string(),
  tier: z.enum(TENANT_TIERS),
  status: z.string().describe('Active, Suspended or Deleted'),
  maxConfigurations: z.number().int(),
  maxEnvironments: z.number().int(),
  contactEmail: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  createdAt: nullableTimestamp,
  updatedAt: nullableTimestamp,
  deletedAt: nullableTimestamp,
});

const tenantResult = z
  .looseObject({
    tenantId: z.string(),
    name: z.string(),
    tier: z.enum(TENANT_TIERS),
    status: z.string(),
    maxConfigurations: z.number().int(),
    maxEnvironments: z.number().int(),
    contactEmail: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    configurationCount: z.number().int(),
    approvalPolicy: z
      .record(z.string(), z.number().int())
      .describe('approvals required per environment'),
    position,
  })
  .partial()
  .required({ position: true })
  .describe('The tenant after the command, and the event position');

const configuration = z
  .looseObject({
    configId: z.string(),
    tenantId: z.string(),
    key: z.string(),
    value: z.string().describe('the value as text; sensitive values are masked'),
    type: z.enum(CONFIG_TYPES),
    environment: z.string(),
    version: z.number().int(),
    description: z.string().nullable(),
    tags: z.array(z.string()),
    isEncrypted: z.boolean(),
    isSensitive: z.boolean(),
    defaultValue: z.string().nullable(),
    schemaId: z.string().nullable(),
    createdBy: z.string().nullable(),
    updatedBy: z.string().nullable(),
    createdAt: nullableTimestamp,
    updatedAt: nullableTimestamp,
    deletedAt: nullableTimestamp,
  })
  .describe('A configuration as the read side holds it');

const configurationResult = z
  .looseObject({
    configId: z.string(),
    tenantId: z.string(),
    key: z.string(),
    environment: z.string(),
    type: z.enum(CONFIG_TYPES),
    value: z.string(),
    version: z.number().int(),
    deleted: z.boolean(),
    description: z.string().nullable(),
    tags: z.array(z.string()),
    isSensitive: z.boolean(),
    activeDeploymentId: z.string().nullable(),
    position,
  })
  .partial()
  .required({ position: true })
  .describe('The configuration after the command (ETag: its version), and the event position');

const configurationVersion = z.looseObject({
  versionId: z.string(),
  configId: z.string(),
  version: z.number().int(),
  value: z.string(),
  previousValue: z.string().nullable(),
  changeType: z.string(),
  changeDescription: z.string().nullable(),
  changedBy: z.string().nullable(),
  environment: z.string(),
  ipAddress: z.string().nullable(),
  traceId: z.string().nullable(),
  createdAt: nullableTimestamp,
});

const auditLogEntry = z.looseObject({
  logId: z.string(),
  eventType: z.string(),
  tenantId: z.string().nullable(),
  configId: z.string().nullable(),
  configKey: z.string().nullable(),
  oldValue: z.string().nullable(),
  newValue: z.string().nullable(),
  userId: z.string().nullable(),
  ipAddress: z.string().nullable(),
  traceId: z.string().nullable(),
  environment: z.string().nullable(),
  details: z.unknown(),
  timestamp: nullableTimestamp,
});

const changeRequest = z.looseObject({
  approvalId: z.string(),
  configId: z.string().nullable(),
  tenantId: z.string(),
  targetEnvironment: z.string(),
  key: z.string().nullable(),
  action: z.enum(CHANGE_ACTIONS),
  proposedValue: z.string().nullable().describe('null for a Delete'),
  currentValue: z.string().nullable(),
  changeDescription: z.string().nullable(),
  requestedBy: z.string(),
  status: z.enum(['Pending', 'Approved', 'Rejected', 'Cancelled', 'Expired']),
  requiredApprovalLevel: z.number().int(),
  currentApprovalLevel: z.number().int(),
  approvers: z.array(z.unknown()),
  createdAt: nullableTimestamp,
  expiresAt: nullableTimestamp,
  resolvedAt: nullableTimestamp,
  resolvedBy: z.string().nullable(),
  resolvedComments: z.string().nullable(),
  deploymentId: z.string().nullable(),
});

const changeRequestResult = z
  .looseObject({
    approvalId: z.string(),
    configId: z.string().nullable(),
    tenantId: z.string(),
    key: z.string(),
    environment: z.string(),
    action: z.enum(CHANGE_ACTIONS),
    proposedValue: z.string().nullable().describe('null for a Delete'),
    status: z.enum(['Pending', 'Approved', 'Rejected', 'Cancelled', 'Expired']),
    approvers: z.array(
      z.looseObject({ userId: z.string(), comments: z.string().nullable(), at: z.string() }),
    ),
    position,
  })
  .partial()
  .required({ position: true })
  .describe('The change request after the command, and the event position');

const deployment = z.looseObject({
  deploymentId: z.string(),
  configId: z.string(),
  tenantId: z.string(),
  environment: z.string(),
  key: z.string().nullable(),
  strategy: z.enum(['Direct', 'Canary']),
  status: z.enum(['InProgress', 'Paused', 'Completed', 'RolledBack']),
  value: z.string().nullable(),
  previousValue: z.string().nullable(),
  progress: z.number().nullable(),
  canaryPercentage: z.number().nullable(),
  deployedBy: z.string().nullable(),
  startedAt: nullableTimestamp,
  completedAt: nullableTimestamp,
  errorMessage: z.string().nullable(),
  metrics: z.unknown(),
  wasRolledBack: z.boolean().nullable(),
  rollbackReason: z.string().nullable(),
  rolledBackAt: nullableTimestamp,
});

const deploymentResult = z
  .looseObject({
    deploymentId: z.string(),
    configId: z.string(),
    tenantId: z.string(),
    environment: z.string(),
    status: z.enum(['InProgress', 'Paused', 'Completed', 'RolledBack']),
    strategy: z.enum(['Direct', 'Canary']),
    steps: z.array(z.number()),
    stepIndex: z.number().int(),
    canaryPercentage: z.number().nullable(),
    value: z.string(),
    previousValue: z.string().nullable(),
    deployedVersion: z.number().int().nullable(),
    position,
  })
  .partial()
  .required({ position: true })
  .describe('The deployment after the command, and the event position');

const metricsResult = z
  .looseObject({
    deploymentId: z.string(),
    status: z.enum(['InProgress', 'Paused', 'Completed', 'RolledBack']),
    rolledBack: z.boolean().describe('true when these numbers rolled the canary back'),
    position,
  })
  .partial()
  .required({ rolledBack: true, position: true })
  .describe('The deployment after the report');

const canarySide = z.looseObject({
  deploymentId: z.string(),
  side: z.enum(['canary', 'stable']),
});

const environmentConfigs = z
  .looseObject({
    tenantId: z.string(),
    environment: z.string(),
    version: z.number().int().describe('changes whenever any key of the environment changes'),
    configs: z
      .record(z.string(), z.unknown())
      .describe('every key of the environment with its typed value'),
    deployments: z
      .record(z.string(), canarySide)
      .optional()
      .describe('keys with a canary running, and the side this client is on'),
  })
  .describe('The whole environment (ETag; If-None-Match answers 304)');

const configValue = z
  .looseObject({
    tenantId: z.string(),
    environment: z.string(),
    key: z.string(),
    value: z.unknown().describe('the typed value (string, number, boolean or JSON)'),
    type: z.enum(CONFIG_TYPES),
    version: z.number().int(),
    configId: z.string(),
    updatedAt: z.string().nullable(),
    deployment: canarySide.optional().describe('present while a canary runs on the key'),
  })
  .describe('One key (ETag; If-None-Match answers 304)');

const approvalPolicies = z.looseObject({
  tenantId: z.string(),
  defaults: z.record(z.string(), z.number().int()).describe('the service-wide defaults'),
  requiredApprovals: z
    .record(z.string(), z.number().int())
    .describe('approvals required per environment (0: changes apply directly)'),
});

const approvalPolicyResult = z.looseObject({
  tenantId: z.string(),
  environment: z.string(),
  requiredApprovals: z.number().int(),
  position,
});

const check = z.looseObject({
  status: z.enum(['Healthy', 'Unhealthy']),
  durationMs: z.number().optional(),
  error: z.string().optional(),
});

const configSchema = z.looseObject({
  tenantId: z.string(),
  schemaId: z.string(),
  version: z.number().int(),
  schema: z.unknown().describe('the JSON Schema document'),
  description: z.string().nullable(),
  usedBy: z.number().int().describe('live configurations naming it'),
  updatedBy: z.string().nullable(),
  updatedAt: nullableTimestamp,
});

const RESPONSE_SCHEMAS = {
  Problem: problem,
  Tenant: tenant,
  TenantResult: tenantResult,
  ApprovalPolicies: approvalPolicies,
  ApprovalPolicyResult: approvalPolicyResult,
  Configuration: configuration,
  ConfigurationPage: page(configuration, 'configurations'),
  ConfigurationResult: configurationResult,
  ConfigurationVersion: configurationVersion,
  ConfigurationVersionPage: page(configurationVersion, 'versions, newest first'),
  EnvironmentConfigs: environmentConfigs,
  ConfigValue: configValue,
  AuditLogPage: page(auditLogEntry, 'audit log entries, newest first'),
  ConfigSchema: configSchema,
  ConfigSchemaPage: page(configSchema, "a tenant's config schemas"),
  ConfigSchemaResult: z
    .looseObject({
      tenantId: z.string(),
      schemaId: z.string(),
      version: z.number().int(),
      schema: z.unknown(),
      description: z.string().nullable(),
      position,
    })
    .partial()
    .required({ position: true })
    .describe('The schema after the command, and the event position'),
  ConfigurationEventPage: z
    .looseObject({
      configId: z.string(),
      items: z.array(
        z.looseObject({
          revision: z.number().int().describe("position in the configuration's own stream"),
          position: z.string().describe('position in the global log'),
          type: z.string(),
          data: z.record(z.string(), z.unknown()),
          metadata: z.record(z.string(), z.unknown()),
        }),
      ),
      nextRevision: z.number().int().nullable().describe('fromRevision of the next page'),
      total: z.number().int(),
    })
    .describe("A page of a configuration's events"),
  ConfigurationAsOf: z.looseObject({
    asOf: z.record(z.string(), z.unknown()).describe('the point asked for (empty: now)'),
    configId: z.string(),
    tenantId: z.string(),
    key: z.string(),
    environment: z.string(),
    type: z.enum(CONFIG_TYPES),
    version: z.number().int(),
    value: z.string(),
    deleted: z.boolean(),
    isSensitive: z.boolean(),
    deploymentId: z.string().nullable().describe('a deployment holding it then'),
    lastEvent: z.looseObject({
      type: z.string(),
      revision: z.number().int(),
      position: z.string(),
      timestamp: z.string().nullable(),
      userId: z.string().nullable(),
    }),
  }),
  EnvironmentAsOf: z.looseObject({
    asOf: z.record(z.string(), z.unknown()),
    tenantId: z.string(),
    environment: z.string(),
    position: z.string().describe('the newest event included'),
    configs: z.record(z.string(), z.unknown()).describe('key → typed value'),
    versions: z.record(z.string(), z.number().int()),
  }),
  ChangeRequest: changeRequest,
  ChangeRequestPage: page(changeRequest, 'change requests'),
  ChangeRequestResult: changeRequestResult,
  Deployment: deployment,
  DeploymentPage: page(deployment, 'deployments'),
  DeploymentResult: deploymentResult,
  DeploymentMetricsResult: metricsResult,
  Health: z.looseObject({ status: z.literal('Healthy') }),
  Readiness: z.looseObject({
    status: z.enum(['Healthy', 'Unhealthy']),
    checks: z.looseObject({ postgres: check, redis: check, eventStore: check }),
    projections: z
      .record(z.string(), z.looseObject({ position: z.string(), behind: z.string() }))
      .describe('per projection: its checkpoint and how many events it is behind'),
  }),
  PrometheusText: z.string().describe('Prometheus text exposition format'),
  ProjectionStatus: z.looseObject({
    head: z.string().describe('position of the newest event'),
    projections: z.array(
      z.looseObject({ name: z.string(), position: z.string(), behind: z.string() }),
    ),
  }),
  RebuildAccepted: z.looseObject({
    jobId: z.string(),
    projection: z.string(),
    statusUrl: z.string(),
  }),
  RebuildStatus: z.looseObject({
    jobId: z.string(),
    projections: z.array(z.string()),
    state: z.string().describe('BullMQ job state: waiting, active, completed, failed…'),
    progress: z.unknown().describe('percent done'),
    result: z.unknown(),
    failedReason: z.string().nullable(),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
  }),
} satisfies Record<string, z.ZodType>;
type ResponseName = keyof typeof RESPONSE_SCHEMAS;

// ---------------------------------------------------------------------------------------------
// Parameters and headers
// ---------------------------------------------------------------------------------------------

/**
 * Path parameters. tenantId, environment and key are the exported validators; version mirrors the
 * inline check in routes/configs.ts; ids are opaque (an unknown one answers 404).
 */
const PATH_PARAMS: Record<string, { schema: z.ZodType; description: string }> = {
  tenantId: { schema: schemas.tenantId, description: 'The tenant' },
  environment: { schema: schemas.environment, description: 'The environment, e.g. Production' },
  key: {
    schema: schemas.configKey,
    description: 'The configuration key (may contain "/", sent as is or percent-encoded)',
  },
  configId: { schema: z.string(), description: 'The configuration id' },
  version: { schema: schemas.versionParam, description: 'A version number (1, 2, …)' },
  approvalId: { schema: z.string(), description: 'The change request id' },
  deploymentId: { schema: z.string(), description: 'The deployment id' },
  name: {
    schema: z.enum([...PROJECTIONS, 'all']),
    description: 'A projection, or all of them',
  },
  jobId: { schema: z.string(), description: 'The rebuild job id' },
  schemaId: { schema: schemas.schemaId, description: 'A config schema of the tenant' },
};

const REQUEST_HEADERS: Record<RequestHeader | 'X-Min-Position' | 'X-Correlation-Id', Json> = {
  'If-Match': {
    description:
      'The version being changed ("3", W/"3" or 3); the same as the body\'s expectedVersion. ' +
      'A stale one answers 409 with currentVersion.',
    schema: { type: 'string', examples: ['"3"'] },
  },
  'If-None-Match': {
    description: 'An ETag from an earlier answer: unchanged data answers 304 without a body',
    schema: { type: 'string' },
  },
  'X-Client-Id': {
    description:
      'A stable id of the calling app instance: decides which side of a running canary it sees ' +
      '(also as ?clientId=)',
    schema: { type: 'string', maxLength: 200 },
  },
  'X-Min-Position': {
    description:
      'Read your writes: wait (bounded) until the read side has reached this event position ' +
      '(the position of a command answer); then 503 with Retry-After',
    schema: { type: 'string', pattern: '^\\d+$' },
  },
  'X-Correlation-Id': {
    description: 'Correlation id recorded with the events and echoed back (a new one if absent)',
    schema: { type: 'string', pattern: '^[\\w.:-]{1,100}$' },
  },
};

const RESPONSE_HEADERS: Record<ResponseHeader | 'X-Correlation-Id', Json> = {
  ETag: { description: 'The version, e.g. "3"', schema: { type: 'string' } },
  Location: { description: 'Where the new resource is', schema: { type: 'string' } },
  'X-Event-Position': {
    description: 'Event position of the change (absent when nothing changed)',
    schema: { type: 'string' },
  },
  'X-Correlation-Id': { description: "The request's correlation id", schema: { type: 'string' } },
};

const headerRef = (name: string) => `#/components/headers/${name}`;
const paramRef = (name: string) => `#/components/parameters/${paramKey(name)}`;
const paramKey = (header: string) => header.replace(/-/g, '');

const ERRORS: Record<ErrorStatus, { name: string; description: string }> = {
  400: {
    name: 'BadRequest',
    description: 'Invalid request: `field` and `errors` name each offending field or parameter',
  },
  401: { name: 'Unauthorized', description: 'Missing, invalid or expired bearer token' },
  403: {
    name: 'Forbidden',
    description: "The token's roles (or environments) do not allow this",
  },
  404: {
    name: 'NotFound',
    description:
      "Not found. Another tenant's resources answer 404 too, so tokens cannot probe tenants",
  },
  409: {
    name: 'Conflict',
    description:
      'Refused by the domain: already exists, version conflict, quota exceeded, invalid state, ' +
      'approval required or stale change request (`code` says which)',
  },
  413: { name: 'PayloadTooLarge', description: 'The body is larger than 1 MB' },
  422: {
    name: 'ValidationFailed',
    description: 'The domain refused a value, e.g. one that does not fit the type (`field`)',
  },
  428: {
    name: 'PreconditionRequired',
    description: 'Name the version being changed: If-Match or expectedVersion (`currentVersion`)',
  },
  429: {
    name: 'TooManyRequests',
    description:
      'Over the per-minute limit for this tenant and caller (RateLimiting__*); retry after Retry-After seconds',
  },
  503: {
    name: 'NotCaughtUp',
    description: 'The read side did not reach minPosition in time; retry after Retry-After seconds',
  },
};

// ---------------------------------------------------------------------------------------------
// The catalogue
// ---------------------------------------------------------------------------------------------

const V1 = '/api/v1';

/** Operations behind RateLimiting__ConfigGet, __ConfigCreate and __Deployments (api/rate-limits.ts). */
const RATE_LIMITED = new Set([
  'getEnvironmentConfigs',
  'getConfigValue',
  'listConfigurations',
  'getConfiguration',
  'listConfigurationVersions',
  'getConfigurationVersion',
  'listConfigurationEvents',
  'replayConfiguration',
  'replayEnvironment',
  'createConfiguration',
  'updateConfiguration',
  'deleteConfiguration',
  'restoreConfiguration',
  'rollbackConfiguration',
  'startDeployment',
  'rollbackDeployment',
]);
const COMMAND = ['X-Event-Position'] as const satisfies ResponseHeader[];

export const ROUTES: readonly ApiOperation[] = [
  // ---- tenants ----
  {
    method: 'post',
    path: `${V1}/tenants`,
    operationId: 'createTenant',
    summary: 'Create a tenant',
    tag: 'Tenants',
    body: schemas.createTenantBody,
    access: 'platform',
    success: {
      status: 201,
      description: 'Created',
      schema: 'TenantResult',
      headers: ['Location', ...COMMAND],
    },
    errors: [403, 409, 422],
  },
  {
    method: 'get',
    path: `${V1}/tenants/:tenantId`,
    operationId: 'getTenant',
    summary: 'Get a tenant',
    tag: 'Tenants',
    access: 'read',
    readYourWrites: true,
    success: { status: 200, description: 'The tenant', schema: 'Tenant' },
    errors: [400, 403, 404],
  },
  {
    method: 'patch',
    path: `${V1}/tenants/:tenantId`,
    operationId: 'updateTenant',
    summary: 'Change a tenant',
    description:
      'Tenant admins change the name, contact and metadata; only platform admins change tier, ' +
      'status and quotas (403 naming the field otherwise).',
    tag: 'Tenants',
    body: schemas.updateTenantBody,
    access: 'admin',
    success: { status: 200, description: 'Changed', schema: 'TenantResult', headers: [...COMMAND] },
    errors: [403, 404, 409, 422],
  },
  {
    method: 'delete',
    path: `${V1}/tenants/:tenantId`,
    operationId: 'deleteTenant',
    summary: 'Delete a tenant (soft)',
    tag: 'Tenants',
    access: 'platform',
    success: { status: 200, description: 'Deleted', schema: 'TenantResult', headers: [...COMMAND] },
    errors: [400, 403, 404, 409],
  },
  {
    method: 'get',
    path: `${V1}/tenants/:tenantId/approval-policies`,
    operationId: 'getApprovalPolicies',
    summary: 'Approvals each environment requires',
    tag: 'Tenants',
    access: 'read',
    readYourWrites: true,
    success: { status: 200, description: 'The policies', schema: 'ApprovalPolicies' },
    errors: [400, 403, 404],
  },
  {
    method: 'put',
    path: `${V1}/tenants/:tenantId/approval-policies/:environment`,
    operationId: 'setApprovalPolicy',
    summary: "Set how many approvals an environment's changes need (0: none)",
    tag: 'Tenants',
    body: schemas.approvalPolicyBody,
    access: 'admin',
    success: {
      status: 200,
      description: 'Set',
      schema: 'ApprovalPolicyResult',
      headers: [...COMMAND],
    },
    errors: [403, 404, 409, 422],
  },

  // ---- configurations ----
  {
    method: 'post',
    path: `${V1}/configs`,
    operationId: 'createConfiguration',
    summary: 'Create a configuration',
    description:
      'The environment defaults to the service default. Environments that require approvals ' +
      'take changes through change requests only (409 approval_required).',
    tag: 'Configurations',
    body: schemas.createConfigBody,
    access: 'write',
    success: {
      status: 201,
      description: 'Created',
      schema: 'ConfigurationResult',
      headers: ['Location', 'ETag', ...COMMAND],
    },
    errors: [403, 404, 409, 422],
  },
  {
    method: 'get',
    path: `${V1}/configs`,
    operationId: 'listConfigurations',
    summary: 'List configurations (paged; sensitive values masked)',
    tag: 'Configurations',
    query: schemas.listConfigsQuery,
    access: 'read',
    readYourWrites: true,
    success: { status: 200, description: 'A page', schema: 'ConfigurationPage' },
    errors: [403, 404],
  },
  {
    method: 'get',
    path: `${V1}/configs/:configId`,
    operationId: 'getConfiguration',
    summary: 'Get a configuration',
    tag: 'Configurations',
    access: 'read',
    readYourWrites: true,
    success: {
      status: 200,
      description: 'The configuration',
      schema: 'Configuration',
      headers: ['ETag'],
    },
    errors: [403, 404],
  },
  {
    method: 'put',
    path: `${V1}/configs/:configId`,
    operationId: 'updateConfiguration',
    summary: 'Change a configuration',
    description:
      'Name the version being changed with If-Match or expectedVersion: none answers 428, a ' +
      'stale one 409 with currentVersion. A change that changes nothing appends nothing ' +
      '(position null).',
    tag: 'Configurations',
    body: schemas.updateConfigBody,
    access: 'write',
    headers: ['If-Match'],
    success: {
      status: 200,
      description: 'Changed',
      schema: 'ConfigurationResult',
      headers: ['ETag', ...COMMAND],
    },
    errors: [403, 404, 409, 422, 428],
  },
  {
    method: 'delete',
    path: `${V1}/configs/:configId`,
    operationId: 'deleteConfiguration',
    summary: 'Delete a configuration (soft; frees the quota slot)',
    tag: 'Configurations',
    access: 'write',
    headers: ['If-Match'],
    success: {
      status: 200,
      description: 'Deleted',
      schema: 'ConfigurationResult',
      headers: ['ETag', ...COMMAND],
    },
    errors: [400, 403, 404, 409],
  },
  {
    method: 'post',
    path: `${V1}/configs/:configId/restore`,
    operationId: 'restoreConfiguration',
    summary: 'Undo a delete',
    tag: 'Configurations',
    access: 'write',
    success: {
      status: 200,
      description: 'Restored',
      schema: 'ConfigurationResult',
      headers: ['ETag', ...COMMAND],
    },
    errors: [403, 404, 409],
  },
  {
    method: 'post',
    path: `${V1}/configs/:configId/rollback`,
    operationId: 'rollbackConfiguration',
    summary: "Roll back: a new version with an earlier version's value",
    tag: 'Configurations',
    body: schemas.rollbackBody,
    access: 'write',
    headers: ['If-Match'],
    success: {
      status: 200,
      description: 'Rolled back',
      schema: 'ConfigurationResult',
      headers: ['ETag', ...COMMAND],
    },
    errors: [403, 404, 409, 422, 428],
  },
  {
    method: 'get',
    path: `${V1}/configs/:configId/versions`,
    operationId: 'listConfigurationVersions',
    summary: 'Version history (paged)',
    tag: 'Configurations',
    query: schemas.versionsQuery,
    access: 'read',
    readYourWrites: true,
    success: { status: 200, description: 'A page', schema: 'ConfigurationVersionPage' },
    errors: [403, 404],
  },
  {
    method: 'get',
    path: `${V1}/configs/:configId/versions/:version`,
    operationId: 'getConfigurationVersion',
    summary: 'One version',
    tag: 'Configurations',
    access: 'read',
    readYourWrites: true,
    success: { status: 200, description: 'The version', schema: 'ConfigurationVersion' },
    errors: [400, 403, 404],
  },

  // ---- the apps' hot read path (served before Express) ----
  {
    method: 'get',
    path: HOT_ENV_ROUTE,
    operationId: 'getEnvironmentConfigs',
    summary: 'Apps: the whole environment as one object',
    description:
      'The hot read path: answered from memory, then Redis, then PostgreSQL. HEAD works too. ' +
      'Follows changes live with `?wait=` (long poll) or `Accept: text/event-stream`.',
    tag: 'App reads',
    access: 'read',
    headers: ['If-None-Match', 'X-Client-Id'],
    readYourWrites: true,
    live: true,
    success: {
      status: 200,
      description: 'The environment',
      schema: 'EnvironmentConfigs',
      headers: ['ETag'],
    },
    otherResponses: { 304: { description: 'Not modified (If-None-Match)' } },
    errors: [400, 403, 404],
  },
  {
    method: 'get',
    path: HOT_KEY_ROUTE,
    operationId: 'getConfigValue',
    summary: 'Apps: one key',
    description:
      'The hot read path: answered from memory, then Redis, then PostgreSQL. HEAD works too. ' +
      'Follows changes live with `?wait=` (long poll) or `Accept: text/event-stream`.',
    tag: 'App reads',
    access: 'read',
    headers: ['If-None-Match', 'X-Client-Id'],
    readYourWrites: true,
    live: true,
    success: { status: 200, description: 'The key', schema: 'ConfigValue', headers: ['ETag'] },
    otherResponses: { 304: { description: 'Not modified (If-None-Match)' } },
    errors: [400, 403, 404],
  },

  // ---- audit ----
  {
    method: 'get',
    path: `${V1}/audit-logs`,
    operationId: 'listAuditLogs',
    summary: 'Audit trail (paged; sensitive values masked)',
    description: 'tenantId is required unless the token is platform-admin.',
    tag: 'Audit',
    query: schemas.auditQuery,
    access: 'read',
    readYourWrites: true,
    success: { status: 200, description: 'A page', schema: 'AuditLogPage' },
    errors: [403, 404],
  },

  // ---- config schemas ----
  {
    method: 'put',
    path: `${V1}/tenants/:tenantId/schemas/:schemaId`,
    operationId: 'defineConfigSchema',
    summary: 'Define a config schema, or its next version',
    description:
      'A JSON Schema (draft 2020-12) that configurations name in `schemaId`: every value written ' +
      'to them (create, update, rollback, restore, deployment, change request) must match the ' +
      'newest version, as its typed value. 201 for the first version, 200 after; 409 naming ' +
      '`schema` (with `violations`) when a live configuration using it would not match.',
    tag: 'Configurations',
    body: schemas.defineSchemaBody,
    access: 'write',
    success: { status: 200, description: 'The schema', schema: 'ConfigSchemaResult' },
    errors: [403, 404, 409, 422],
  },
  {
    method: 'get',
    path: `${V1}/tenants/:tenantId/schemas`,
    operationId: 'listConfigSchemas',
    summary: "A tenant's config schemas (paged)",
    tag: 'Configurations',
    query: schemas.schemasQuery,
    access: 'read',
    readYourWrites: true,
    success: { status: 200, description: 'A page', schema: 'ConfigSchemaPage' },
    errors: [403, 404],
  },
  {
    method: 'get',
    path: `${V1}/tenants/:tenantId/schemas/:schemaId`,
    operationId: 'getConfigSchema',
    summary: 'One config schema',
    tag: 'Configurations',
    access: 'read',
    readYourWrites: true,
    success: { status: 200, description: 'The schema', schema: 'ConfigSchema' },
    errors: [400, 403, 404],
  },

  // ---- replay (from the event log) ----
  {
    method: 'get',
    path: `${V1}/configs/:configId/events`,
    operationId: 'listConfigurationEvents',
    summary: "A configuration's recorded events, oldest first",
    description:
      'Read from the event store, not the read tables: every event of the configuration with ' +
      'its metadata (user, IP, trace, correlation and causation ids, time). Values of sensitive ' +
      'configurations are masked.',
    tag: 'Replay',
    query: schemas.configEventsQuery,
    access: 'read',
    success: { status: 200, description: 'A page of events', schema: 'ConfigurationEventPage' },
    errors: [403, 404],
  },
  {
    method: 'get',
    path: `${V1}/configs/:configId/replay`,
    operationId: 'replayConfiguration',
    summary: 'A configuration as it was at a time, a position or a version',
    description:
      "Folds the configuration's events up to the point given (none: now). 404 naming the field " +
      'when it did not exist yet. Values of sensitive configurations are masked.',
    tag: 'Replay',
    query: schemas.configReplayQuery,
    access: 'read',
    success: { status: 200, description: 'The configuration then', schema: 'ConfigurationAsOf' },
    errors: [403, 404],
  },
  {
    method: 'get',
    path: `${V1}/tenants/:tenantId/environments/:environment/replay`,
    operationId: 'replayEnvironment',
    summary: 'An environment as apps were served it at a time or a position',
    description:
      'Every configuration the tenant ever had in the environment, each folded from its own ' +
      'events up to the point given (none: now). Stable values (a canary running then is not ' +
      'shown); sensitive values masked.',
    tag: 'Replay',
    query: schemas.environmentReplayQuery,
    access: 'read',
    success: { status: 200, description: 'The environment then', schema: 'EnvironmentAsOf' },
    errors: [403, 404],
  },

  // ---- change requests ----
  {
    method: 'post',
    path: `${V1}/approvals`,
    operationId: 'createChangeRequest',
    summary: 'Request a change that needs approval',
    description:
      'Give configId for an existing configuration, or tenantId, key and environment (and type) ' +
      'for a new one.',
    tag: 'Change requests',
    body: schemas.changeRequestBody,
    access: 'write',
    success: {
      status: 201,
      description: 'Requested',
      schema: 'ChangeRequestResult',
      headers: ['Location', ...COMMAND],
    },
    errors: [403, 404, 409, 422],
  },
  {
    method: 'get',
    path: `${V1}/approvals`,
    operationId: 'listChangeRequests',
    summary: 'List change requests (paged)',
    tag: 'Change requests',
    query: schemas.approvalsQuery,
    access: 'read',
    readYourWrites: true,
    success: { status: 200, description: 'A page', schema: 'ChangeRequestPage' },
    errors: [403, 404],
  },
  {
    method: 'get',
    path: `${V1}/approvals/:approvalId`,
    operationId: 'getChangeRequest',
    summary: 'Get a change request',
    tag: 'Change requests',
    access: 'read',
    readYourWrites: true,
    success: { status: 200, description: 'The change request', schema: 'ChangeRequest' },
    errors: [403, 404],
  },
  ...(
    [
      ['approve', 'approveChangeRequest', 'Approve (applies it once enough approvals)', 'approve'],
      ['reject', 'rejectChangeRequest', 'Reject', 'approve'],
      ['cancel', 'cancelChangeRequest', 'Cancel', 'write'],
    ] as const
  ).map(([action, operationId, summary, access]): ApiOperation => ({
    method: 'post',
    path: `${V1}/approvals/:approvalId/${action}`,
    operationId,
    summary,
    tag: 'Change requests',
    body: schemas.reviewBody,
    access,
    success: {
      status: 200,
      description: 'Done',
      schema: 'ChangeRequestResult',
      headers: [...COMMAND],
    },
    errors: [403, 404, 409, 422],
  })),

  // ---- deployments ----
  {
    method: 'post',
    path: `${V1}/deployments`,
    operationId: 'startDeployment',
    summary: 'Deploy a value (Direct, or Canary in steps)',
    tag: 'Deployments',
    body: schemas.deploymentBody,
    access: 'write',
    success: {
      status: 201,
      description: 'Started',
      schema: 'DeploymentResult',
      headers: ['Location', ...COMMAND],
    },
    errors: [403, 404, 409, 422],
  },
  {
    method: 'get',
    path: `${V1}/deployments`,
    operationId: 'listDeployments',
    summary: 'List deployments (paged)',
    tag: 'Deployments',
    query: schemas.deploymentsQuery,
    access: 'read',
    readYourWrites: true,
    success: { status: 200, description: 'A page', schema: 'DeploymentPage' },
    errors: [403, 404],
  },
  {
    method: 'get',
    path: `${V1}/deployments/:deploymentId`,
    operationId: 'getDeployment',
    summary: 'Get a deployment',
    tag: 'Deployments',
    access: 'read',
    readYourWrites: true,
    success: { status: 200, description: 'The deployment', schema: 'Deployment' },
    errors: [403, 404],
  },
  {
    method: 'post',
    path: `${V1}/deployments/:deploymentId/metrics`,
    operationId: 'reportDeploymentMetrics',
    summary: 'Apps report requests and errors; too many canary errors roll back',
    tag: 'Deployments',
    body: schemas.metricsBody,
    access: 'read',
    success: {
      status: 200,
      description: 'Recorded',
      schema: 'DeploymentMetricsResult',
      headers: [...COMMAND],
    },
    errors: [403, 404, 409, 422],
  },
  {
    method: 'post',
    path: `${V1}/deployments/:deploymentId/rollback`,
    operationId: 'rollbackDeployment',
    summary: 'Roll a deployment back',
    tag: 'Deployments',
    body: schemas.rollbackDeploymentBody,
    access: 'write',
    success: {
      status: 200,
      description: 'Rolled back',
      schema: 'DeploymentResult',
      headers: [...COMMAND],
    },
    errors: [403, 404, 409],
  },
  ...(
    [
      ['pause', 'pauseDeployment', 'Pause a canary'],
      ['resume', 'resumeDeployment', 'Resume a paused canary'],
      ['promote', 'promoteDeployment', 'Promote a canary to 100 % now'],
    ] as const
  ).map(([action, operationId, summary]): ApiOperation => ({
    method: 'post',
    path: `${V1}/deployments/:deploymentId/${action}`,
    operationId,
    summary,
    tag: 'Deployments',
    access: 'write',
    success: {
      status: 200,
      description: 'Done',
      schema: 'DeploymentResult',
      headers: [...COMMAND],
    },
    errors: [403, 404, 409],
  })),

  // ---- operations (public) ----
  {
    method: 'get',
    path: '/health',
    operationId: 'getHealth',
    summary: 'Liveness: the process answers',
    tag: 'Operations',
    access: 'public',
    success: { status: 200, description: 'Alive', schema: 'Health' },
    errors: [],
  },
  {
    method: 'get',
    path: '/health/ready',
    operationId: 'getReadiness',
    summary: 'Readiness: PostgreSQL, Redis, the event store, and projection lag',
    tag: 'Operations',
    access: 'public',
    success: { status: 200, description: 'Ready', schema: 'Readiness' },
    otherResponses: { 503: { description: 'A dependency is down', schema: 'Readiness' } },
    errors: [],
  },
  // ---- operations ----
  {
    method: 'get',
    path: `${V1}/admin/projections`,
    operationId: 'getProjections',
    summary: 'Projections, their checkpoints and lag',
    tag: 'Operations',
    access: 'platform',
    success: { status: 200, description: 'Projection status', schema: 'ProjectionStatus' },
    errors: [403],
  },
  {
    method: 'post',
    path: `${V1}/admin/projections/:name/rebuild`,
    operationId: 'rebuildProjection',
    summary: 'Queue a rebuild from position zero while serving (name, or "all")',
    description:
      'The worker replays the log into shadow tables while the live ones keep answering, then ' +
      'switches in one transaction. Progress: the status URL, and /admin/queues.',
    tag: 'Operations',
    access: 'platform',
    success: {
      status: 202,
      description: 'Queued',
      schema: 'RebuildAccepted',
      headers: ['Location'],
    },
    errors: [403, 404],
  },
  {
    method: 'get',
    path: `${V1}/admin/projections/rebuilds/:jobId`,
    operationId: 'getRebuild',
    summary: 'Progress of a rebuild job',
    tag: 'Operations',
    access: 'platform',
    success: { status: 200, description: 'The job', schema: 'RebuildStatus' },
    errors: [403, 404],
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    summary: 'Prometheus metrics',
    tag: 'Operations',
    access: 'public',
    success: {
      status: 200,
      description: 'Metrics',
      schema: 'PrometheusText',
      contentType: 'text/plain; version=0.0.4',
    },
    errors: [],
  },
];

// ---------------------------------------------------------------------------------------------
// The document
// ---------------------------------------------------------------------------------------------

/** `/configs/:configId` → `/configs/{configId}`. */
export const toOpenApiPath = (expressPath: string) =>
  expressPath.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');

const pathParamsOf = (expressPath: string) =>
  [...expressPath.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);

/** The roles that may call an operation (from auth.ts's grants), or [] when it is public. */
export function rolesFor(access: ApiOperation['access']): Role[] {
  if (access === 'public') return [];
  return ROLES.filter((role) =>
    can(
      { userId: '', roles: new Set([role]), tenantId: null, environments: null, expiresAt: 0 },
      access,
    ),
  );
}

const pascal = (name: string) => name[0]!.toUpperCase() + name.slice(1);

/** Component names of the request schemas: each export of api/schemas.ts, in PascalCase. */
function requestSchemaNames(): Map<z.ZodType, string> {
  const names = new Map<z.ZodType, string>();
  for (const [name, value] of Object.entries(schemas)) {
    if (value instanceof z.ZodType && !names.has(value)) names.set(value, pascal(name));
  }
  return names;
}

/** JSON Schema (2020-12, as OpenAPI 3.1 uses) of a zod schema, without its `$schema`. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io }) as Json;
  return rest;
}

/** Drops the ±2^53 bounds zod gives every integer: noise in the (loose) response schemas. */
function withoutSafeIntegerBounds(schema: Json): Json {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (!value || typeof value !== 'object') return value;
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === 'minimum' && v === Number.MIN_SAFE_INTEGER) continue;
      if (k === 'maximum' && v === Number.MAX_SAFE_INTEGER) continue;
      out[k] = strip(v);
    }
    return out;
  };
  return strip(schema) as Json;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file))
      return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    const parent = path.dirname(dir);
    if (parent === dir) return '0.0.0';
    dir = parent;
  }
}

const SECURITY_DESCRIPTION = `Bearer JWT (HS256, signed with JWT__Secret; \`iss\` = JWT__Issuer, \`aud\` = JWT__Audience; \
expired, wrongly signed or \`alg: none\` tokens get 401). Claims:

| claim | meaning |
| --- | --- |
| \`sub\` | the user (recorded on every event) |
| \`roles\` | any of ${ROLES.map((r) => `\`${r}\``).join(', ')} |
| \`tenant_id\` | the tenant the roles apply to (required unless platform-admin) |
| \`environments\` | optional: the roles apply to these environments only |

A token for one tenant gets 404 (or 403) on every route of another. \`npm run token\` prints one.`;

/** What a client gets with `Accept: text/event-stream`. */
const SSE =
  'Server-sent events: `snapshot` (data: the JSON body a GET would answer; id: its ETag) now ' +
  'and after every change; `missing` when a followed key does not exist (any more); `expired` ' +
  'just before the stream ends with the token. Comments keep the connection alive every 25 s. ' +
  '503 with Retry-After when the instance follows ConfigService__MaxWatchers clients already.';

function operationObject(op: ApiOperation, requestNames: Map<z.ZodType, string>): Json {
  const parameters: Json[] = [];
  for (const name of pathParamsOf(op.path)) {
    const param = PATH_PARAMS[name];
    if (!param) throw new Error(`openapi: no description of path parameter :${name} (${op.path})`);
    const named = requestNames.get(param.schema);
    parameters.push({
      name,
      in: 'path',
      required: true,
      description: param.description,
      schema: named ? ref(named) : jsonSchema(param.schema, 'input'),
    });
  }
  if (op.query) {
    const q = jsonSchema(op.query, 'input') as {
      properties?: Record<string, Json>;
      required?: string[];
    };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      parameters.push({
        name,
        in: 'query',
        required: q.required?.includes(name) ?? false,
        ...(name === 'minPosition'
          ? { description: REQUEST_HEADERS['X-Min-Position'].description as string }
          : {}),
        schema,
      });
    }
  }
  const queryHas = (name: string) => op.query !== undefined && name in op.query.shape;
  if (op.readYourWrites && !queryHas('minPosition'))
    parameters.push({ $ref: paramRef('MinPosition') });
  if (op.headers?.includes('X-Client-Id')) parameters.push({ $ref: paramRef('ClientId') });
  for (const h of op.headers ?? []) parameters.push({ $ref: paramRef(h) });
  if (op.readYourWrites) parameters.push({ $ref: paramRef('X-Min-Position') });
  if (op.live) {
    parameters.push({ $ref: paramRef('Wait') }, { $ref: paramRef('Last-Event-ID') });
  }
  parameters.push({ $ref: paramRef('X-Correlation-Id') });

  const errors = new Set<ErrorStatus>(op.errors);
  if (
    RATE_LIMITED.has(
      op.operationId.replace(/^(pause|resume|promote)Deployment$/, 'rollbackDeployment'),
    )
  ) {
    errors.add(429);
  }
  if (op.access !== 'public') errors.add(401);
  if (op.body || op.query || op.readYourWrites) errors.add(400);
  if (op.body) errors.add(413);
  if (op.readYourWrites) errors.add(503);

  const responseHeaders = (names: readonly string[] = []) =>
    Object.fromEntries(
      [...names, 'X-Correlation-Id'].map((h) => [h, { $ref: headerRef(h) }] as const),
    );
  const responses: Json = {
    [op.success.status]: {
      description: op.success.description,
      headers: responseHeaders(op.success.headers),
      content: {
        [op.success.contentType ?? 'application/json']: { schema: ref(op.success.schema) },
        ...(op.live
          ? { 'text/event-stream': { schema: { type: 'string', description: SSE } } }
          : {}),
      },
    },
  };
  for (const [status, other] of Object.entries(op.otherResponses ?? {})) {
    responses[status] = {
      description: other.description,
      headers: responseHeaders(status === '304' ? ['ETag'] : []),
      ...(other.schema ? { content: { 'application/json': { schema: ref(other.schema) } } } : {}),
    };
  }
  for (const status of [...errors].sort((a, b) => a - b)) {
    responses[status] = { $ref: `#/components/responses/${ERRORS[status].name}` };
  }

  const roles = rolesFor(op.access);
  const who =
    op.access === 'public'
      ? 'Public: no token needed.'
      : `Roles: ${roles.map((r) => `\`${r}\``).join(', ')}` +
        (op.access === 'platform' ? '.' : " (on the resource's tenant).");
  let requestBody: Json | undefined;
  if (op.body) {
    const name = requestNames.get(op.body);
    if (!name) throw new Error(`openapi: ${op.operationId}'s body is not an export of schemas.ts`);
    // A body of optional fields may be left out (the route reads it as {}).
    const required = ((jsonSchema(op.body, 'input').required as string[] | undefined) ?? []).length;
    requestBody = {
      required: required > 0,
      content: { 'application/json': { schema: ref(name) } },
    };
  }
  return {
    operationId: op.operationId,
    summary: op.summary,
    description: [op.description, who].filter(Boolean).join('\n\n'),
    tags: [op.tag],
    ...(op.access === 'public' ? { security: [] } : {}),
    'x-roles': roles,
    parameters,
    ...(requestBody ? { requestBody } : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of the API. */
export function openApiDocument(): Json {
  const requestNames = requestSchemaNames();
  const schemaComponents: Json = {};
  // Request bodies and path parameter types: the validators themselves.
  const used = new Set<z.ZodType>();
  for (const op of ROUTES) {
    if (op.body) used.add(op.body);
    for (const name of pathParamsOf(op.path)) used.add(PATH_PARAMS[name]!.schema);
  }
  for (const [schema, name] of requestNames) {
    if (used.has(schema)) schemaComponents[name] = jsonSchema(schema, 'input');
  }
  for (const [name, schema] of Object.entries(RESPONSE_SCHEMAS)) {
    schemaComponents[name] = withoutSafeIntegerBounds(jsonSchema(schema, 'output'));
  }

  const paths: Record<string, Json> = {};
  const ids = new Set<string>();
  for (const op of ROUTES) {
    if (ids.has(op.operationId)) throw new Error(`openapi: duplicate ${op.operationId}`);
    ids.add(op.operationId);
    const p = toOpenApiPath(op.path);
    const item = (paths[p] ??= {});
    if (item[op.method]) throw new Error(`openapi: ${op.method} ${p} twice`);
    item[op.method] = operationObject(op, requestNames);
  }

  const parameters: Json = {
    MinPosition: {
      name: 'minPosition',
      in: 'query',
      required: false,
      description: REQUEST_HEADERS['X-Min-Position'].description,
      schema: { type: 'string', pattern: '^\\d+$' },
    },
    ClientId: {
      name: 'clientId',
      in: 'query',
      required: false,
      description: 'The same as X-Client-Id',
      schema: { type: 'string', maxLength: 200 },
    },
    Wait: {
      name: 'wait',
      in: 'query',
      required: false,
      description:
        'Long poll: with an If-None-Match that still matches, hold the request until the answer ' +
        'changes (200, or 404 when the key is deleted) or this many seconds pass (304)',
      schema: { type: 'integer', minimum: 1, maximum: MAX_WAIT_SECONDS },
    },
    LastEventID: {
      name: 'Last-Event-ID',
      in: 'header',
      required: false,
      description:
        'Event stream: the id (ETag) of the last snapshot received; an unchanged first snapshot ' +
        'is then not sent again',
      schema: { type: 'string' },
    },
  };
  for (const [name, header] of Object.entries(REQUEST_HEADERS)) {
    parameters[paramKey(name)] = { name, in: 'header', required: false, ...header };
  }
  const responses: Json = {};
  for (const { name, description } of Object.values(ERRORS)) {
    responses[name] = {
      description,
      headers: { 'X-Correlation-Id': { $ref: headerRef('X-Correlation-Id') } },
      content: { 'application/problem+json': { schema: ref('Problem') } },
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Config Service API',
      version: packageVersion(),
      description:
        'Multi-tenant, event-sourced configuration service. Errors are RFC 9457 ' +
        'application/problem+json naming the offending field. Every command answers with ' +
        '`position` (and X-Event-Position): pass it as `minPosition` (or X-Min-Position) to a ' +
        'query to read your own write.',
    },
    tags: [
      { name: 'Tenants' },
      { name: 'Configurations' },
      { name: 'App reads', description: 'The hot read path for applications' },
      { name: 'Change requests', description: 'Approvals before a change applies' },
      { name: 'Deployments', description: 'Direct and canary roll-outs' },
      { name: 'Audit' },
      {
        name: 'Replay',
        description: 'Answers from the event log itself: recorded events, state as of a point',
      },
      { name: 'Operations', description: 'Health and metrics (public)' },
    ],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: SECURITY_DESCRIPTION,
        },
      },
      schemas: schemaComponents,
      parameters,
      headers: RESPONSE_HEADERS,
      responses,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Serving it
// ---------------------------------------------------------------------------------------------

export const SPEC_PATH = '/swagger/v1/swagger.json';
export const SPEC_ALIAS = '/openapi.json';
export const UI_PATH = '/swagger';

/** The files of swagger-ui-dist the page needs; nothing else of the package is served. */
const UI_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'index.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

const INDEX_HTML = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Config Service API</title>
    <link rel="stylesheet" type="text/css" href="${UI_PATH}/swagger-ui.css">
    <link rel="stylesheet" type="text/css" href="${UI_PATH}/index.css">
    <link rel="icon" type="image/png" href="${UI_PATH}/favicon-32x32.png" sizes="32x32">
    <link rel="icon" type="image/png" href="${UI_PATH}/favicon-16x16.png" sizes="16x16">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${UI_PATH}/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="${UI_PATH}/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="${UI_PATH}/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
`;

const INITIALIZER_JS = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: ${JSON.stringify(SPEC_PATH)},
    dom_id: '#swagger-ui',
    deepLinking: true,
    persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: 'StandaloneLayout',
  });
};
`;

/** The spec as JSON, and Swagger UI at /swagger (and /swagger/, /swagger/index.html). Public. */
export function openApiRouter(): Router {
  const uiDir = path.dirname(
    createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'),
  );
  let spec: string | undefined;
  const r = Router();
  // One route per path (not an array), so the http metrics' route label stays readable.
  const sendSpec = (_req: Request, res: Response) => {
    spec ??= JSON.stringify(openApiDocument());
    res.type('application/json; charset=utf-8').send(spec);
  };
  r.get(SPEC_PATH, sendSpec);
  r.get(SPEC_ALIAS, sendSpec);
  const sendIndex = (_req: Request, res: Response) => {
    res.type('text/html; charset=utf-8').send(INDEX_HTML);
  };
  r.get(UI_PATH, sendIndex); // also /swagger/ (routes are not strict)
  r.get(`${UI_PATH}/index.html`, sendIndex);
  r.get(`${UI_PATH}/swagger-initializer.js`, (_req, res) => {
    res.type('text/javascript; charset=utf-8').send(INITIALIZER_JS);
  });
  r.get(`${UI_PATH}/:asset`, (req, res, next) => {
    const asset = req.params.asset;
    const type = Object.hasOwn(UI_ASSETS, asset) ? UI_ASSETS[asset] : undefined;
    if (!type) {
      next();
      return;
    }
    res.type(type);
    res.sendFile(asset, { root: uiDir, maxAge: '1h' }, (error) => {
      if (error) next(error);
    });
  });
  return r;
}
