/**
 * Blame: who set the value a configuration serves (or any version of it), when, through which
 * change request, approvals and deployment; and which later attempts were rolled back.
 */
import { z } from 'zod';
import { ok, route } from '../../core/http/route.js';
import { HttpProblem } from '../../core/http/problem.js';
import { DomainError } from '../../core/domain-error.js';
import { configParams } from '../configs/configs.schemas.js';
import { environment, tenantId } from '../tenants/tenants.schemas.js';
import { configIdFor } from '../configs/config.decider.js';
import { BLAME_PROJECTION } from './blame.projection.js';
import { blameQuery, keyBlameQuery } from './blame.schemas.js';
import { configBlame } from './blame.view.js';
import type { Services } from '../../composition.js';

async function blameOf(
  s: Services,
  allow: (tenantId: string, environment?: string) => void,
  configId: string,
  version: number | undefined,
  field: string,
) {
  const c = await s.queries.blame.identity(configId);
  if (!c) throw new DomainError('not_found', `Configuration '${configId}' not found`, field);
  allow(c.tenantId, c.environment);
  const wanted = version ?? c.currentVersion;
  const blame = await s.queries.blame.version(c, wanted);
  if (!blame) {
    throw new HttpProblem(
      404,
      'Not found',
      `Configuration '${configId}' has no version ${wanted} (latest: ${c.currentVersion})`,
      { field: 'version' },
    );
  }
  const { sensitive: _sensitive, ...identity } = c;
  return ok({ ...identity, blame });
}

const description =
  'For the version served now (or `version`): the change that made it (who, when, IP, trace ' +
  'id), the change request with each approval and the content it approved, the deployment ' +
  'with each step, its bake times and error rates per step and side, and deployments from that ' +
  'version that did not complete (rollbacks with their reasons), and the app instances that ' +
  'acknowledged it (applied or rejected, when, still running or not). Sensitive values are masked.';

const configBlameRoute = route({
  operationId: 'getConfigBlame',
  method: 'get',
  path: '/api/v1/configs/:configId/blame',
  tag: 'Audit',
  summary: 'Who set this value, when, and through which change request and deployment',
  description,
  access: 'read',
  request: { params: configParams, query: blameQuery },
  rateLimit: 'configGet',
  readYourWrites: [BLAME_PROJECTION],
  responses: { 200: { description: 'The lineage of the version', schema: configBlame } },
  errors: [403, 404],
  handle: ({ params, query }, { s, allow }) =>
    blameOf(s, allow, params.configId, query.version, 'configId'),
});

const keyBlameRoute = route({
  operationId: 'getKeyBlame',
  method: 'get',
  path: '/api/v1/tenants/:tenantId/environments/:environment/blame',
  tag: 'Audit',
  summary: 'Blame of a key in an environment',
  description,
  access: 'read',
  request: { params: z.object({ tenantId, environment }), query: keyBlameQuery },
  rateLimit: 'configGet',
  readYourWrites: [BLAME_PROJECTION],
  responses: { 200: { description: 'The lineage of the version', schema: configBlame } },
  errors: [403, 404],
  handle: ({ params, query }, { s, allow }) => {
    allow(params.tenantId, params.environment);
    const configId = configIdFor(params.tenantId, params.environment, query.key);
    return blameOf(s, allow, configId, query.version, 'key');
  },
});

export const blameRoutes = [configBlameRoute, keyBlameRoute];
