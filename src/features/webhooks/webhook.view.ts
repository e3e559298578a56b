/**
 * What the API shows of a webhook (never its secret, except once: in the answer that created or
 * rotated it) and of its deliveries.
 */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import {
  int,
  page,
  position,
  recordedTime,
  recordedUser,
  timestamp,
} from '../../core/http/common.schemas.js';
import { iso } from '../../core/postgres/paging.js';
import type { WebhookState } from './webhook.decider.js';
import { WEBHOOK_EVENT_TYPES } from './webhook-events.js';
import { DELIVERY_STATUSES } from './webhooks.schemas.js';

export const webhook = named(
  'Webhook',
  z.strictObject({
    webhookId: z.string(),
    tenantId: z.string(),
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
    description: z.string().nullable(),
    active: z.boolean(),
    createdBy: recordedUser,
    createdAt: recordedTime,
    updatedAt: recordedTime,
  }),
);
export type WebhookView = z.infer<typeof webhook>;

export const webhookResult = named(
  'WebhookResult',
  webhook.extend({ position }).describe('The webhook after the command, and the event position'),
);

export const webhookWithSecret = named(
  'WebhookWithSecret',
  webhook
    .extend({
      secret: z
        .string()
        .describe('whsec_…: verifies the webhook-signature header. Shown only in this answer'),
      position,
    })
    .describe('The webhook and its signing secret, shown once'),
);

export const webhookPage = named('WebhookPage', page(webhook, "a tenant's webhooks"));

export const delivery = named(
  'WebhookDelivery',
  z.strictObject({
    deliveryId: z.string().describe('also the webhook-id header: the receiver deduplicates by it'),
    webhookId: z.string(),
    eventId: z.string(),
    eventType: z.enum(WEBHOOK_EVENT_TYPES),
    position: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    attempts: int,
    lastStatusCode: int.nullable(),
    lastLatencyMs: int.nullable(),
    lastError: z.string().nullable(),
    createdAt: timestamp,
    lastAttemptAt: timestamp.nullable(),
    deliveredAt: timestamp.nullable(),
  }),
);

export const deliveryPage = named('WebhookDeliveryPage', page(delivery, "a webhook's deliveries"));

/* eslint-disable @typescript-eslint/no-explicit-any */
export const webhookOfRow = (r: any): WebhookView => ({
  webhookId: r.webhook_id,
  tenantId: r.tenant_id,
  url: r.url,
  events: r.events,
  description: r.description,
  active: r.active,
  createdBy: r.created_by,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

export const deliveryOfRow = (r: any): z.infer<typeof delivery> => ({
  deliveryId: r.delivery_id,
  webhookId: r.webhook_id,
  eventId: r.event_id,
  eventType: r.event_type,
  position: String(r.position),
  status: r.status,
  attempts: r.attempts,
  lastStatusCode: r.last_status_code,
  lastLatencyMs: r.last_latency_ms,
  lastError: r.last_error,
  createdAt: iso(r.created_at)!,
  lastAttemptAt: iso(r.last_attempt_at),
  deliveredAt: iso(r.delivered_at),
});
/* eslint-enable @typescript-eslint/no-explicit-any */

export function webhookOfState(state: WebhookState): WebhookView {
  if (!state.exists) throw new Error('a command answered with no webhook');
  const { webhookId, tenantId, url, events, description, active } = state;
  return {
    webhookId,
    tenantId,
    url,
    events,
    description,
    active,
    createdBy: null,
    createdAt: null,
    updatedAt: null,
  };
}
