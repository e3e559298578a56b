/**
 * Webhooks: tenant admins register URLs that receive signed POSTs for chosen kinds of events
 * (config changed, change requests, deployments), and read each webhook's delivery log.
 */
import { DomainError } from '../../core/domain-error.js';
import { ok, route } from '../../core/http/route.js';
import { commandReply } from '../../core/http/request-context.js';
import { tenantParams } from '../tenants/tenants.schemas.js';
import type { WebhookState } from './webhook.decider.js';
import {
  deliveryPage,
  webhook,
  webhookOfState,
  webhookPage,
  webhookResult,
  webhookWithSecret,
} from './webhook.view.js';
import {
  deliveriesQuery,
  registerWebhookBody,
  updateWebhookBody,
  webhookParams,
  webhooksQuery,
} from './webhooks.schemas.js';

const PATH = '/api/v1/tenants/:tenantId/webhooks';

const withSecret = (state: WebhookState) => ({
  ...webhookOfState(state),
  secret: state.exists ? state.secret : '',
});

const notFound = (webhookId: string) =>
  new DomainError('not_found', `Webhook '${webhookId}' not found`, 'webhookId');

const registerWebhook = route({
  operationId: 'registerWebhook',
  method: 'post',
  path: PATH,
  tag: 'Webhooks',
  summary: 'Register a webhook (its signing secret is in this answer only)',
  description:
    'Deliveries are POSTs of `{ type, timestamp, tenantId, eventId, position, data }`, signed ' +
    'in the Standard Webhooks format (`webhook-id`, `webhook-timestamp`, `webhook-signature: ' +
    'v1,<base64 HMAC-SHA256>`), retried with growing waits for about 24 hours. A URL that ' +
    'resolves to a loopback or private address is refused (400, `url`).',
  access: 'admin',
  request: { params: tenantParams, body: registerWebhookBody },
  responses: {
    201: {
      description: 'Registered',
      schema: webhookWithSecret,
      headers: ['Location', 'X-Event-Position'],
    },
  },
  errors: [403, 404, 409, 422],
  async handle({ params, body }, { s, allow, command }) {
    allow(params.tenantId);
    const result = await s.webhookCommands.register({ ...params, ...body }, command());
    const view = withSecret(result.state);
    const Location = `${PATH.replace(':tenantId', params.tenantId)}/${view.webhookId}`;
    return commandReply(201, view, result.position, { Location });
  },
});

const listWebhooks = route({
  operationId: 'listWebhooks',
  method: 'get',
  path: PATH,
  tag: 'Webhooks',
  summary: "A tenant's webhooks (paged)",
  access: 'admin',
  request: { params: tenantParams, query: webhooksQuery },
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'A page', schema: webhookPage } },
  errors: [403, 404],
  async handle({ params, query }, { s, allow }) {
    allow(params.tenantId);
    return ok(await s.queries.webhooks.webhooks(params.tenantId, query));
  },
});

const getWebhook = route({
  operationId: 'getWebhook',
  method: 'get',
  path: `${PATH}/:webhookId`,
  tag: 'Webhooks',
  summary: 'One webhook',
  access: 'admin',
  request: { params: webhookParams },
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'The webhook', schema: webhook } },
  errors: [403, 404],
  async handle({ params }, { s, allow }) {
    allow(params.tenantId);
    const found = await s.queries.webhooks.webhook(params.tenantId, params.webhookId);
    if (!found) throw notFound(params.webhookId);
    return ok(found);
  },
});

const updateWebhook = route({
  operationId: 'updateWebhook',
  method: 'patch',
  path: `${PATH}/:webhookId`,
  tag: 'Webhooks',
  summary: 'Change its URL, events or description, or pause it (active: false)',
  access: 'admin',
  request: { params: webhookParams, body: updateWebhookBody },
  responses: {
    200: { description: 'Updated', schema: webhookResult, headers: ['X-Event-Position'] },
  },
  errors: [403, 404, 422],
  async handle({ params, body }, { s, allow, command }) {
    allow(params.tenantId);
    const result = await s.webhookCommands.update({ ...params, ...body }, command());
    return commandReply(200, webhookOfState(result.state), result.position);
  },
});

const rotateWebhookSecret = route({
  operationId: 'rotateWebhookSecret',
  method: 'post',
  path: `${PATH}/:webhookId/rotate-secret`,
  tag: 'Webhooks',
  summary: 'A new signing secret (in this answer only); deliveries from now on use it',
  access: 'admin',
  request: { params: webhookParams },
  responses: {
    200: { description: 'Rotated', schema: webhookWithSecret, headers: ['X-Event-Position'] },
  },
  errors: [403, 404],
  async handle({ params }, { s, allow, command }) {
    allow(params.tenantId);
    const result = await s.webhookCommands.rotateSecret(params, command());
    return commandReply(200, withSecret(result.state), result.position);
  },
});

const deleteWebhook = route({
  operationId: 'deleteWebhook',
  method: 'delete',
  path: `${PATH}/:webhookId`,
  tag: 'Webhooks',
  summary: 'Delete a webhook; deliveries not yet made are cancelled',
  access: 'admin',
  request: { params: webhookParams },
  responses: {
    200: { description: 'Deleted', schema: webhookResult, headers: ['X-Event-Position'] },
  },
  errors: [403, 404],
  async handle({ params }, { s, allow, command }) {
    allow(params.tenantId);
    const result = await s.webhookCommands.delete(params, command());
    return commandReply(200, webhookOfState(result.state), result.position);
  },
});

const listWebhookDeliveries = route({
  operationId: 'listWebhookDeliveries',
  method: 'get',
  path: `${PATH}/:webhookId/deliveries`,
  tag: 'Webhooks',
  summary: "A webhook's delivery log, newest first: status, attempts, latency, last error",
  access: 'admin',
  request: { params: webhookParams, query: deliveriesQuery },
  readYourWrites: ['read-model', 'webhook-dispatcher'],
  responses: { 200: { description: 'A page', schema: deliveryPage } },
  errors: [403, 404],
  async handle({ params, query }, { s, allow }) {
    allow(params.tenantId);
    if (!(await s.queries.webhooks.webhook(params.tenantId, params.webhookId))) {
      throw notFound(params.webhookId);
    }
    return ok(await s.queries.webhooks.deliveries(params.tenantId, params.webhookId, query));
  },
});

export const webhookRoutes = [
  registerWebhook,
  listWebhooks,
  getWebhook,
  updateWebhook,
  rotateWebhookSecret,
  deleteWebhook,
  listWebhookDeliveries,
];
