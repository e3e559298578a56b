/**
 * Replay endpoints: a configuration's recorded events, and a configuration or an environment as
 * it was at a time, a global position or a version. The only routes that read the event store
 * (replay.queries.ts); everything else answers from the read tables.
 */
import { resolveEnvironment } from '../environments/environment-set.js';
import { z } from 'zod';
import { ok, route, type RouteContext } from '../../core/http/route.js';
import { DomainError } from '../../core/domain-error.js';
import { authorizeOrHide } from '../../core/auth/auth.js';
import { HttpProblem } from '../../core/http/problem.js';
import { notFoundError } from '../../core/http/resource-access.js';
import type { Cut } from './replay.queries.js';
import {
  configEventsQuery,
  configReplayQuery,
  configurationAsOf,
  configurationEventPage,
  environmentAsOf,
  environmentReplayQuery,
} from './replay.schemas.js';
import { configParams } from '../configs/configs.schemas.js';
import { environment, tenantId } from '../tenants/tenants.schemas.js';

/** The cut a query names, and how the answer states it. */
function cutOf(q: { at?: string; position?: string; version?: number }): {
  cut: Cut;
  asOf: Record<string, string | number>;
  field: string | undefined;
} {
  if (q.at !== undefined) {
    const at = new Date(q.at);
    return { cut: { at }, asOf: { at: at.toISOString() }, field: 'at' };
  }
  if (q.position !== undefined) {
    return {
      cut: { position: BigInt(q.position) },
      asOf: { position: q.position },
      field: 'position',
    };
  }
  if (q.version !== undefined) {
    return { cut: { version: q.version }, asOf: { version: q.version }, field: 'version' };
  }
  return { cut: {}, asOf: {}, field: undefined };
}

/** A config's stream, for a caller who may read the config; otherwise 404. */
async function readableStream({ s, principal }: RouteContext, configId: string) {
  const hidden = notFoundError('Configuration', configId, 'configId');
  const stream = await s.replay.configStream(configId);
  if (!stream) throw hidden();
  const { tenantId, environment } = stream.state;
  authorizeOrHide(principal, 'read', tenantId, environment, hidden);
  return stream;
}

const listConfigurationEvents = route({
  operationId: 'listConfigurationEvents',
  method: 'get',
  path: '/api/v1/configs/:configId/events',
  tag: 'Replay',
  summary: "A configuration's recorded events, oldest first",
  description:
    'Read from the event store, not the read tables: every event of the configuration with ' +
    'its metadata (user, IP, trace, correlation and causation ids, time). Values of sensitive ' +
    'configurations are masked.',
  access: 'read',
  request: { params: configParams, query: configEventsQuery },
  rateLimit: 'configGet',
  responses: { 200: { description: 'A page of events', schema: configurationEventPage } },
  errors: [403, 404],
  async handle({ params, query }, ctx) {
    const stream = await readableStream(ctx, params.configId);
    return ok(ctx.s.replay.events(stream, query.fromRevision, query.limit));
  },
});

const replayConfiguration = route({
  operationId: 'replayConfiguration',
  method: 'get',
  path: '/api/v1/configs/:configId/replay',
  tag: 'Replay',
  summary: 'A configuration as it was at a time, a position or a version',
  description:
    "Folds the configuration's events up to the point given (none: now). 404 naming the field " +
    'when it did not exist yet. Values of sensitive configurations are masked.',
  access: 'read',
  request: { params: configParams, query: configReplayQuery },
  rateLimit: 'configGet',
  responses: { 200: { description: 'The configuration then', schema: configurationAsOf } },
  errors: [403, 404],
  async handle({ params, query }, ctx) {
    const configId = params.configId;
    const stream = await readableStream(ctx, configId);
    const { cut, asOf, field } = cutOf(query);
    if (query.version !== undefined && query.version > stream.state.version) {
      throw new HttpProblem(
        404,
        'Not found',
        `Configuration '${configId}' has no version ${query.version} (latest: ${stream.state.version})`,
        { field: 'version' },
      );
    }
    const found = ctx.s.replay.configAt(stream, cut);
    if (!found) {
      throw new HttpProblem(
        404,
        'Not found',
        `Configuration '${configId}' did not exist yet at that point`,
        { field },
      );
    }
    return ok({ asOf, ...found });
  },
});

const replayEnvironment = route({
  operationId: 'replayEnvironment',
  method: 'get',
  path: '/api/v1/tenants/:tenantId/environments/:environment/replay',
  tag: 'Replay',
  summary: 'An environment as apps were served it at a time or a position',
  description:
    'Every configuration the tenant ever had in the environment, each folded from its own ' +
    'events up to the point given (none: now). Stable values (a canary running then is not ' +
    'shown); sensitive values masked.',
  access: 'read',
  request: { params: z.object({ tenantId, environment }), query: environmentReplayQuery },
  rateLimit: 'configGet',
  responses: { 200: { description: 'The environment then', schema: environmentAsOf } },
  errors: [403, 404],
  async handle({ params, query }, { s, allow }) {
    allow(params.tenantId, params.environment);
    const { cut, asOf, field } = cutOf(query);
    // History: a declared environment under its declared spelling (any case); one since
    // renamed or removed as named, so its past stays readable.
    const declared = resolveEnvironment(
      await s.queries.environments.names(params.tenantId),
      params.environment,
    );
    const environment = declared ?? params.environment;
    const found = await s.replay.environmentAt(params.tenantId, environment, cut);
    if (!found) {
      throw new DomainError('not_found', `Tenant '${params.tenantId}' not found`, 'tenantId');
    }
    if (found === 'not-yet') {
      const detail = `Tenant '${params.tenantId}' did not exist yet at that point`;
      throw new HttpProblem(404, 'Not found', detail, { field });
    }
    return ok({ asOf, ...found });
  },
});

export const replayRoutes = [listConfigurationEvents, replayConfiguration, replayEnvironment];
