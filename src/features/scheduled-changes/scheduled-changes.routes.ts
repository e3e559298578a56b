/**
 * Scheduled changes: a configuration's next value applied by a job at `applyAt`, listed as
 * pending until then, cancellable; a change whose configuration moved meanwhile fails as stale.
 */
import { ok, route } from '../../core/http/route.js';
import { commandReply } from '../../core/http/request-context.js';
import { limitedEnvironments } from '../../core/http/resource-access.js';
import { configParams } from '../configs/configs.schemas.js';
import { tenantParams } from '../tenants/tenants.schemas.js';
import {
  scheduledChangeOfState,
  scheduledChangePage,
  scheduledChangeResult,
} from './scheduled-change.view.js';
import { scheduleBody, scheduleParams, schedulesQuery } from './scheduled-changes.schemas.js';

const scheduleChange = route({
  operationId: 'scheduleChange',
  method: 'post',
  path: '/api/v1/configs/:configId/scheduled-changes',
  tag: 'Configurations',
  summary: 'Schedule a new value for a configuration at a time (applyAt)',
  description:
    'Checked now (type, schema), applied by a job at `applyAt`. If the configuration changes ' +
    'before then, the scheduled change fails as stale (status Failed, `failure` says why) ' +
    'rather than overwrite the newer value. Environments that need approval take a change ' +
    'request with `applyAt` instead (POST /api/v1/approvals; here: 409 approval_required).',
  access: 'write',
  request: { params: configParams, body: scheduleBody },
  responses: {
    201: { description: 'Scheduled', schema: scheduledChangeResult, headers: ['X-Event-Position'] },
  },
  errors: [403, 404, 409, 422],
  async handle({ params, body }, { s, guard, command }) {
    const result = await s.scheduledChangeCommands.schedule(
      { configId: params.configId, ...body },
      command(),
      guard('Configuration', params.configId, 'configId'),
    );
    return commandReply(201, scheduledChangeOfState(result.state), result.position);
  },
});

const listScheduledChanges = route({
  operationId: 'listScheduledChanges',
  method: 'get',
  path: '/api/v1/tenants/:tenantId/scheduled-changes',
  tag: 'Configurations',
  summary: "A tenant's scheduled changes (filter status=Pending for what is still to come)",
  access: 'read',
  request: { params: tenantParams, query: schedulesQuery },
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'A page, by time', schema: scheduledChangePage } },
  errors: [403, 404],
  async handle({ params, query }, { s, allow, res }) {
    allow(params.tenantId);
    return ok(
      await s.queries.scheduledChanges.list(params.tenantId, {
        ...query,
        environments: limitedEnvironments(res, params.tenantId),
      }),
    );
  },
});

const cancelScheduledChange = route({
  operationId: 'cancelScheduledChange',
  method: 'post',
  path: '/api/v1/tenants/:tenantId/scheduled-changes/:scheduleId/cancel',
  tag: 'Configurations',
  summary: 'Cancel a scheduled change that has not been applied',
  description:
    'One that carries an approved change request (`approvalId`) cancels the request with it.',
  access: 'write',
  request: { params: scheduleParams },
  responses: {
    200: { description: 'Cancelled', schema: scheduledChangeResult, headers: ['X-Event-Position'] },
  },
  errors: [403, 404, 409],
  async handle({ params }, { s, allow, guard, command }) {
    allow(params.tenantId);
    const result = await s.scheduledChangeCommands.cancel(
      params,
      command(),
      guard('Scheduled change', params.scheduleId, 'scheduleId'),
    );
    return commandReply(200, scheduledChangeOfState(result.state), result.position);
  },
});

export const scheduledChangeRoutes = [scheduleChange, listScheduledChanges, cancelScheduledChange];
