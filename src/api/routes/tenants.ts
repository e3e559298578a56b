import { Router } from 'express';
import type { Services } from '../../composition.js';
import { authorize, isPlatformAdmin, requirePlatformAdmin } from '../auth.js';
import { commandContext, principalOf, sendCommandResult } from '../context.js';
import { HttpProblem, parseInput } from '../problem.js';
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

function tenantBody(state: TenantState) {
  if (!state.exists) return {};
  const { configs, exists: _exists, approvalPolicy: _own, ...profile } = state;
  return { ...profile, configurationCount: configs.size, approvalPolicy: approvalPolicyOf(state) };
}

const parseTenantId = (raw: string): string => parseInput(tenantIdSchema, raw, 'tenantId');

export function tenantRoutes(s: Services): Router {
  const r = Router();

  r.post('/tenants', async (req, res) => {
    requirePlatformAdmin(principalOf(res));
    const body = parseInput(createTenantBody, req.body);
    const result = await s.tenantCommands.create(body, commandContext(req, res));
    res.setHeader('Location', `/api/v1/tenants/${body.tenantId}`);
    sendCommandResult(res, 201, tenantBody(result.state), result.position);
  });

  r.get('/tenants/:tenantId', async (req, res) => {
    const tenantId = parseTenantId(req.params.tenantId);
    authorize(principalOf(res), 'read', tenantId);
    await s.progress.waitIfAsked(req);
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
    const changes = parseInput(updateTenantBody, req.body);
    // Tier, status and quotas are the platform's to set; a tenant admin edits its profile.
    if (!isPlatformAdmin(principal)) {
      for (const field of ['tier', 'status', 'maxConfigurations', 'maxEnvironments'] as const) {
        if (changes[field] !== undefined) {
          throw new HttpProblem(403, 'Forbidden', `Only platform admins may change ${field}`, {
            field,
          });
        }
      }
    }
    const result = await s.tenantCommands.update(
      { tenantId, ...changes },
      commandContext(req, res),
    );
    sendCommandResult(res, 200, tenantBody(result.state), result.position);
  });

  r.delete('/tenants/:tenantId', async (req, res) => {
    const tenantId = parseTenantId(req.params.tenantId);
    const principal = principalOf(res);
    authorize(principal, 'read', tenantId); // another tenant's: 404, as everywhere
    requirePlatformAdmin(principal);
    const result = await s.tenantCommands.delete(tenantId, commandContext(req, res));
    sendCommandResult(res, 200, tenantBody(result.state), result.position);
  });

  r.get('/tenants/:tenantId/approval-policies', async (req, res) => {
    const tenantId = parseTenantId(req.params.tenantId);
    authorize(principalOf(res), 'read', tenantId);
    await s.progress.waitIfAsked(req);
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
    const environment = parseInput(environmentSchema, req.params.environment, 'environment');
    // An admin limited to some environments sets only their policies.
    authorize(principalOf(res), 'admin', tenantId, environment);
    const body = parseInput(approvalPolicyBody, req.body);
    const result = await s.tenantCommands.setApprovalPolicy(
      { tenantId, environment: environment, ...body },
      commandContext(req, res),
    );
    sendCommandResult(
      res,
      200,
      { tenantId, environment: environment, requiredApprovals: body.requiredApprovals },
      result.position,
    );
  });

  return r;
}
