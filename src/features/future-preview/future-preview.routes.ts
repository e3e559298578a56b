/**
 * Future preview: an environment at a future time with what is waiting applied (scheduled
 * changes, pending change requests as if approved). Reads the read tables only.
 */
import { z } from 'zod';
import { ok, route } from '../../core/http/route.js';
import { DomainError } from '../../core/domain-error.js';
import { environment, tenantId } from '../tenants/tenants.schemas.js';
import { previewQuery } from './future-preview.schemas.js';
import { environmentPreview } from './future-preview.view.js';
import { previewEnvironment } from './future-preview.js';
import { FuturePreviewQueries } from './future-preview.queries.js';

const previewEnvironmentRoute = route({
  operationId: 'previewEnvironment',
  method: 'get',
  path: '/api/v1/tenants/:tenantId/environments/:environment/preview',
  tag: 'Configurations',
  summary: 'An environment at a future time, with its scheduled changes and pending requests',
  description:
    'The environment as it would be at `at` if what is waiting goes through: each pending ' +
    'scheduled change at its time, each pending change request as if approved (at its ' +
    '`applyAt` when it has one, else now). Applied in time order with the rule each command ' +
    'applies (a change made against a version the key has left is stale and fails), and listed: ' +
    'what applied, in order; what would fail and why; how many come later. Writes nothing; ' +
    'sensitive values are masked. 400 naming `at` for a time that is not in the future.',
  access: 'read',
  request: { params: z.object({ tenantId, environment }), query: previewQuery },
  rateLimit: 'configGet',
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'The environment then', schema: environmentPreview } },
  errors: [403, 404],
  async handle({ params, query }, { s, allow }) {
    allow(params.tenantId, params.environment);
    const tenant = await s.queries.tenants.tenant(params.tenantId);
    if (!tenant) {
      throw new DomainError('not_found', `Tenant '${params.tenantId}' not found`, 'tenantId');
    }
    const env = await s.queries.environments.resolve(params.tenantId, params.environment);
    allow(params.tenantId, env);
    const required = tenant.approvalPolicy[env] ?? 0;
    // Built per request: a two-query reader over the pool, nothing to share.
    const queries = new FuturePreviewQueries(s.pool);
    const [current, pending] = await Promise.all([
      queries.current(params.tenantId, env),
      queries.pending(params.tenantId, env),
    ]);
    const now = new Date();
    const at = new Date(query.at);
    return ok({
      tenantId: params.tenantId,
      environment: env,
      at: at.toISOString(),
      now: now.toISOString(),
      ...previewEnvironment(current, pending, {
        at,
        now,
        directWritesBlocked:
          required > 0
            ? `${env} takes changes through change requests only (${required} approval(s)): a direct scheduled change fails`
            : null,
      }),
    });
  },
});

export const futurePreviewRoutes = [previewEnvironmentRoute];
