/**
 * Request schemas: the one definition that validates requests (and, later, documents them).
 */
import { z } from 'zod';
import { CONFIG_TYPES } from '../domain/values.js';
import { TENANT_STATUSES, TENANT_TIERS } from '../domain/tenant.js';

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
const metadata = z.record(z.string(), z.unknown()).nullable();
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
  schemaId: z.string().max(50).nullable().optional(),
  changeDescription: z.string().max(2000).nullable().optional(),
});

export const updateConfigBody = z.strictObject({
  value: value.optional(),
  description: z.string().max(2000).nullable().optional(),
  tags: tags.optional(),
  isSensitive: z.boolean().optional(),
  changeDescription: z.string().max(2000).nullable().optional(),
  expectedVersion: z.number().int().min(1).optional(),
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
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  minPosition: z.string().optional(),
  ...paging,
});

export const versionsQuery = z.object({ ...paging, minPosition: z.string().optional() });
