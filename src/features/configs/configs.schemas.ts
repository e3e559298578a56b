/** Configurations' request schemas. */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { CONFIG_TYPES } from './config-values.js';
import { environment, tenantId } from '../tenants/tenants.schemas.js';
import { paging } from '../../core/http/common.schemas.js';
import { schemaId } from '../config-schemas/config-schemas.schemas.js';

export const configKey = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,254}$/,
    'must be 1-255 characters: letters, digits and . _ : / -, starting with a letter or digit',
  )
  .describe('The configuration key (may contain "/", sent as is or percent-encoded)')
  .meta({ examples: ['checkout.retry-policy'] });

export const tags = z.array(z.string().min(1).max(100)).max(50);

/** Value as its typed JSON form or as text; checked against the config's type by the domain. */
export const value = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.record(z.string(), z.unknown()),
  z.array(z.unknown()),
]);

/** An opaque configuration id (an unknown one answers 404). */
export const configId = z
  .string()
  .describe('The configuration id')
  .meta({ examples: ['cfg_5f0c9a3e1b7d4c2a8e6f0b1d3c5a7e9f'] });

export const configParams = z.object({ configId });

/**
 * What `defaultValue` is (decided in issue 8): the value the application's own code falls back
 * to, recorded beside the configuration for people and tools. It is never served in place of the
 * value: a configuration always has a value in its environment, and an app reading a key that
 * does not exist gets 404, not a default it did not ask for.
 */
export const DEFAULT_VALUE_MEANING =
  "The value your application's code falls back to, recorded for reference (checked against " +
  'the type and schema, shown by the management routes, masked when sensitive). Never served ' +
  'on the app read routes, which serve `value` only.';

export const createConfigBody = named(
  'CreateConfigBody',
  z
    .strictObject({
      tenantId,
      key: configKey,
      value,
      type: z.enum(CONFIG_TYPES).default('String'),
      environment: environment.optional(),
      description: z.string().max(2000).nullable().optional(),
      tags: tags.optional(),
      isSensitive: z.boolean().optional(),
      isEncrypted: z
        .boolean()
        .optional()
        .describe(
          'encrypt its values at rest (needs Encryption__MasterKey or Vault); always sensitive, and encrypted for life',
        ),
      defaultValue: value.nullable().optional().describe(DEFAULT_VALUE_MEANING),
      schemaId: schemaId.nullable().optional(),
      changeDescription: z.string().max(2000).nullable().optional(),
    })
    .meta({
      examples: [
        {
          tenantId: 'acme',
          key: 'checkout.retry-policy',
          value: { maxAttempts: 3 },
          type: 'JSON',
          environment: 'Staging',
          description: 'Retries at checkout',
          tags: ['checkout'],
        },
      ],
    }),
);

export const updateConfigBody = named(
  'UpdateConfigBody',
  z
    .strictObject({
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
    })
    .meta({
      examples: [
        { value: { maxAttempts: 5 }, expectedVersion: 1, changeDescription: 'more retries' },
      ],
    }),
);

export const rollbackBody = named(
  'RollbackBody',
  z
    .strictObject({
      version: z.number().int().min(1),
      expectedVersion: z.number().int().min(1).optional(),
      changeDescription: z.string().max(2000).nullable().optional(),
    })
    .meta({ examples: [{ version: 1, changeDescription: 'back to the first value' }] }),
);

export const listConfigsQuery = z.object({
  tenantId,
  environment: environment.optional(),
  key: z.string().max(255).optional().describe('keys starting with this'),
  tags: z
    .union([z.string(), z.array(z.string())])
    .transform((t) =>
      (Array.isArray(t) ? t : [t])
        .flatMap((x) => x.split(','))
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().max(100)).max(50))
    .optional()
    .describe('only configurations carrying every one of these tags (comma-separated or repeated)')
    .meta({ examples: ['payments,beta'] }),
  includeDeleted: z.enum(['true', 'false']).optional(),
  ...paging,
});

/** The `:version` path parameter. */
export const versionParam = z.coerce
  .number()
  .int()
  .min(1)
  .max(2_147_483_647)
  .describe('A version number (1, 2, …)')
  .meta({ examples: [1] });

export const versionParams = z.object({ configId, version: versionParam });

export const versionsQuery = z.object({ ...paging });
