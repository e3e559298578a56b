/**
 * Request schemas: the one definition that validates requests (and, later, documents them).
 */
import { z } from 'zod';
import { CONFIG_TYPES } from '../domain/values.js';
import { TENANT_STATUSES, TENANT_TIERS } from '../domain/tenant.js';
import { CHANGE_ACTIONS } from '../domain/approval.js';

export const tenantId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$/, 'must be 1-50 letters, digits, - or _');
export const environment = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$/, 'must be 1-50 letters, digits, - or _');
export const configKey = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,254}$/,
    'must be 1-255 characters: letters, digits and . _ : / -, starting with a letter or digit',
  );
/** A config schema's id (no ':', which separates it from the tenant in its stream name). */
export const schemaId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/, 'must be 1-50 letters, digits, . - or _');
const metadata = z.record(z.string(), z.unknown()).nullable();
/** An ISO-8601 time PostgreSQL can store (years 0001-9999). */
const instant = z.iso
  .datetime({ offset: true })
  .refine((t) => /^(000[1-9]|00[1-9]\d|0[1-9]\d\d|[1-9]\d{3})-/.test(t), 'year must be 0001-9999');
const tags = z.array(z.string().min(1).max(100)).max(50);
const quota = z.number().int().min(1).max(1_000_000);

export const createTenantBody = z.strictObject({
  tenantId,
  name: z.string().trim().min(1).max(255),
  tier: z.enum(TENANT_TIERS).default('Free'),
  maxConfigurations: quota.optional(),
  maxEnvironments: z.number().int().min(1).max(1000).optional(),
  contactEmail: z.email().max(255).nullable().optional(),
  metadata: metadata.optional(),
});

export const updateTenantBody = z.strictObject({
  name: z.string().trim().min(1).max(255).optional(),
  tier: z.enum(TENANT_TIERS).optional(),
  status: z.enum(TENANT_STATUSES).optional(),
  maxConfigurations: quota.optional(),
  maxEnvironments: z.number().int().min(1).max(1000).optional(),
  contactEmail: z.email().max(255).nullable().optional(),
  metadata: metadata.optional(),
});

/** Value as its typed JSON form or as text; checked against the config's type by the domain. */
const value = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.record(z.string(), z.unknown()),
  z.array(z.unknown()),
]);

export const createConfigBody = z.strictObject({
  tenantId,
  key: configKey,
  value,
  type: z.enum(CONFIG_TYPES).default('String'),
  environment: environment.optional(),
  description: z.string().max(2000).nullable().optional(),
  tags: tags.optional(),
  isSensitive: z.boolean().optional(),
  defaultValue: value.nullable().optional(),
  schemaId: schemaId.nullable().optional(),
  changeDescription: z.string().max(2000).nullable().optional(),
});

export const updateConfigBody = z.strictObject({
  value: value.optional(),
  description: z.string().max(2000).nullable().optional(),
  tags: tags.optional(),
  isSensitive: z.boolean().optional(),
  schemaId: schemaId
    .nullable()
    .optional()
    .describe('a schema the value must match from now on; null removes it'),
  changeDescription: z.string().max(2000).nullable().optional(),
  expectedVersion: z.number().int().min(1).optional(),
});

/** PUT /tenants/{t}/schemas/{schemaId}: a JSON Schema document. */
export const defineSchemaBody = z.strictObject({
  schema: z
    .union([z.record(z.string(), z.unknown()), z.boolean()])
    .describe('a JSON Schema (draft 2020-12) the typed values of configurations must match'),
  description: z.string().max(2000).nullable().optional(),
});

export const rollbackBody = z.strictObject({
  version: z.number().int().min(1),
  expectedVersion: z.number().int().min(1).optional(),
  changeDescription: z.string().max(2000).nullable().optional(),
});

export const paging = {
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(500).default(50),
};

export const listConfigsQuery = z.object({
  tenantId,
  environment: environment.optional(),
  key: z.string().max(255).optional(),
  includeDeleted: z.enum(['true', 'false']).optional(),
  minPosition: z.string().optional(),
  ...paging,
});

export const auditQuery = z.object({
  tenantId: tenantId.optional(),
  configId: z.string().max(50).optional(),
  eventType: z.string().max(100).optional(),
  from: instant.optional(),
  to: instant.optional(),
  minPosition: z.string().optional(),
  ...paging,
});

/** The `:version` path parameter. */
export const versionParam = z.coerce.number().int().min(1).max(2_147_483_647);

export const schemasQuery = z.object({ ...paging, minPosition: z.string().optional() });

export const versionsQuery = z.object({ ...paging, minPosition: z.string().optional() });

/** A config's recorded events, by stream revision. */
export const configEventsQuery = z.object({
  fromRevision: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const cutFields = {
  at: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('a time (ISO 8601): the state after every change decided up to then'),
  position: z
    .string()
    .regex(/^\d{1,19}$/, 'must be an event position (digits)')
    .optional()
    .describe("a global event position (a command answer's position)"),
};
const oneCut = (b: Record<string, unknown>) =>
  Object.values(b).filter((v) => v !== undefined).length <= 1;
// A fresh params object per use: zod writes into the one it is given.
const oneCutOf = (names: string) => ({ message: `give at most one of ${names}`, path: ['at'] });

/** A config as it was: at a time, a position or a version (none: now). */
export const configReplayQuery = z
  .strictObject({
    ...cutFields,
    version: z.coerce.number().int().min(1).optional().describe('a version of the config'),
  })
  .refine(oneCut, oneCutOf('at, position and version'));

/** An environment as it was: at a time or a position (none: now). */
export const environmentReplayQuery = z
  .strictObject(cutFields)
  .refine(oneCut, oneCutOf('at and position'));

export const approvalPolicyBody = z.strictObject({
  requiredApprovals: z.number().int().min(0).max(10),
});

/** How a value rolls out: Direct (one step) or Canary with its steps. */
export const rolloutFields = {
  strategy: z.enum(['Direct', 'Canary']).default('Direct'),
  steps: z.array(z.number().int().min(1).max(100)).min(2).max(20).optional(),
  bakeTimeSeconds: z
    .number()
    .min(0)
    .max(7 * 86_400)
    .optional(),
  errorThreshold: z.number().min(0).max(1).optional(),
  minRequests: z.number().int().min(0).max(1_000_000_000).optional(),
};

export const changeRequestBody = z
  .strictObject({
    configId: z.string().max(50).optional(),
    tenantId: tenantId.optional(),
    key: configKey.optional(),
    environment: environment.optional(),
    action: z
      .enum(CHANGE_ACTIONS)
      .optional()
      .describe('Update (default) proposes `value`; Delete proposes deleting the configuration'),
    type: z.enum(CONFIG_TYPES).optional(),
    value: value.optional().describe('The proposed value; required for Update, absent for Delete'),
    description: z.string().max(2000).nullable().optional(),
    rollout: z.strictObject(rolloutFields).optional(),
    expiresInSeconds: z
      .number()
      .min(0)
      .max(365 * 86_400)
      .optional(),
    isSensitive: z.boolean().optional(),
    tags: tags.optional(),
  })
  .refine((b) => b.configId || (b.tenantId && b.key && b.environment), {
    message: 'give configId, or tenantId, key and environment for a new configuration',
    path: ['configId'],
  })
  .superRefine((b, ctx) => {
    if (b.action !== 'Delete') {
      if (b.value === undefined) {
        ctx.addIssue({ code: 'custom', message: 'value is required', path: ['value'] });
      }
      return;
    }
    // A delete proposes no value and deploys nothing.
    for (const field of ['value', 'type', 'rollout', 'isSensitive', 'tags'] as const) {
      if (b[field] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `${field} does not apply to a Delete request`,
          path: [field],
        });
      }
    }
  });

export const reviewBody = z.strictObject({
  comments: z.string().max(2000).nullable().optional(),
});

export const deploymentBody = z.strictObject({
  configId: z.string().min(1).max(50),
  value,
  expectedVersion: z.number().int().min(1).optional(),
  ...rolloutFields,
});

export const metricsBody = z.strictObject({
  requests: z.number().int().min(0).max(1_000_000_000),
  errors: z.number().int().min(0).max(1_000_000_000),
  side: z.enum(['canary', 'stable']).default('canary'),
});

export const rollbackDeploymentBody = z.strictObject({
  reason: z.string().trim().min(1).max(2000),
});

export const approvalsQuery = z.object({
  tenantId,
  status: z.enum(['Pending', 'Approved', 'Rejected', 'Cancelled', 'Expired']).optional(),
  environment: environment.optional(),
  configId: z.string().max(50).optional(),
  minPosition: z.string().optional(),
  ...paging,
});

export const deploymentsQuery = z.object({
  tenantId,
  status: z.enum(['InProgress', 'Paused', 'Completed', 'RolledBack']).optional(),
  environment: environment.optional(),
  configId: z.string().max(50).optional(),
  minPosition: z.string().optional(),
  ...paging,
});
