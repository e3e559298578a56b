/** Tenants (platform admins create, suspend and delete them) and their approval policies. */
import { z } from 'zod';
import { ok, route } from '../../core/http/route.js';
import { authorize, isPlatformAdmin, requirePlatformAdmin } from '../../core/auth/auth.js';
import { commandReply } from '../../core/http/request-context.js';
import { HttpProblem } from '../../core/http/problem.js';
import {
  approvalPolicyBody,
  createTenantBody,
  deleteTenantHeaders,
  deleteTenantQuery,
  environment,
  tenantId,
  tenantParams,
  tenantsQuery,
  updateTenantBody,
} from './tenants.schemas.js';
import { DEFAULT_APPROVAL_POLICY, requireDeclaredEnvironment } from './tenant.decider.js';
import {
  approvalPolicies,
  approvalPolicyResult,
  tenant,
  tenantOfState,
  tenantPage,
  tenantResult,
} from './tenant.view.js';

const tenantNotFound = (id: string) =>
  new HttpProblem(404, 'Not found', `Tenant '${id}' not found`, { field: 'tenantId' });

const changed = (description: string) => ({
  description,
  schema: tenantResult,
  headers: ['X-Event-Position'] as const,
});

const createTenant = route({
  operationId: 'createTenant',
  method: 'post',
  path: '/api/v1/tenants',
  tag: 'Tenants',
  summary: 'Create a tenant',
  access: 'platform',
  request: { body: createTenantBody },
  responses: {
    201: {
      description: 'Created',
      schema: tenantResult,
      headers: ['Location', 'X-Event-Position'],
    },
  },
  errors: [403, 409, 422],
  async handle({ body }, { s, principal, command }) {
    requirePlatformAdmin(principal);
    const result = await s.tenantCommands.create(body, command());
    const Location = `/api/v1/tenants/${body.tenantId}`;
    return commandReply(201, tenantOfState(result.state), result.position, { Location });
  },
});

const listTenants = route({
  operationId: 'listTenants',
  method: 'get',
  path: '/api/v1/tenants',
  tag: 'Tenants',
  summary: 'List tenants',
  description: 'Deleted tenants only with `status=Deleted`.',
  access: 'platform',
  request: { query: tenantsQuery },
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'A page of tenants', schema: tenantPage } },
  errors: [403],
  async handle({ query }, { s, principal }) {
    requirePlatformAdmin(principal);
    return ok(await s.queries.tenants.tenants(query));
  },
});

const getTenant = route({
  operationId: 'getTenant',
  method: 'get',
  path: '/api/v1/tenants/:tenantId',
  tag: 'Tenants',
  summary: 'Get a tenant',
  access: 'read',
  request: { params: tenantParams },
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'The tenant', schema: tenant } },
  errors: [403, 404],
  async handle({ params }, { s, allow }) {
    allow(params.tenantId);
    const found = await s.queries.tenants.tenant(params.tenantId);
    if (!found) throw tenantNotFound(params.tenantId);
    return ok(found);
  },
});

/** Tier, status and quotas are the platform's to set; a tenant admin edits its profile. */
const PLATFORM_FIELDS = ['tier', 'status', 'maxConfigurations', 'maxEnvironments'] as const;

const updateTenant = route({
  operationId: 'updateTenant',
  method: 'patch',
  path: '/api/v1/tenants/:tenantId',
  tag: 'Tenants',
  summary: 'Change a tenant',
  description:
    'Tenant admins change the name, contact and metadata; only platform admins change tier, ' +
    'status and quotas (403 naming the field otherwise).',
  access: 'admin',
  request: { params: tenantParams, body: updateTenantBody },
  responses: { 200: changed('Changed') },
  errors: [403, 404, 409, 422],
  async handle({ params, body }, { s, principal, allow, command }) {
    allow(params.tenantId);
    if (!isPlatformAdmin(principal)) {
      for (const field of PLATFORM_FIELDS) {
        if (body[field] !== undefined) {
          throw new HttpProblem(403, 'Forbidden', `Only platform admins may change ${field}`, {
            field,
          });
        }
      }
    }
    const result = await s.tenantCommands.update({ tenantId: params.tenantId, ...body }, command());
    return commandReply(200, tenantOfState(result.state), result.position);
  },
});

const deleteTenant = route({
  operationId: 'deleteTenant',
  method: 'delete',
  path: '/api/v1/tenants/:tenantId',
  tag: 'Tenants',
  summary: 'Delete a tenant (soft; purge=true destroys its keys)',
  description:
    "Soft delete by default. With `purge=true` and the tenant's name as `confirm` (or the " +
    '`X-Confirm-Tenant-Name` header) it is also purged: its data keys are destroyed ' +
    '(crypto-shredding). The events stay in the log, but none of its encrypted values can be ' +
    'read again by anyone, after a rebuild or a restore from an export included.',
  access: 'platform',
  request: { params: tenantParams, query: deleteTenantQuery, headers: deleteTenantHeaders },
  responses: { 200: changed('Deleted') },
  errors: [403, 404, 409, 422],
  async handle({ params, query, headers }, { s, principal, command }) {
    // Another tenant's: 404, as everywhere; then only platform admins.
    authorize(principal, 'read', params.tenantId);
    requirePlatformAdmin(principal);
    if (query.purge === 'true') {
      const confirm = query.confirm ?? headers['X-Confirm-Tenant-Name'];
      const result = await s.tenantCommands.purge(params.tenantId, confirm, command());
      // After the events: a purge that fails here is simply sent again (nothing is appended twice).
      await s.encryption.destroyTenantKeys(params.tenantId);
      return commandReply(200, tenantOfState(result.state), result.position);
    }
    const result = await s.tenantCommands.delete(params.tenantId, command());
    return commandReply(200, tenantOfState(result.state), result.position);
  },
});

const getApprovalPolicies = route({
  operationId: 'getApprovalPolicies',
  method: 'get',
  path: '/api/v1/tenants/:tenantId/approval-policies',
  tag: 'Tenants',
  summary: 'Approvals each environment requires',
  access: 'read',
  request: { params: tenantParams },
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'The policies', schema: approvalPolicies } },
  errors: [403, 404],
  async handle({ params }, { s, allow }) {
    allow(params.tenantId);
    if (!(await s.queries.tenants.tenant(params.tenantId))) throw tenantNotFound(params.tenantId);
    const requiredApprovals = await s.queries.tenants.approvalPolicy(
      params.tenantId,
      DEFAULT_APPROVAL_POLICY,
    );
    return ok({ tenantId: params.tenantId, defaults: DEFAULT_APPROVAL_POLICY, requiredApprovals });
  },
});

/** Tenant admins decide how many approvals an environment's changes need (0 = none). */
const setApprovalPolicy = route({
  operationId: 'setApprovalPolicy',
  method: 'put',
  path: '/api/v1/tenants/:tenantId/approval-policies/:environment',
  tag: 'Tenants',
  summary: "Set how many approvals an environment's changes need (0: none)",
  access: 'admin',
  request: { params: z.object({ tenantId, environment }), body: approvalPolicyBody },
  responses: {
    200: { description: 'Set', schema: approvalPolicyResult, headers: ['X-Event-Position'] },
  },
  errors: [403, 404, 409, 422],
  async handle({ params, body }, { s, allow, command }) {
    // An admin limited to some environments sets only their policies.
    allow(params.tenantId, params.environment);
    const result = await s.tenantCommands.setApprovalPolicy({ ...params, ...body }, command());
    // Under the environment's declared spelling (any case is accepted).
    const environment = requireDeclaredEnvironment(result.state, params.environment);
    return commandReply(
      200,
      { tenantId: params.tenantId, environment, requiredApprovals: body.requiredApprovals },
      result.position,
    );
  },
});

export const tenantRoutes = [
  createTenant,
  listTenants,
  getTenant,
  updateTenant,
  deleteTenant,
  getApprovalPolicies,
  setApprovalPolicy,
];
