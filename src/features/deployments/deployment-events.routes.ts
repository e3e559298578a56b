/**
 * Deployments followed live: one deployment, or a tenant's running ones, as server-sent events
 * (`Accept: text/event-stream`) fed by the projector's announcements (deployment-feed.ts), each
 * `snapshot` read from the read table as a GET would answer it. Without that Accept header
 * they answer the same body once, as JSON.
 */
import { z } from 'zod';
import { HttpProblem } from '../../core/http/problem.js';
import { ANSWERED, named, ok, route, type RouteContext } from '../../core/http/route.js';
import {
  limitedEnvironments,
  notFoundError,
  readableRow,
} from '../../core/http/resource-access.js';
import { tenantParams } from '../tenants/tenants.schemas.js';
import { deployment } from './deployment.view.js';
import type { DeploymentFeed } from './deployment-feed.js';
import { deploymentParams } from './deployments.schemas.js';

const streamHeaders = z.object({
  'Last-Event-ID': z
    .string()
    .max(100)
    .optional()
    .describe('the id of the last snapshot you have: it is not sent again if it is still current'),
});

export const runningDeployments = named(
  'RunningDeployments',
  z.strictObject({
    tenantId: z.string(),
    items: z.array(deployment).describe('in progress or paused, newest first (at most 100)'),
  }),
);

const DESCRIPTION =
  'With `Accept: text/event-stream`: a `snapshot` event now (unless `Last-Event-ID` names the ' +
  'current one) and after every change the read model records, each `id` a hash of its data; ' +
  '`expired` just before the stream ends with the token. Without it: the same body once.';

const wantsStream = (ctx: RouteContext) =>
  (ctx.req.headers.accept ?? '').includes('text/event-stream');

/** Streams `read` when asked to (and there is room), else answers it once. */
async function answer<T>(
  ctx: RouteContext,
  what: { deploymentId: string } | { tenantId: string },
  read: () => Promise<T>,
  lastEventId: string | undefined,
) {
  const first = await read(); // 404s and 403s before any stream starts
  if (!wantsStream(ctx)) return ok(first);
  const feed: DeploymentFeed = ctx.s.deploymentFeed;
  if (feed.open >= ctx.s.settings.maxWatchers) {
    throw new HttpProblem(
      503,
      'Too many watchers',
      `This instance follows ${feed.open} streams already (ConfigService__MaxWatchers)`,
      { retryAfter: 5 },
    );
  }
  feed.stream(ctx.res, what, read, { lastEventId, expiresAt: ctx.principal.expiresAt });
  return ANSWERED;
}

const followDeployment = route({
  operationId: 'followDeployment',
  method: 'get',
  path: '/api/v1/deployments/:deploymentId/events',
  tag: 'Deployments',
  summary: 'Follow a deployment live (server-sent events)',
  description: DESCRIPTION,
  access: 'read',
  request: { params: deploymentParams, headers: streamHeaders },
  readYourWrites: ['read-model'],
  live: true,
  responses: {
    200: { description: 'The deployment, now and after each change', schema: deployment },
  },
  errors: [403, 404],
  handle({ params, headers }, ctx) {
    const id = params.deploymentId;
    const read = () =>
      readableRow(
        ctx.res,
        () => ctx.s.queries.deployments.find(id),
        (row) => row.environment,
        notFoundError('Deployment', id, 'deploymentId'),
      );
    return answer(ctx, { deploymentId: id }, read, headers['Last-Event-ID']);
  },
});

const followTenantDeployments = route({
  operationId: 'followTenantDeployments',
  method: 'get',
  path: '/api/v1/tenants/:tenantId/deployments/events',
  tag: 'Deployments',
  summary: "Follow a tenant's running deployments live (server-sent events)",
  description: DESCRIPTION,
  access: 'read',
  request: { params: tenantParams, headers: streamHeaders },
  readYourWrites: ['read-model'],
  live: true,
  responses: {
    200: {
      description: 'Its running deployments, now and after each change',
      schema: runningDeployments,
    },
  },
  errors: [403, 404],
  async handle({ params, headers }, ctx) {
    const { tenantId } = params;
    ctx.allow(tenantId);
    if (!(await ctx.s.queries.tenants.tenant(tenantId))) {
      throw notFoundError('Tenant', tenantId, 'tenantId')();
    }
    const environments = limitedEnvironments(ctx.res, tenantId);
    const read = async () => ({
      tenantId,
      items: await ctx.s.queries.deployments.running(tenantId, environments),
    });
    return answer(ctx, { tenantId }, read, headers['Last-Event-ID']);
  },
});

export const deploymentEventRoutes = [followDeployment, followTenantDeployments];
