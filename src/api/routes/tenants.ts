import { Router } from 'express';
import type { Services } from '../../composition.js';
import { authorize, isPlatformAdmin, requirePlatformAdmin, can } from '../auth.js';
import { commandContext, principalOf, sendCommandResult } from '../context.js';
import { HttpProblem, fromZod } from '../problem.js';
import {
  approvalPolicyBody,
  createTenantBody,
  environment as environmentSchema,
  tenantId as tenantIdSchema,
  updateTenantBody,
} from '../schemas.js';
import {
  DEFAULT_APPROVAL_POLICY,
  approvalPolicyOf,
  type TenantState,
} from '../../domain/tenant.js';
import { minPositionOf } from '../../queries/projection-progress.js';

function tenantBody(state: TenantState) {
  if (!state.exists) return {};
  const { configs, exists: _exists, approvalPolicy: _own, ...profile } = state;
  return { ...profile, configurationCount: configs.size, approvalPolicy: approvalPolicyOf(state) };
}

function parseTenantId(raw: string): string {
  const parsed = tenantIdSchema.safeParse(raw);
  if (!parsed.success) throw fromZod(parsed.error, 'tenantId');
  return parsed.data;
}

export function tenantRoutes(s: Services): Router {
  const r = Router();

  r.post('/tenants', async (req, res) => {
    requirePlatformAdmin(principalOf(res));
    const parsed = createTenantBody.safeParse(req.body);
    if (!parsed.success) throw fromZod(parsed.error);
    const result = await s.tenantCommands.create(parsed.data, commandContext(req, res));
    res.setHeader('Location', `/api/v1/tenants/${parsed.data.tenantId}`);
    sendCommandResult(res, 201, tenantBody(result.state), result.position);
  });

  r.get('/tenants/:tenantId', async (req, res) => {
    const tenantId = parseTenantId(req.params.tenantId);
    authorize(principalOf(res), 'read', tenantId);
    const min = minPositionOf(req.query, req.headers['x-min-position']);
    if (min !== undefined) await s.progress.waitFor(min, ['read-model']);
    const tenant = await s.queries.tenant(tenantId);
    if (!tenant)
      throw new HttpProblem(404, 'Not found', `Tenant '${tenantId}' not found`, {
        field: 'tenantId',
      });
    res.json(tenant);
  });

  r.patch('/tenants/:tenantId', async (req, res) => {
    const tenantId = parseTenantId(req.params.tenantId);
    const principal = principalOf(res);
    authorize(principal, 'admin', tenantId);
    const parsed = updateTenantBody.safeParse(req.body);
    if (!parsed.success) throw fromZod(parsed.error);
    // Tier, status and quotas are the platform's to set; a tenant admin edits its profile.
    if (!isPlatformAdmin(principal)) {
      for (const field of ['tier', 'status', 'maxConfigurations', 'maxEnvironments'] as const) {
        if (parsed.data[field] !== undefined) {
          throw new HttpProblem(403, 'Forbidden', `Only platform admins may change ${field}`, {
            field,
          });
        }
      }
    }
    const result = await s.tenantCommands.update(
      { tenantId, ...parsed.data },
      commandContext(req, res),
    );
    sendCommandResult(res, 200, tenantBody(result.state), result.position);
  });

  r.delete('/tenants/:tenantId', async (req, res) => {
    const tenantId = parseTenantId(req.params.tenantId);
    const principal = principalOf(res);
    authorize(principal, 'read', tenantId);
    if (!can(principal, 'platform')) requirePlatformAdmin(principal);
    const result = await s.tenantCommands.delete(tenantId, commandContext(req, res));
    sendCommandResult(res, 200, tenantBody(result.state), result.position);
  });

  r.get('/tenants/:tenantId/approval-policies', async (req, res) => {
    const tenantId = parseTenantId(req.params.tenantId);
    authorize(principalOf(res), 'read', tenantId);
    const min = minPositionOf(req.query, req.headers['x-min-position']);
    if (min !== undefined) await s.progress.waitFor(min, ['read-model']);
    if (!(await s.queries.tenant(tenantId))) {
      throw new HttpProblem(404, 'Not found', `Tenant '${tenantId}' not found`, {
        field: 'tenantId',
      });
    }
    res.json({
      tenantId,
      defaults: DEFAULT_APPROVAL_POLICY,
      requiredApprovals: await s.queries.approvalPolicy(tenantId, DEFAULT_APPROVAL_POLICY),
    });
  });

  /** Tenant admins decide how many approvals an environment's changes need (0 = none). */
  r.put('/tenants/:tenantId/approval-policies/:environment', async (req, res) => {
    const tenantId = parseTenantId(req.params.tenantId);
    const env = environmentSchema.safeParse(req.params.environment);
    if (!env.success) throw fromZod(env.error, 'environment');
    authorize(principalOf(res), 'admin', tenantId);
    const body = approvalPolicyBody.safeParse(req.body ?? {});
    if (!body.success) throw fromZod(body.error);
    const result = await s.tenantCommands.setApprovalPolicy(
      { tenantId, environment: env.data, ...body.data },
      commandContext(req, res),
    );
    sendCommandResult(
      res,
      200,
      { tenantId, environment: env.data, requiredApprovals: body.data.requiredApprovals },
      result.position,
    );
  });

  return r;
}
