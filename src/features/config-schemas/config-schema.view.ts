/**
 * What the API shows of a config schema: one view, from the read table (queries, with how many
 * live configurations name it) or from the state a define left (its answer).
 */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { int, page, position, recordedTime, recordedUser } from '../../core/http/common.schemas.js';
import { iso } from '../../core/postgres/paging.js';
import type { SchemaState } from './config-schema.decider.js';

export const configSchema = named(
  'ConfigSchema',
  z.strictObject({
    tenantId: z.string(),
    schemaId: z.string(),
    version: int,
    schema: z
      .union([z.record(z.string(), z.unknown()), z.boolean()])
      .describe('the JSON Schema document'),
    description: z.string().nullable(),
    usedBy: int.nullable().describe("live configurations naming it (null in a command's answer)"),
    updatedBy: recordedUser,
    updatedAt: recordedTime,
  }),
);
export type ConfigSchemaView = z.infer<typeof configSchema>;

export const configSchemaResult = named(
  'ConfigSchemaResult',
  configSchema
    .extend({ position })
    .describe('The schema after the command, and the event position'),
);

export const configSchemaPage = named(
  'ConfigSchemaPage',
  page(configSchema, "a tenant's config schemas"),
);

/* eslint-disable @typescript-eslint/no-explicit-any */
export const configSchemaOfRow = (r: any): ConfigSchemaView => ({
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

export function configSchemaOfState(state: SchemaState): ConfigSchemaView {
  if (!state.exists) throw new Error('a command answered with no config schema');
  const { tenantId, schemaId, version, schema, description } = state;
  return { tenantId, schemaId, version, schema, description, ...NOT_IN_STATE };
}

/** Read-side fields a command's state does not hold. */
const NOT_IN_STATE = { usedBy: null, updatedBy: null, updatedAt: null };
