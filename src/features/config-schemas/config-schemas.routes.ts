/**
 * A tenant's config schemas: JSON Schema documents that configurations name (`schemaId`) so that
 * every value written to them is checked against the schema, not only against the type.
 */
import { z } from 'zod';
import { ok, route } from '../../core/http/route.js';
import { DomainError } from '../../core/domain-error.js';
import { commandReply } from '../../core/http/request-context.js';
import {
  defineSchemaBody,
  schemaId,
  schemasQuery,
  schemaWhatIfBody,
} from './config-schemas.schemas.js';
import { configsNaming, historiesOf } from './schema-what-if.queries.js';
import { evaluateWhatIf } from './schema-what-if.js';
import { schemaWhatIfReport } from './schema-what-if.view.js';
import { validatorOf } from './schema-registry.js';
import {
  configSchema,
  configSchemaOfState,
  configSchemaPage,
  configSchemaResult,
} from './config-schema.view.js';
import { tenantId, tenantParams } from '../tenants/tenants.schemas.js';

const schemaParams = z.object({ tenantId, schemaId });

const defineConfigSchema = route({
  operationId: 'defineConfigSchema',
  method: 'put',
  path: '/api/v1/tenants/:tenantId/schemas/:schemaId',
  tag: 'Configurations',
  summary: 'Define a config schema, or its next version',
  description:
    'A JSON Schema (draft 2020-12) that configurations name in `schemaId`: every value written ' +
    'to them (create, update, rollback, restore, deployment, change request) must match the ' +
    'newest version, as its typed value. 201 for the first version, 200 after; 409 naming ' +
    '`schema` (with `violations`) when a live configuration using it would not match.',
  access: 'write',
  request: { params: schemaParams, body: defineSchemaBody },
  responses: {
    200: {
      description: 'A new version, or unchanged (position null)',
      schema: configSchemaResult,
      headers: ['X-Event-Position'],
    },
    201: {
      description: 'The first version',
      schema: configSchemaResult,
      headers: ['X-Event-Position'],
    },
  },
  errors: [403, 404, 409, 422],
  async handle({ params, body }, { s, allow, command }) {
    allow(params.tenantId);
    const result = await s.schemas.define({ ...params, ...body }, command());
    const view = configSchemaOfState(result.state);
    const first = view.version === 1 && result.position !== undefined;
    return first
      ? commandReply(201, view, result.position)
      : commandReply(200, view, result.position);
  },
});

const listConfigSchemas = route({
  operationId: 'listConfigSchemas',
  method: 'get',
  path: '/api/v1/tenants/:tenantId/schemas',
  tag: 'Configurations',
  summary: "A tenant's config schemas (paged)",
  access: 'read',
  request: { params: tenantParams, query: schemasQuery },
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'A page', schema: configSchemaPage } },
  errors: [403, 404],
  async handle({ params, query }, { s, allow }) {
    allow(params.tenantId);
    const page = await s.queries.schemas.schemas(params.tenantId, query.page, query.pageSize);
    return ok(page);
  },
});

const getConfigSchema = route({
  operationId: 'getConfigSchema',
  method: 'get',
  path: '/api/v1/tenants/:tenantId/schemas/:schemaId',
  tag: 'Configurations',
  summary: 'One config schema',
  access: 'read',
  request: { params: schemaParams },
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'The schema', schema: configSchema } },
  errors: [403, 404],
  async handle({ params }, { s, allow }) {
    allow(params.tenantId);
    const found = await s.queries.schemas.schema(params.tenantId, params.schemaId);
    if (!found) throw new DomainError('not_found', `No schema '${params.schemaId}'`, 'schemaId');
    return ok(found);
  },
});

const whatIfConfigSchema = route({
  operationId: 'whatIfConfigSchema',
  method: 'post',
  path: '/api/v1/tenants/:tenantId/schemas/:schemaId/what-if',
  tag: 'Configurations',
  summary: 'Dry run: which historical values would a candidate schema version refuse?',
  description:
    'Replays every recorded value of the configurations that would use the schema (those ' +
    "naming it now, deleted ones too, and `configIds`): each version's value, its default, and " +
    "each deployment's value, checked against the candidate document. Answers which versions " +
    'would have failed and why (JSON pointer and message per failure, counts per configuration ' +
    'and in all), and whether defining it now would be refused. Writes nothing; values are never ' +
    'shown. 422 naming `schema` when the document is not a usable JSON Schema, naming ' +
    '`configIds.i` for an id that is not a configuration of the tenant.',
  access: 'write',
  request: { params: schemaParams, body: schemaWhatIfBody },
  readYourWrites: ['read-model'],
  rateLimit: 'configCreate',
  responses: { 200: { description: 'The report', schema: schemaWhatIfReport } },
  errors: [403, 404, 422],
  async handle({ params, body }, { s, allow }) {
    allow(params.tenantId);
    if (!(await s.queries.tenants.tenant(params.tenantId))) {
      throw new DomainError('not_found', `Tenant '${params.tenantId}' not found`, 'tenantId');
    }
    const validate = validatorOf(body.schema);
    const naming = await configsNaming(s.pool, params.tenantId, params.schemaId);
    const items = naming.map((configId) => ({ configId, field: 'schemaId' }));
    const seen = new Set(naming);
    (body.configIds ?? []).forEach((configId, i) => {
      if (seen.has(configId)) return;
      seen.add(configId);
      items.push({ configId, field: `configIds.${i}` });
    });
    // Replay: the one kind of query allowed to read the event store.
    const histories = await historiesOf(s.commandStore, params.tenantId, items);
    const current = await s.queries.schemas.schema(params.tenantId, params.schemaId);
    return ok({
      tenantId: params.tenantId,
      schemaId: params.schemaId,
      currentVersion: current?.version ?? null,
      ...evaluateWhatIf(validate, histories, body.limit),
    });
  },
});

export const configSchemaRoutes = [
  defineConfigSchema,
  listConfigSchemas,
  getConfigSchema,
  whatIfConfigSchema,
];
