/**
 * A tenant's config schemas: JSON Schema documents that configurations name (`schemaId`) so that
 * every value written to them is checked against the schema, not only against the type.
 */
import { Router } from 'express';
import type { Services } from '../../composition.js';
import { DomainError } from '../../domain/errors.js';
import { authorize } from '../auth.js';
import { commandContext, principalOf, sendCommandResult } from '../context.js';
import { parseInput } from '../problem.js';
import {
  defineSchemaBody,
  schemaId as schemaIdSchema,
  schemasQuery,
  tenantId as tenantIdSchema,
} from '../schemas.js';

export function configSchemaRoutes(s: Services): Router {
  const r = Router();
  const path = (req: { params: Record<string, unknown> }) => ({
    tenantId: parseInput(tenantIdSchema, req.params.tenantId, 'tenantId'),
    schemaId: parseInput(schemaIdSchema, req.params.schemaId, 'schemaId'),
  });

  r.put('/tenants/:tenantId/schemas/:schemaId', async (req, res) => {
    const { tenantId, schemaId } = path(req);
    authorize(principalOf(res), 'write', tenantId);
    const body = parseInput(defineSchemaBody, req.body);
    const result = await s.schemas.define(
      { tenantId, schemaId, ...body },
      commandContext(req, res),
    );
    const state = result.state;
    sendCommandResult(
      res,
      state.exists && state.version === 1 && result.position !== undefined ? 201 : 200,
      state.exists
        ? {
            tenantId,
            schemaId,
            version: state.version,
            schema: state.schema,
            description: state.description,
          }
        : {},
      result.position,
    );
  });

  r.get('/tenants/:tenantId/schemas', async (req, res) => {
    const tenantId = parseInput(tenantIdSchema, req.params.tenantId, 'tenantId');
    authorize(principalOf(res), 'read', tenantId);
    const q = parseInput(schemasQuery, req.query);
    await s.progress.waitIfAsked(req);
    res.json(await s.queries.schemas(tenantId, q.page, q.pageSize));
  });

  r.get('/tenants/:tenantId/schemas/:schemaId', async (req, res) => {
    const { tenantId, schemaId } = path(req);
    authorize(principalOf(res), 'read', tenantId);
    await s.progress.waitIfAsked(req);
    const found = await s.queries.schema(tenantId, schemaId);
    if (!found) throw new DomainError('not_found', `No schema '${schemaId}'`, 'schemaId');
    res.json(found);
  });

  return r;
}
