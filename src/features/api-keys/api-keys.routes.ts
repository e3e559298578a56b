/**
 * API keys: tenant admins create credentials for apps (scoped, limited to environments, with an
 * optional expiry), list them and revoke them. The secret is in the creation's answer only.
 */
import { DomainError } from '../../core/domain-error.js';
import { ok, route } from '../../core/http/route.js';
import { commandReply } from '../../core/http/request-context.js';
import { tenantParams } from '../tenants/tenants.schemas.js';
import {
  apiKey,
  apiKeyOfState,
  apiKeyPage,
  apiKeyResult,
  apiKeyWithSecret,
} from './api-key.view.js';
import { apiKeyParams, apiKeysQuery, createApiKeyBody } from './api-keys.schemas.js';

const PATH = '/api/v1/tenants/:tenantId/api-keys';

const createApiKey = route({
  operationId: 'createApiKey',
  method: 'post',
  path: PATH,
  tag: 'API keys',
  summary: 'Create an API key for an app (its secret is in this answer only)',
  description:
    'Apps send the secret as `Authorization: Bearer cfgk_…` or `X-API-Key: cfgk_…` on the hot ' +
    'read and watch routes (scope `read`) and deployment metrics (scope `report-metrics`); ' +
    '`reveal` lets them read encrypted values in plain text. Only a SHA-256 of the secret is kept.',
  access: 'admin',
  request: { params: tenantParams, body: createApiKeyBody },
  responses: {
    201: {
      description: 'Created',
      schema: apiKeyWithSecret,
      headers: ['Location', 'X-Event-Position'],
    },
  },
  errors: [403, 404, 409, 422],
  async handle({ params, body }, { s, allow, command }) {
    allow(params.tenantId);
    const result = await s.apiKeyCommands.create({ ...params, ...body }, command());
    const view = { ...apiKeyOfState(result.state), secret: result.token };
    const Location = `${PATH.replace(':tenantId', params.tenantId)}/${view.keyId}`;
    return commandReply(201, view, result.position, { Location });
  },
});

const listApiKeys = route({
  operationId: 'listApiKeys',
  method: 'get',
  path: PATH,
  tag: 'API keys',
  summary: "A tenant's API keys (paged; never their secrets)",
  access: 'admin',
  request: { params: tenantParams, query: apiKeysQuery },
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'A page', schema: apiKeyPage } },
  errors: [403, 404],
  async handle({ params, query }, { s, allow }) {
    allow(params.tenantId);
    return ok(
      await s.queries.apiKeys.apiKeys(params.tenantId, {
        ...query,
        includeRevoked: query.includeRevoked === 'true',
      }),
    );
  },
});

const getApiKey = route({
  operationId: 'getApiKey',
  method: 'get',
  path: `${PATH}/:keyId`,
  tag: 'API keys',
  summary: 'One API key',
  access: 'admin',
  request: { params: apiKeyParams },
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'The key', schema: apiKey } },
  errors: [403, 404],
  async handle({ params }, { s, allow }) {
    allow(params.tenantId);
    const found = await s.queries.apiKeys.apiKey(params.tenantId, params.keyId);
    if (!found) {
      throw new DomainError('not_found', `API key '${params.keyId}' not found`, 'keyId');
    }
    return ok(found);
  },
});

const revokeApiKey = route({
  operationId: 'revokeApiKey',
  method: 'delete',
  path: `${PATH}/:keyId`,
  tag: 'API keys',
  summary: 'Revoke an API key: every replica refuses it within a second',
  access: 'admin',
  request: { params: apiKeyParams },
  responses: {
    200: { description: 'Revoked', schema: apiKeyResult, headers: ['X-Event-Position'] },
  },
  errors: [403, 404],
  async handle({ params }, { s, allow, command }) {
    allow(params.tenantId);
    const result = await s.apiKeyCommands.revoke(params, command());
    return commandReply(200, apiKeyOfState(result.state), result.position);
  },
});

export const apiKeyRoutes = [createApiKey, listApiKeys, getApiKey, revokeApiKey];
