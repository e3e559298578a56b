/**
 * A tenant's environments: tenant admins declare, rename and remove them (rename and remove only
 * while an environment holds no configuration). Every other route naming an environment takes
 * it in any case and answers under its declared name; an undeclared one is 404 on reads and
 * 400 on writes, naming the declared ones.
 */
import { ok, route } from '../../core/http/route.js';
import { commandReply } from '../../core/http/request-context.js';
import { HttpProblem } from '../../core/http/problem.js';
import { tenantParams } from '../tenants/tenants.schemas.js';
import { resolveEnvironment } from './environment-set.js';
import { environmentList, environmentResult, environmentsOfState } from './environment.view.js';
import {
  declareEnvironmentBody,
  environmentParams,
  renameEnvironmentBody,
} from './environments.schemas.js';

const PATH = '/api/v1/tenants/:tenantId/environments';

const changed = (description: string) => ({
  description,
  schema: environmentResult,
  headers: ['X-Event-Position'] as const,
});

const listEnvironments = route({
  operationId: 'listEnvironments',
  method: 'get',
  path: PATH,
  tag: 'Environments',
  summary: "A tenant's declared environments, with their configurations and approvals",
  access: 'read',
  request: { params: tenantParams },
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'The environments', schema: environmentList } },
  errors: [403, 404],
  async handle({ params }, { s, allow }) {
    allow(params.tenantId);
    const list = await s.queries.environments.list(params.tenantId);
    if (!list) {
      throw new HttpProblem(404, 'Not found', `Tenant '${params.tenantId}' not found`, {
        field: 'tenantId',
      });
    }
    return ok(list);
  },
});

const declareEnvironment = route({
  operationId: 'declareEnvironment',
  method: 'post',
  path: PATH,
  tag: 'Environments',
  summary: 'Declare an environment (counts against maxEnvironments)',
  description:
    'Names are compared without regard to case: declaring `qa` where `QA` exists is 409. ' +
    "Beyond the tenant's maxEnvironments: 409 quota_exceeded.",
  access: 'admin',
  request: { params: tenantParams, body: declareEnvironmentBody },
  responses: {
    201: {
      description: 'Declared',
      schema: environmentResult,
      headers: ['Location', 'X-Event-Position'],
    },
  },
  errors: [403, 404, 409],
  async handle({ params, body }, { s, allow, command }) {
    allow(params.tenantId);
    const result = await s.environmentCommands.handle(
      { type: 'DeclareEnvironment', data: { tenantId: params.tenantId, environment: body.name } },
      command(),
    );
    const Location = `${PATH.replace(':tenantId', params.tenantId)}/${body.name}`;
    return commandReply(
      201,
      {
        tenantId: params.tenantId,
        environment: body.name,
        environments: environmentsOfState(result.state),
      },
      result.position,
      { Location },
    );
  },
});

const renameEnvironment = route({
  operationId: 'renameEnvironment',
  method: 'patch',
  path: `${PATH}/:environment`,
  tag: 'Environments',
  summary: 'Rename an environment (only while it holds no configuration)',
  description:
    "Its approval policy follows it. 409 when it holds configurations (a configuration's id " +
    'derives from its environment) or when another environment has the name.',
  access: 'admin',
  request: { params: environmentParams, body: renameEnvironmentBody },
  responses: { 200: changed('Renamed') },
  errors: [403, 404, 409],
  async handle({ params, body }, { s, allow, command }) {
    allow(params.tenantId);
    const result = await s.environmentCommands.handle(
      { type: 'RenameEnvironment', data: { ...params, newName: body.name } },
      command(),
    );
    return commandReply(
      200,
      {
        tenantId: params.tenantId,
        environment: body.name,
        environments: environmentsOfState(result.state),
      },
      result.position,
    );
  },
});

const removeEnvironment = route({
  operationId: 'removeEnvironment',
  method: 'delete',
  path: `${PATH}/:environment`,
  tag: 'Environments',
  summary: 'Remove an environment (only while it holds no configuration)',
  description: 'Its approval policy goes with it. 409 while it holds configurations.',
  access: 'admin',
  request: { params: environmentParams },
  responses: { 200: changed('Removed') },
  errors: [403, 404, 409],
  async handle({ params }, { s, allow, command }) {
    allow(params.tenantId);
    const before = await s.queries.environments.names(params.tenantId);
    const result = await s.environmentCommands.handle(
      { type: 'RemoveEnvironment', data: params },
      command(),
    );
    return commandReply(
      200,
      {
        tenantId: params.tenantId,
        environment: resolveEnvironment(before, params.environment) ?? params.environment,
        environments: environmentsOfState(result.state),
      },
      result.position,
    );
  },
});

export const environmentRoutes = [
  listEnvironments,
  declareEnvironment,
  renameEnvironment,
  removeEnvironment,
];
