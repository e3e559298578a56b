/**
 * Apps report which values they applied or rejected (any app: the client does it by itself),
 * and anyone who may read a configuration sees which instances run which version of it.
 */
import { ok, route } from '../../core/http/route.js';
import { notFound } from '../../core/commands/command-handling.js';
import { configParams } from '../configs/configs.schemas.js';
import { acknowledgementParams, acknowledgementReport } from './acknowledgements.schemas.js';
import { acknowledgementResult, configInstances } from './acknowledgements.view.js';

const reportAcknowledgements = route({
  operationId: 'reportAcknowledgements',
  method: 'post',
  path: '/api/v1/tenants/:tenantId/environments/:environment/acknowledgements',
  tag: 'App reads',
  summary: 'Apps: report the values an instance applied or rejected (empty: a heartbeat)',
  description:
    'One report per instance carries what changed since its last one (one entry per key; ' +
    "the version from the environment's `versions`, and the `deployments` entry when a canary " +
    'runs on the key). An instance counts as running its newest report for as long as it ' +
    'reports within ConfigService__Acknowledgements__InstanceTtl. Reports of a canary’s canary ' +
    'side can move a step held for them, or roll the canary back when the rejection rate ' +
    'passes its error threshold. Needs the `report-metrics` capability (every role; API keys ' +
    'with that scope); counts against the app reads limit.',
  access: 'report-metrics',
  apiKeys: true,
  request: { params: acknowledgementParams, body: acknowledgementReport },
  rateLimit: 'configGet',
  responses: { 200: { description: 'Recorded', schema: acknowledgementResult } },
  errors: [403, 404],
  async handle({ params, body }, { s, allow, command }) {
    allow(params.tenantId);
    const resolve = () => s.queries.environments.resolve(params.tenantId, params.environment);
    // As on the hot read path, a name is refused only once the read model has caught up.
    const environment = await resolve().catch(async () => {
      await s.progress.waitFor(await s.store.headPosition(), ['read-model']);
      return resolve();
    });
    allow(params.tenantId, environment);
    const recorded = await s.acknowledgements.record({
      tenantId: params.tenantId,
      environment,
      instanceId: body.instanceId,
      acknowledgements: body.acknowledgements,
    });
    // The decisions these reports may change; the step job decides again regardless, so a
    // decision that fails here (logged) is late, not lost.
    for (const c of recorded.canaries) {
      await s.deploymentCommands
        .acknowledged(c.deploymentId, c.configId, command())
        .catch((err: unknown) =>
          s.logger.warn({ err, deploymentId: c.deploymentId }, 'acknowledgements'),
        );
    }
    return ok({
      recorded: recorded.recorded,
      resend: recorded.resend,
      heartbeatSeconds: Math.max(1, Math.floor(s.acknowledgements.instanceTtlMs / 3000)),
    });
  },
});

const getConfigInstances = route({
  operationId: 'getConfigInstances',
  method: 'get',
  path: '/api/v1/configs/:configId/instances',
  tag: 'Configurations',
  summary: 'The app instances running this configuration, and which version each applied',
  access: 'read',
  request: { params: configParams },
  rateLimit: 'configGet',
  responses: { 200: { description: 'The live instances', schema: configInstances } },
  errors: [403, 404],
  async handle({ params }, { s, allow }) {
    const found = await s.queries.acknowledgements.instances(params.configId);
    if (!found) throw notFound('Configuration', params.configId, 'configId');
    allow(found.tenantId, found.environment);
    return ok(found);
  },
});

export const acknowledgementRoutes = [reportAcknowledgements, getConfigInstances];
