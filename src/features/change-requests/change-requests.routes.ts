/**
 * Change requests (stream `approval-*`, path /api/v1/approvals for compatibility). Reads come
 * from the read tables; commands go to the change request commands with a guard that checks the
 * caller's role on the config's tenant and environment before anything is decided.
 */
import { route, type RouteContext } from '../../core/http/route.js';
import { authorizeOrHide } from '../../core/auth/auth.js';
import { commandReply } from '../../core/http/request-context.js';
import { notFoundError, resourceReads } from '../../core/http/resource-access.js';
import { planOf } from '../deployments/deployment.decider.js';
import type { ApprovalState } from './change-request.decider.js';
import { changeRequest, changeRequestOfState, changeRequestResult } from './change-request.view.js';
import {
  changeRequestBody,
  changeRequestParams,
  changeRequestsQuery,
  reviewBody,
} from './change-requests.schemas.js';

const reply = <S extends number>(
  status: S,
  result: { state: ApprovalState; position: bigint | undefined },
) => commandReply(status, changeRequestOfState(result.state), result.position);

const createChangeRequest = route({
  operationId: 'createChangeRequest',
  method: 'post',
  path: '/api/v1/approvals',
  tag: 'Change requests',
  summary: 'Request a change that needs approval',
  description:
    'Give configId for an existing configuration, or tenantId, key and environment (and type) ' +
    'for a new one. With `applyAt`, the last approval schedules the change instead of applying ' +
    'it: the job applies it at that time; a configuration that moved meanwhile fails the ' +
    'schedule as stale (shown in `schedule`). Cancel it until then.',
  access: 'write',
  request: { body: changeRequestBody },
  responses: {
    201: {
      description: 'Requested',
      schema: changeRequestResult,
      headers: ['Location', 'X-Event-Position'],
    },
  },
  errors: [403, 404, 409, 422],
  async handle({ body }, { s, principal, allow, command }) {
    let { tenantId, key, environment } = body;
    if (body.configId) {
      const identity = await s.changeRequestCommands.configIdentity(body.configId);
      const hidden = notFoundError('Configuration', body.configId, 'configId');
      if (!identity) throw hidden();
      authorizeOrHide(principal, 'write', identity.tenantId, identity.environment, hidden);
      ({ tenantId, key, environment } = identity);
    } else {
      allow(tenantId!, environment);
    }
    const result = await s.changeRequestCommands.requestChange(
      {
        tenantId: tenantId!,
        key: key!,
        environment: environment!,
        action: body.action,
        type: body.type,
        value: body.value,
        description: body.description,
        rollout: planOf(body.rollout ?? { strategy: 'Direct' }),
        expiresInSeconds: body.expiresInSeconds,
        isSensitive: body.isSensitive,
        isEncrypted: body.isEncrypted,
        tags: body.tags,
        applyAt: body.applyAt,
      },
      command(),
    );
    const view = changeRequestOfState(result.state);
    const Location = `/api/v1/approvals/${view.approvalId}`;
    return commandReply(201, view, result.position, { Location });
  },
});

const [listChangeRequests, getChangeRequest] = resourceReads({
  path: '/api/v1/approvals',
  noun: ['change request', 'change requests'],
  params: changeRequestParams,
  query: changeRequestsQuery,
  view: changeRequest,
  queries: (s) => s.queries.changeRequests,
});

/** approve, reject and cancel: the same shape, each its own capability. */
function review(
  action: 'approve' | 'reject' | 'cancel',
  operationId: string,
  summary: string,
  access: 'approve' | 'write',
) {
  return route({
    operationId,
    method: 'post',
    path: `/api/v1/approvals/:approvalId/${action}`,
    tag: 'Change requests',
    summary,
    access,
    request: { params: changeRequestParams, body: reviewBody },
    responses: {
      200: { description: 'Done', schema: changeRequestResult, headers: ['X-Event-Position'] },
    },
    errors: [403, 404, 409, 422],
    async handle({ params, body }, { s, guard, command }: RouteContext) {
      const cmd = { approvalId: params.approvalId, comments: body.comments ?? null };
      const g = guard('Change request', params.approvalId, 'approvalId');
      const commands = s.changeRequestCommands;
      const result =
        action === 'approve'
          ? await commands.approve(cmd, command(), g)
          : action === 'reject'
            ? await commands.reject(cmd, command(), g)
            : await commands.cancel(cmd, command(), g);
      return reply(200, result);
    },
  });
}

export const changeRequestRoutes = [
  createChangeRequest,
  listChangeRequests,
  getChangeRequest,
  review(
    'approve',
    'approveChangeRequest',
    'Approve (applies it once enough approvals)',
    'approve',
  ),
  review('reject', 'rejectChangeRequest', 'Reject', 'approve'),
  review(
    'cancel',
    'cancelChangeRequest',
    'Cancel (a pending one: its requester; one approved and waiting for applyAt: any writer)',
    'write',
  ),
];
