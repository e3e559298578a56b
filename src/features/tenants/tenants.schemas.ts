/** Tenants' request schemas. */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { paging } from '../../core/http/common.schemas.js';
import { TENANT_STATUSES, TENANT_TIERS } from './tenant.decider.js';

/** Tenant ids and environment names (the hot read path checks them with the same pattern). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$/;

export const tenantId = z
  .string()
  .regex(NAME_PATTERN, 'must be 1-50 letters, digits, - or _')
  .describe('The tenant')
  .meta({ examples: ['acme'] });

export const environment = z
  .string()
  .regex(NAME_PATTERN, 'must be 1-50 letters, digits, - or _')
  .describe('The environment, e.g. Production')
  .meta({ examples: ['Staging'] });

const metadata = z.record(z.string(), z.unknown()).nullable();

const quota = z.number().int().min(1).max(1_000_000);

export const tenantParams = z.object({ tenantId });

export const createTenantBody = named(
  'CreateTenantBody',
  z
    .strictObject({
      tenantId,
      name: z.string().trim().min(1).max(255),
      tier: z.enum(TENANT_TIERS).default('Free'),
      maxConfigurations: quota.optional(),
      maxEnvironments: z.number().int().min(1).max(1000).optional(),
      contactEmail: z.email().max(255).nullable().optional(),
      metadata: metadata.optional(),
      environments: z
        .array(environment)
        .min(1)
        .max(1000)
        .optional()
        .describe(
          'The environments it declares (default: Development, Staging, Production); at most ' +
            'maxEnvironments, names distinct without regard to case',
        ),
      encryptValues: z
        .boolean()
        .optional()
        .describe(
          'encrypt every configuration created from now on (needs Encryption__MasterKey or Vault)',
        ),
    })
    .meta({
      examples: [
        { tenantId: 'acme', name: 'Acme Corp', tier: 'Standard', contactEmail: 'ops@acme.test' },
      ],
    }),
);

export const updateTenantBody = named(
  'UpdateTenantBody',
  z
    .strictObject({
      name: z.string().trim().min(1).max(255).optional(),
      tier: z.enum(TENANT_TIERS).optional(),
      status: z.enum(TENANT_STATUSES).optional(),
      maxConfigurations: quota.optional(),
      maxEnvironments: z.number().int().min(1).max(1000).optional(),
      contactEmail: z.email().max(255).nullable().optional(),
      metadata: metadata.optional(),
      encryptValues: z
        .boolean()
        .optional()
        .describe(
          'encrypt every configuration created from now on (needs Encryption__MasterKey or Vault)',
        ),
    })
    .meta({ examples: [{ name: 'Acme Corporation', contactEmail: 'platform@acme.test' }] }),
);

export const approvalPolicyBody = named(
  'ApprovalPolicyBody',
  z
    .strictObject({
      requiredApprovals: z.number().int().min(0).max(10),
    })
    .meta({ examples: [{ requiredApprovals: 2 }] }),
);

/** Listing a tenant's resources of one kind (change requests, deployments), filtered. */
export const tenantResourcesQuery = <S extends readonly [string, ...string[]]>(statuses: S) =>
  z.object({
    tenantId,
    status: z.enum(statuses).optional(),
    environment: environment.optional(),
    configId: z.string().max(50).optional(),
    ...paging,
  });

export const deleteTenantQuery = z.object({
  purge: z
    .enum(['true', 'false'])
    .optional()
    .describe(
      "hard delete: destroy the tenant's data keys (crypto-shredding); its encrypted values can never be read again",
    ),
  confirm: z
    .string()
    .max(200)
    .optional()
    .describe("with purge=true: the tenant's name (or send it as X-Confirm-Tenant-Name)"),
});

export const deleteTenantHeaders = z.object({
  'X-Confirm-Tenant-Name': z
    .string()
    .max(200)
    .optional()
    .describe("with purge=true: the tenant's name (instead of ?confirm=)"),
});

/** Listing tenants (platform admins): by status, by a part of the id or name. */
export const tenantsQuery = z.object({
  status: z.enum(['Active', 'Suspended', 'Deleted']).optional(),
  search: z.string().max(100).optional().describe('a part of the id or name (any case)'),
  ...paging,
});
