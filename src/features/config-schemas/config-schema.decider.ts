/**
 * Config schema aggregate (stream `schema-{tenantId}:{schemaId}`): a JSON Schema a tenant's
 * configurations can name (`schemaId`), so that every value written to them is checked against
 * it, not only against its type. Each change of the document is a new version.
 */
import { DomainError } from '../../core/domain-error.js';
import { canonicalJson } from '../configs/config-values.js';

export type SchemaEvent = {
  type: 'SchemaDefined';
  data: {
    tenantId: string;
    schemaId: string;
    version: number;
    /** The JSON Schema document (draft 2020-12 or earlier, as its `$schema` says). */
    schema: Record<string, unknown> | boolean;
    description: string | null;
  };
};

export type SchemaState =
  { exists: false } | ({ exists: true } & Extract<SchemaEvent, { type: 'SchemaDefined' }>['data']);

export const initialSchemaState = (): SchemaState => ({ exists: false });

export function evolveSchema(_state: SchemaState, event: SchemaEvent): SchemaState {
  return { exists: true, ...event.data };
}

export function decideDefineSchema(
  state: SchemaState,
  cmd: {
    tenantId: string;
    schemaId: string;
    schema: Record<string, unknown> | boolean;
    description?: string | null;
  },
): SchemaEvent[] {
  if (typeof cmd.schema !== 'boolean' && (typeof cmd.schema !== 'object' || cmd.schema === null)) {
    throw new DomainError('validation', 'schema must be a JSON Schema (an object)', 'schema');
  }
  const description =
    cmd.description === undefined ? (state.exists ? state.description : null) : cmd.description;
  if (
    state.exists &&
    canonicalJson(state.schema) === canonicalJson(cmd.schema) &&
    state.description === description
  ) {
    return [];
  }
  return [
    {
      type: 'SchemaDefined',
      data: {
        tenantId: cmd.tenantId,
        schemaId: cmd.schemaId,
        version: state.exists ? state.version + 1 : 1,
        schema: cmd.schema,
        description,
      },
    },
  ];
}

export type SchemaCommand = {
  type: 'DefineSchema';
  data: Parameters<typeof decideDefineSchema>[1];
};

export function decideSchema(command: SchemaCommand, state: SchemaState): SchemaEvent[] {
  switch (command.type) {
    case 'DefineSchema':
      return decideDefineSchema(state, command.data);
  }
}

export const schemaDecider = {
  initialState: initialSchemaState,
  evolve: evolveSchema,
  decide: decideSchema,
};
