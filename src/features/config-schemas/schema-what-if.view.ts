/** What a schema what-if answers (schema-what-if.ts builds it; no value is ever shown). */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { int } from '../../core/http/common.schemas.js';

const schemaError = z.strictObject({
  path: z.string().describe("JSON pointer into the value ('/' for the value itself)"),
  message: z.string(),
});

const failure = z.strictObject({
  configId: z.string(),
  key: z.string(),
  environment: z.string(),
  version: int.describe('the configuration version (a deployment: the version it started from)'),
  field: z
    .enum(['value', 'defaultValue', 'deployment'])
    .describe("which value failed: the version's value, its default, or a deployment's value"),
  deploymentId: z.string().optional(),
  current: z
    .boolean()
    .describe(
      'a value in use now (current version, default, running deployment): it blocks the schema',
    ),
  schemaIdThen: z.string().nullable().describe('the schema the configuration named then'),
  position: z.string().describe('event position of the change that made the value'),
  timestamp: z.string().nullable().describe('when the change was decided'),
  userId: z.string().nullable(),
  errors: z.array(schemaError),
});

const configSummary = z.strictObject({
  configId: z.string(),
  key: z.string(),
  environment: z.string(),
  currentVersion: int,
  deleted: z.boolean(),
  versionsChecked: int,
  failedVersions: z.array(int),
});

export const schemaWhatIfReport = named(
  'SchemaWhatIfReport',
  z.strictObject({
    tenantId: z.string(),
    schemaId: z.string(),
    currentVersion: int.nullable().describe('the schema version the candidate would replace'),
    configs: z.array(configSummary),
    counts: z.strictObject({
      configs: int,
      versionsChecked: int,
      valuesChecked: int,
      failedValues: int,
      failedVersions: int,
      failedConfigs: int,
    }),
    wouldBeRefused: z
      .boolean()
      .describe('defining this version now would be refused (a value in use fails)'),
    failures: z.array(failure),
    truncated: z.boolean().describe('more failures than listed'),
  }),
);
