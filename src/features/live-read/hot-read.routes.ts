/**
 * The apps' hot read routes. hot-read.handler.ts answers them before Express (no zod on that
 * path: a hit must stay a few Map lookups); they are declared here like every other route, so
 * that the document lists them and the e2e suite checks their answers against these schemas.
 * Their paths are also their labels in http_requests_total.
 */
import { z } from 'zod';
import { route } from '../../core/http/route.js';
import { environment, tenantId } from '../tenants/tenants.schemas.js';
import { REDIS_CACHE_PROJECTION } from './redis-cache.projection.js';
import {
  HOT_READ_LIMIT,
  configValue,
  environmentConfigs,
  hotReadHeaders,
  hotReadQuery,
  hotKey,
} from './hot-read.schemas.js';

const DESCRIPTION =
  'The hot read path: answered from memory, then Redis, then PostgreSQL. HEAD works too. ' +
  'Follows changes live with `?wait=` (long poll) or `Accept: text/event-stream`. The ' +
  "environment is matched without regard to case against the tenant's declared ones and " +
  'answered under its declared name; an undeclared one is 404 listing `declaredEnvironments`.';

/** A hot read route: answered before Express, listed here for the document and the checks. */
const hotRoute = <const P extends z.ZodObject, const V extends z.ZodType>(spec: {
  operationId: string;
  path: string;
  summary: string;
  params: P;
  answer: [description: string, schema: V];
}) =>
  route({
    operationId: spec.operationId,
    method: 'get',
    path: spec.path,
    tag: 'App reads',
    summary: spec.summary,
    description: DESCRIPTION,
    access: 'read',
    apiKeys: true,
    request: { params: spec.params, query: hotReadQuery, headers: hotReadHeaders },
    rateLimit: HOT_READ_LIMIT,
    readYourWrites: ['read-model', REDIS_CACHE_PROJECTION],
    live: true,
    responses: {
      200: { description: spec.answer[0], schema: spec.answer[1], headers: ['ETag'] },
      304: { description: 'Not modified (If-None-Match)', headers: ['ETag'] },
    },
    errors: [400, 403, 404],
  });

export const getEnvironmentConfigs = hotRoute({
  operationId: 'getEnvironmentConfigs',
  path: '/api/v1/tenants/:tenantId/environments/:environment/configs',
  summary: 'Apps: the whole environment as one object',
  params: z.object({ tenantId, environment }),
  answer: ['The environment', environmentConfigs],
});

export const getConfigValue = hotRoute({
  operationId: 'getConfigValue',
  path: '/api/v1/tenants/:tenantId/environments/:environment/configs/:key',
  summary: 'Apps: one key',
  params: z.object({ tenantId, environment, key: hotKey }),
  answer: ['The key', configValue],
});

export const hotReadRoutes = [getEnvironmentConfigs, getConfigValue];

/** The hot read routes' labels in http_requests_total, by the handler's route kinds. */
export const HOT_ROUTE_LABELS = {
  key: getConfigValue.path,
  environment: getEnvironmentConfigs.path,
} as const;
