/**
 * Whole-tenant time travel: every environment and key of a tenant as of a time or a position, the
 * difference between two points, and restoring an environment to a point.
 */
import { z } from 'zod';
import { ok, route } from '../../core/http/route.js';
import { DomainError } from '../../core/domain-error.js';
import { tenantId } from '../tenants/tenants.schemas.js';
import type { Services } from '../../composition.js';
import { TENANT_HISTORY_PROJECTION } from './time-travel.projection.js';
import { asOfQuery, diffQuery, restoreBody } from './time-travel.schemas.js';
import { TimeTravelCommands } from './time-travel.commands.js';
import { commandReply } from '../../core/http/request-context.js';
import { environment } from '../tenants/tenants.schemas.js';
import { masked } from '../configs/config.view.js';
import { restoreResult, tenantAsOf, tenantDiff } from './time-travel.view.js';

type Allow = (tenantId: string, environment?: string) => void;

/** The environments this caller may read (a token can be limited to some). */
const readable = (allow: Allow, t: string) => (env: string) => {
  try {
    allow(t, env);
    return true;
  } catch {
    return false;
  }
};

async function knownTenant(s: Services, t: string) {
  if (!(await s.queries.timeTravel.known(t))) {
    throw new DomainError('not_found', `Tenant '${t}' has no configuration history`, 'tenantId');
  }
}

/** A time or a position → the tenant's position then (a time: its last change decided by then). */
async function positionOf(s: Services, t: string, point: string | undefined): Promise<bigint> {
  if (point === undefined) return s.queries.timeTravel.head(t);
  if (/^\d+$/.test(point)) return BigInt(point);
  return s.queries.timeTravel.positionAt(t, new Date(point));
}

const getTenantAsOf = route({
  operationId: 'getTenantAsOf',
  method: 'get',
  path: '/api/v1/tenants/:tenantId/as-of',
  tag: 'Replay',
  summary: 'A whole tenant (every environment and key) as of a time or a position',
  description:
    'From snapshots of the tenant (a projection) plus the changes after the nearest one: fast ' +
    'on long histories, with no retention limit. A time means the tenant’s changes decided at ' +
    'or before it. Values of sensitive configurations are masked; environments the token may ' +
    'not read are left out.',
  access: 'read',
  request: { params: z.object({ tenantId }), query: asOfQuery },
  rateLimit: 'configGet',
  readYourWrites: [TENANT_HISTORY_PROJECTION],
  responses: { 200: { description: 'The tenant then', schema: tenantAsOf } },
  errors: [403, 404],
  async handle({ params, query }, { s, allow }) {
    allow(params.tenantId);
    await knownTenant(s, params.tenantId);
    const position = await positionOf(s, params.tenantId, query.position ?? query.at);
    const environments = await s.queries.timeTravel.tenantAt(params.tenantId, position, {
      environments: readable(allow, params.tenantId),
    });
    return ok({
      tenantId: params.tenantId,
      asOf: {
        ...(query.at ? { at: query.at } : {}),
        ...(query.position ? { position: query.position } : {}),
      },
      position: position.toString(),
      environments,
    });
  },
});

const getTenantDiff = route({
  operationId: 'getTenantDiff',
  method: 'get',
  path: '/api/v1/tenants/:tenantId/diff',
  tag: 'Replay',
  summary: "What changed in a tenant's configuration between two points",
  description:
    'Each key added, removed or changed (version and value before and after) in every ' +
    'environment the token may read, between two times or positions (`to` none: now).',
  access: 'read',
  request: { params: z.object({ tenantId }), query: diffQuery },
  rateLimit: 'configGet',
  readYourWrites: [TENANT_HISTORY_PROJECTION],
  responses: { 200: { description: 'The differences', schema: tenantDiff } },
  errors: [403, 404],
  async handle({ params, query }, { s, allow }) {
    allow(params.tenantId);
    await knownTenant(s, params.tenantId);
    const [from, to] = await Promise.all([
      positionOf(s, params.tenantId, query.from),
      positionOf(s, params.tenantId, query.to),
    ]);
    const changes = await s.queries.timeTravel.diff(
      params.tenantId,
      from,
      to,
      readable(allow, params.tenantId),
    );
    return ok({
      tenantId: params.tenantId,
      from: { point: query.from, position: from.toString() },
      to: { point: query.to ?? null, position: to.toString() },
      changes,
    });
  },
});

const restoreEnvironment = route({
  operationId: 'restoreEnvironment',
  method: 'post',
  path: '/api/v1/tenants/:tenantId/environments/:environment/restore',
  tag: 'Replay',
  summary: 'Restore an environment to a time or a position',
  description:
    'Sets every key of the environment back to its value then: changed keys are updated, keys ' +
    'added since are deleted, keys deleted since come back. One audited change set (one ' +
    'correlation id); where the environment needs approval, one change request per key ' +
    '(Direct rollout) instead of direct writes. Not atomic across keys.',
  access: 'write',
  request: { params: z.object({ tenantId, environment }), body: restoreBody },
  rateLimit: 'configCreate',
  readYourWrites: [TENANT_HISTORY_PROJECTION],
  responses: { 200: { description: 'What the restore did', schema: restoreResult } },
  errors: [403, 404, 409, 422],
  async handle({ params, body }, { s, allow, command }) {
    allow(params.tenantId, params.environment);
    await knownTenant(s, params.tenantId);
    const position = await positionOf(s, params.tenantId, body.position ?? body.at);
    const commands = new TimeTravelCommands(
      s.store,
      s.queries.timeTravel,
      s.configCommands,
      s.changeRequestCommands,
    );
    const result = await commands.restore(
      { ...params, position, description: body.description },
      command(),
    );
    const sensitive = await s.queries.timeTravel.sensitiveIds(params.tenantId);
    return commandReply(
      200,
      {
        tenantId: params.tenantId,
        environment: params.environment,
        mode: result.mode,
        correlationId: result.correlationId,
        restoredTo: result.restoredTo.toString(),
        steps: result.steps.map((x) => ({
          ...x,
          value: masked(x.value, sensitive.has(x.configId)),
        })),
      },
      result.position,
    );
  },
});

export const timeTravelRoutes = [getTenantAsOf, getTenantDiff, restoreEnvironment];
