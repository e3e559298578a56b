/**
 * Deployments: rollouts of a value, Direct or Canary. Reads come from the read tables; commands
 * go to the deployment commands with a guard that checks the caller's role on the config's tenant
 * and environment before anything is decided.
 */
import { route } from '../../core/http/route.js';
import { commandReply } from '../../core/http/request-context.js';
import { resourceReads } from '../../core/http/resource-access.js';
import { planOf, type DeploymentState } from './deployment.decider.js';
import {
  deployment,
  deploymentMetricsResult,
  deploymentOfState,
  deploymentResult,
} from './deployment.view.js';
import {
  deploymentBody,
  deploymentParams,
  deploymentsQuery,
  metricsBody,
  rollbackDeploymentBody,
} from './deployments.schemas.js';
import { deploymentEventRoutes } from './deployment-events.routes.js';

const reply = (result: { state: DeploymentState; position: bigint | undefined }) =>
  commandReply(200, deploymentOfState(result.state), result.position);

const changed = (description: string) => ({
  200: { description, schema: deploymentResult, headers: ['X-Event-Position'] as const },
});

const startDeployment = route({
  operationId: 'startDeployment',
  method: 'post',
  path: '/api/v1/deployments',
  tag: 'Deployments',
  summary: 'Deploy a value (Direct, or Canary in steps)',
  access: 'write',
  request: { body: deploymentBody },
  rateLimit: 'deployments',
  responses: {
    201: {
      description: 'Started',
      schema: deploymentResult,
      headers: ['Location', 'X-Event-Position'],
    },
  },
  errors: [403, 404, 409, 422],
  async handle({ body }, { s, guard, command }) {
    const { configId, value, expectedVersion, ...rollout } = body;
    const result = await s.deploymentCommands.startDeployment(
      { configId, value, expectedVersion, rollout: planOf(rollout) },
      command(),
      guard('Configuration', configId, 'configId'),
    );
    const view = deploymentOfState(result.state);
    const Location = `/api/v1/deployments/${view.deploymentId}`;
    return commandReply(201, view, result.position, { Location });
  },
});

/**
 * Apps (any role's token, or an API key with the report-metrics scope) report what they served;
 * too many canary errors roll back.
 */
const reportDeploymentMetrics = route({
  operationId: 'reportDeploymentMetrics',
  method: 'post',
  path: '/api/v1/deployments/:deploymentId/metrics',
  tag: 'Deployments',
  summary: 'Apps report requests and errors; too many canary errors roll back',
  access: 'report-metrics',
  apiKeys: true,
  request: { params: deploymentParams, body: metricsBody },
  responses: {
    200: {
      description: 'Recorded',
      schema: deploymentMetricsResult,
      headers: ['X-Event-Position'],
    },
  },
  errors: [403, 404, 409, 422],
  async handle({ params, body }, { s, guard, command }) {
    const id = params.deploymentId;
    const result = await s.deploymentCommands.reportMetrics(
      { deploymentId: id, ...body },
      command(),
      guard('Deployment', id, 'deploymentId'),
    );
    const view = { ...deploymentOfState(result.state), rolledBack: result.rolledBack };
    return commandReply(200, view, result.position);
  },
});

const [listDeployments, getDeployment] = resourceReads({
  path: '/api/v1/deployments',
  noun: ['deployment', 'deployments'],
  params: deploymentParams,
  query: deploymentsQuery,
  view: deployment,
  queries: (s) => s.queries.deployments,
});

const rollbackDeployment = route({
  operationId: 'rollbackDeployment',
  method: 'post',
  path: '/api/v1/deployments/:deploymentId/rollback',
  tag: 'Deployments',
  summary: 'Roll a deployment back',
  access: 'write',
  request: { params: deploymentParams, body: rollbackDeploymentBody },
  rateLimit: 'deployments',
  responses: changed('Rolled back'),
  errors: [403, 404, 409],
  async handle({ params, body }, { s, guard, command }) {
    const id = params.deploymentId;
    const g = guard('Deployment', id, 'deploymentId');
    return reply(await s.deploymentCommands.rollback(id, body.reason, command(), g));
  },
});

/** pause, resume and promote: no body, the same answer. */
function step(action: 'pause' | 'resume' | 'promote', summary: string) {
  return route({
    operationId: `${action}Deployment`,
    method: 'post',
    path: `/api/v1/deployments/:deploymentId/${action}`,
    tag: 'Deployments',
    summary,
    access: 'write',
    request: { params: deploymentParams },
    rateLimit: 'deployments',
    responses: changed('Done'),
    errors: [403, 404, 409],
    async handle({ params }, { s, guard, command }) {
      const id = params.deploymentId;
      const g = guard('Deployment', id, 'deploymentId');
      return reply(await s.deploymentCommands[action](id, command(), g));
    },
  });
}

export const deploymentRoutes = [
  startDeployment,
  listDeployments,
  getDeployment,
  reportDeploymentMetrics,
  rollbackDeployment,
  step('pause', 'Pause a canary'),
  step('resume', 'Resume a paused canary'),
  step('promote', 'Promote a canary to 100 % now'),
  ...deploymentEventRoutes,
];
