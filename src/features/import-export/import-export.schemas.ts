/** Request schemas of export and import. */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { environment, tenantId } from '../tenants/tenants.schemas.js';
import { FORMATS } from './config-formats.js';

export const environmentParams = z.object({ tenantId, environment });

const format = z
  .enum(FORMATS)
  .describe('json, yaml, env (.env) or properties (Java .properties)')
  .meta({ examples: ['yaml'] });

export const exportQuery = z.object({
  format: format.default('json'),
  tag: z.string().min(1).max(100).optional().describe('only keys with this tag'),
});

export const importBody = named(
  'ImportBody',
  z
    .strictObject({
      format,
      content: z.string().max(1_000_000).describe("the file's text, as an export writes it"),
      dryRun: z
        .boolean()
        .default(false)
        .describe('show what would be created, updated or left unchanged; write nothing'),
      description: z.string().max(2000).nullable().optional(),
    })
    .meta({
      examples: [
        {
          format: 'env',
          content: '# @type Integer\nhttp.timeout=30\nfeature.banner="Welcome back"\n',
          dryRun: true,
        },
      ],
    }),
);

/** The options of a file sent as the raw body (JSON bodies carry them as fields). */
export const importQuery = z.object({
  // No example: Swagger UI would send it with the JSON form, making its body the file.
  format: z
    .enum(FORMATS)
    .optional()
    .describe(
      'raw bodies: json, yaml, env or properties; by default from Content-Type (application/json, ' +
        'application/yaml or text/yaml; text/plain is env). Required with application/octet-stream, ' +
        'and with application/json to send the file itself',
    ),
  dryRun: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => v === 'true')
    .describe('raw bodies: show what would change; write nothing'),
  description: z.string().max(2000).optional().describe('raw bodies: the change set description'),
});

export const RAW_MEDIA_TYPES = {
  'application/json': 'the JSON file itself (with ?format=json)',
  'application/yaml': 'a YAML file',
  'text/yaml': 'a YAML file',
  'text/plain': 'a .env file (or .properties with ?format=properties), read line by line',
  'application/octet-stream': 'a file of the ?format= given',
} as const;

export const importProgress = named(
  'ImportProgress',
  z
    .object({
      phase: z.enum(['parsing', 'validating', 'planning', 'applying']),
      bytes: z.number().int().optional().describe('parsing: bytes read so far'),
      lines: z.number().int().optional().describe('parsing: lines read so far'),
      done: z.boolean().optional().describe('parsing: the whole file is read'),
      keys: z
        .number()
        .int()
        .optional()
        .describe('validating: keys checked; planning/applying: keys in the file'),
      of: z.number().int().optional().describe('validating: keys in the file'),
    })
    .describe('A progress line (Accept: application/x-ndjson)'),
);
