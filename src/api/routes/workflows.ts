/**
 * Change requests (approvals) and deployments. Reads come from the read tables; commands go to
 * the workflow commands with a guard that checks the caller's role on the config's tenant and
 * environment before anything is decided.
 */
import { MASK } from '../../domain/values.js';
import { Router, type Request, type Response } from 'express';
import type { Services } from '../../composition.js';
import { planOf } from '../../domain/deployment.js';
import { DomainError } from '../../domain/errors.js';
import type { ApprovalState } from '../../domain/approval.js';
import type { DeploymentState } from '../../domain/deployment.js';
import {
  authorize,
  authorizeOrHide,
  isPlatformAdmin,
  type Capability,
  type Principal,
} from '../auth.js';
import { commandContext, principalOf, sendCommandResult } from '../context.js';
import { parseInput } from '../problem.js';
import {
  approvalsQuery,
  changeRequestBody,
  deploymentBody,
  deploymentsQuery,
  metricsBody,
  reviewBody,
  rollbackDeploymentBody,
} from '../schemas.js';

const notFound = (what: string, id: string, field: string) => () =>
  new DomainError('not_found', `${what} '${id}' not found`, field);

/** Another tenant's request or deployment does not exist, as far as the caller can tell. */
const guard =
  (principal: Principal, capability: Capability, what: string, id: string, field: string) =>
  (tenantId: string, environment: string) =>
    authorizeOrHide(principal, capability, tenantId, environment, notFound(what, id, field));

/** The environments a token is limited to (null: all of the tenant's). */
function limitedEnvironments(res: Response): string[] | null {
  const p = principalOf(res);
  return isPlatformAdmin(p) ? null : p.environments;
}

function approvalBody(state: ApprovalState) {
  if (!state.exists) return {};
  const { exists: _e, ...rest } = state;
  const mask = (v: string | null) => (rest.isSensitive && v !== null ? MASK : v);
  return {
    ...rest,
    proposedValue: rest.action === 'Delete' ? null : mask(rest.proposedValue),
    currentValue: mask(rest.currentValue),
  };
}

function deploymentBodyOf(state: DeploymentState) {
  if (!state.exists) return {};
  // `bake` only pairs step jobs with their bake time: not part of the API.
  const { exists: _e, bake: _bake, ...rest } = state;
  return { ...rest, canaryPercentage: rest.steps[rest.stepIndex] ?? null };
}

export function workflowRoutes(s: Services): Router {
  const r = Router();

  const waitIfAsked = (req: Request) => s.progress.waitIfAsked(req);

  async function readable<T extends { tenantId: string }>(
    req: Request,
    res: Response,
    find: () => Promise<T | undefined>,
    environmentOf: (row: T) => string,
    hidden: () => DomainError,
  ): Promise<T> {
    await waitIfAsked(req);
    const row = await find();
    if (!row) throw hidden();
    authorizeOrHide(principalOf(res), 'read', row.tenantId, environmentOf(row), hidden);
    return row;
  }

  // ---- change requests ----

  r.post('/approvals', async (req, res) => {
    const body = parseInput(changeRequestBody, req.body);
    let { tenantId, key, environment } = body;
    if (body.configId) {
      const identity = await s.workflow.configIdentity(body.configId);
      const hidden = notFound('Configuration', body.configId, 'configId');
      if (!identity) throw hidden();
      authorizeOrHide(principalOf(res), 'write', identity.tenantId, identity.environment, hidden);
      ({ tenantId, key, environment } = identity);
    } else {
      authorize(principalOf(res), 'write', tenantId!, environment);
    }
    const result = await s.workflow.requestChange(
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
        tags: body.tags,
      },
      commandContext(req, res),
    );
    const state = result.state;
    if (state.exists) res.setHeader('Location', `/api/v1/approvals/${state.approvalId}`);
    sendCommandResult(res, 201, approvalBody(state), result.position);
  });

  r.get('/approvals', async (req, res) => {
    const q = parseInput(approvalsQuery, req.query);
    authorize(principalOf(res), 'read', q.tenantId, q.environment);
    await waitIfAsked(req);
    res.json(await s.queries.approvals({ ...q, environments: limitedEnvironments(res) }));
  });

  r.get('/approvals/:approvalId', async (req, res) => {
    const id = req.params.approvalId;
    const row = await readable(
      req,
      res,
      () => s.queries.approval(id),
      (a) => a.targetEnvironment,
      notFound('Change request', id, 'approvalId'),
    );
    res.json(row);
  });

  const review = (action: 'approve' | 'reject' | 'cancel', capability: Capability) =>
    async function (req: Request, res: Response) {
      const body = parseInput(reviewBody, req.body);
      const id = String(req.params.approvalId);
      const g = guard(principalOf(res), capability, 'Change request', id, 'approvalId');
      const cmd = { approvalId: id, comments: body.comments ?? null };
      const ctx = commandContext(req, res);
      const result =
        action === 'approve'
          ? await s.workflow.approve(cmd, ctx, g)
          : action === 'reject'
            ? await s.workflow.reject(cmd, ctx, g)
            : await s.workflow.cancel(cmd, ctx, g);
      sendCommandResult(res, 200, approvalBody(result.state), result.position);
    };
  r.post('/approvals/:approvalId/approve', review('approve', 'approve'));
  r.post('/approvals/:approvalId/reject', review('reject', 'approve'));
  r.post('/approvals/:approvalId/cancel', review('cancel', 'write'));

  // ---- deployments ----

  const deploymentsLimit = s.rateLimits.middleware('deployments');

  r.post('/deployments', deploymentsLimit, async (req, res) => {
    const body = parseInput(deploymentBody, req.body);
    const { configId, value, expectedVersion, ...rollout } = body;
    const result = await s.workflow.startDeployment(
      { configId, value, expectedVersion, rollout: planOf(rollout) },
      commandContext(req, res),
      guard(principalOf(res), 'write', 'Configuration', configId, 'configId'),
    );
    const state = result.state;
    if (state.exists) res.setHeader('Location', `/api/v1/deployments/${state.deploymentId}`);
    sendCommandResult(res, 201, deploymentBodyOf(state), result.position);
  });

  r.get('/deployments', async (req, res) => {
    const q = parseInput(deploymentsQuery, req.query);
    authorize(principalOf(res), 'read', q.tenantId, q.environment);
    await waitIfAsked(req);
    res.json(await s.queries.deployments({ ...q, environments: limitedEnvironments(res) }));
  });

  r.get('/deployments/:deploymentId', async (req, res) => {
    const id = String(req.params.deploymentId);
    const row = await readable(
      req,
      res,
      () => s.queries.deployment(id),
      (d) => d.environment,
      notFound('Deployment', id, 'deploymentId'),
    );
    res.json(row);
  });

  /** Apps (reader tokens) report what they served; too many canary errors roll back. */
  r.post('/deployments/:deploymentId/metrics', async (req, res) => {
    const body = parseInput(metricsBody, req.body);
    const id = String(req.params.deploymentId);
    const result = await s.workflow.reportMetrics(
      { deploymentId: id, ...body },
      commandContext(req, res),
      guard(principalOf(res), 'read', 'Deployment', id, 'deploymentId'),
    );
    sendCommandResult(
      res,
      200,
      { ...deploymentBodyOf(result.state), rolledBack: result.rolledBack },
      result.position,
    );
  });

  r.post('/deployments/:deploymentId/rollback', deploymentsLimit, async (req, res) => {
    const body = parseInput(rollbackDeploymentBody, req.body);
    const id = String(req.params.deploymentId);
    const result = await s.workflow.rollback(
      id,
      body.reason,
      commandContext(req, res),
      guard(principalOf(res), 'write', 'Deployment', id, 'deploymentId'),
    );
    sendCommandResult(res, 200, deploymentBodyOf(result.state), result.position);
  });

  for (const action of ['pause', 'resume', 'promote'] as const) {
    r.post(`/deployments/:deploymentId/${action}`, deploymentsLimit, async (req, res) => {
      const id = String(req.params.deploymentId);
      const result = await s.workflow[action](
        id,
        commandContext(req, res),
        guard(principalOf(res), 'write', 'Deployment', id, 'deploymentId'),
      );
      sendCommandResult(res, 200, deploymentBodyOf(result.state), result.position);
    });
  }

  return r;
}
