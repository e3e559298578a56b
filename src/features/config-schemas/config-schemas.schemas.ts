/** Config schemas' request schemas. */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { paging } from '../../core/http/common.schemas.js';

/** A config schema's id (no ':', which separates it from the tenant in its stream name). */
export const schemaId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/, 'must be 1-50 letters, digits, . - or _')
  .describe('A config schema of the tenant')
  .meta({ examples: ['retry-policy'] });

/** PUT /tenants/{t}/schemas/{schemaId}: a JSON Schema document. */
export const defineSchemaBody = named(
  'DefineSchemaBody',
  z
    .strictObject({
      schema: z
        .union([z.record(z.string(), z.unknown()), z.boolean()])
        .describe('a JSON Schema (draft 2020-12) the typed values of configurations must match'),
      description: z.string().max(2000).nullable().optional(),
    })
    .meta({
      examples: [
        {
          schema: {
            type: 'object',
            properties: { maxAttempts: { type: 'integer', minimum: 1, maximum: 10 } },
            required: ['maxAttempts'],
          },
          description: 'Retry settings',
        },
      ],
    }),
);

export const schemasQuery = z.object({ ...paging });

/** POST /tenants/{t}/schemas/{schemaId}/what-if: a candidate version, checked against history. */
export const schemaWhatIfBody = named(
  'SchemaWhatIfBody',
  z
    .strictObject({
      schema: z
        .union([z.record(z.string(), z.unknown()), z.boolean()])
        .describe('the candidate JSON Schema (draft 2020-12 unless its $schema says otherwise)'),
      configIds: z
        .array(z.string().min(1).max(100))
        .max(2000)
        .optional()
        .describe(
          'configurations that would be given the schema besides those naming it now (their ' +
            'whole history is checked too)',
        ),
      limit: z
        .number()
        .int()
        .min(0)
        .max(5000)
        .default(500)
        .describe('most failures listed (the counts are always complete)'),
    })
    .meta({
      examples: [
        {
          schema: {
            type: 'object',
            properties: { maxAttempts: { type: 'integer', minimum: 1, maximum: 5 } },
            required: ['maxAttempts'],
          },
        },
      ],
    }),
);
