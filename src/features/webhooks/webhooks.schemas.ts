/** Webhooks' request schemas. */
import { z } from 'zod';
import { paging } from '../../core/http/common.schemas.js';
import { named } from '../../core/http/route.js';
import { tenantId } from '../tenants/tenants.schemas.js';
import { WEBHOOK_EVENT_TYPES } from './webhook-events.js';

export const webhookId = z
  .string()
  .regex(/^wh_[a-f0-9]{32}$/, 'must be a webhook id (wh_…)')
  .meta({ examples: ['wh_0123456789abcdef0123456789abcdef'] });

export const webhookParams = z.object({ tenantId, webhookId });

const url = z
  .string()
  .max(2000)
  .describe('http(s) URL the service POSTs to; private and loopback addresses are refused')
  .meta({ examples: ['https://hooks.example.com/config-service'] });

const events = z
  .array(z.enum(WEBHOOK_EVENT_TYPES))
  .min(1)
  .max(WEBHOOK_EVENT_TYPES.length)
  .describe('the event types to deliver')
  .meta({ examples: [['config.changed', 'deployment.rolled-back']] });

export const registerWebhookBody = named(
  'RegisterWebhookBody',
  z
    .strictObject({
      url,
      events,
      description: z.string().max(2000).nullable().optional(),
    })
    .meta({
      examples: [{ url: 'https://hooks.example.com/config-service', events: ['config.changed'] }],
    }),
);

export const updateWebhookBody = named(
  'UpdateWebhookBody',
  z
    .strictObject({
      url: url.optional(),
      events: events.optional(),
      description: z.string().max(2000).nullable().optional(),
      active: z.boolean().optional().describe('false pauses deliveries (new events are not sent)'),
    })
    .meta({ examples: [{ active: false }] }),
);

export const DELIVERY_STATUSES = [
  'Pending',
  'Retrying',
  'Delivered',
  'Failed',
  'Cancelled',
] as const;

export const webhooksQuery = z.object(paging);

export const deliveriesQuery = z.object({
  status: z.enum(DELIVERY_STATUSES).optional(),
  ...paging,
});
