/**
 * Webhook aggregate (stream `webhook-{tenantId}:{webhookId}`): a tenant's subscription of a URL
 * to kinds of events, with the secret its deliveries are signed with. The secret is chosen by the
 * service and shown once, when the webhook is registered (or its secret rotated).
 */
import { DomainError } from '../../core/domain-error.js';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from './webhook-events.js';

interface Identity {
  webhookId: string;
  tenantId: string;
}

/** What registering records (the secret is chosen by the service, shown once). */
type Registration = Identity & {
  url: string;
  events: WebhookEventType[];
  description: string | null;
  secret: string;
  /** The secret is encrypted at rest with the tenant's data key (absent: not). */
  isEncrypted?: boolean;
};

/** An update names only what it changes. */
type Changes = Identity & {
  url?: string;
  events?: WebhookEventType[];
  description?: string | null;
  active?: boolean;
};

export type WebhookEvent =
  | { type: 'WebhookRegistered'; data: Registration }
  | { type: 'WebhookUpdated'; data: Changes }
  | { type: 'WebhookSecretRotated'; data: Identity & { secret: string; isEncrypted?: boolean } }
  | { type: 'WebhookDeleted'; data: Identity };

export type WebhookState =
  | { exists: false }
  | {
      exists: true;
      webhookId: string;
      tenantId: string;
      url: string;
      events: WebhookEventType[];
      description: string | null;
      secret: string;
      active: boolean;
      deleted: boolean;
    };

export type WebhookCommand =
  | { type: 'RegisterWebhook'; data: Registration }
  | { type: 'UpdateWebhook'; data: Changes }
  | { type: 'RotateWebhookSecret'; data: Identity & { secret: string; isEncrypted?: boolean } }
  | { type: 'DeleteWebhook'; data: Identity };

export const initialWebhookState = (): WebhookState => ({ exists: false });

export function evolveWebhook(state: WebhookState, event: WebhookEvent): WebhookState {
  const d = event.data;
  if (event.type === 'WebhookRegistered') {
    const r = event.data;
    return { exists: true, ...r, active: true, deleted: false };
  }
  if (!state.exists) return state;
  switch (event.type) {
    case 'WebhookUpdated': {
      const u = event.data;
      return {
        ...state,
        ...(u.url !== undefined ? { url: u.url } : {}),
        ...(u.events !== undefined ? { events: u.events } : {}),
        ...(u.description !== undefined ? { description: u.description } : {}),
        ...(u.active !== undefined ? { active: u.active } : {}),
      };
    }
    case 'WebhookSecretRotated':
      return { ...state, secret: event.data.secret };
    case 'WebhookDeleted':
      return { ...state, deleted: true, active: false, webhookId: d.webhookId };
  }
}

function checkEvents(events: WebhookEventType[] | undefined) {
  if (events === undefined) return;
  if (events.length === 0) {
    throw new DomainError('validation', 'events must name at least one event type', 'events');
  }
  const unknown = events.find((e) => !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(e));
  if (unknown) throw new DomainError('validation', `unknown event type '${unknown}'`, 'events');
}

function requireLive(state: WebhookState, webhookId: string) {
  if (!state.exists || state.deleted) {
    throw new DomainError('not_found', `Webhook '${webhookId}' not found`, 'webhookId');
  }
  return state;
}

export function decideWebhook(command: WebhookCommand, state: WebhookState): WebhookEvent[] {
  switch (command.type) {
    case 'RegisterWebhook': {
      if (state.exists) {
        throw new DomainError(
          'already_exists',
          `Webhook ${command.data.webhookId} exists`,
          'webhookId',
        );
      }
      checkEvents(command.data.events);
      return [
        {
          type: 'WebhookRegistered',
          data: { ...command.data, events: [...new Set(command.data.events)] },
        },
      ];
    }
    case 'UpdateWebhook': {
      const live = requireLive(state, command.data.webhookId);
      checkEvents(command.data.events);
      const u = command.data;
      const changed: Partial<Extract<WebhookEvent, { type: 'WebhookUpdated' }>['data']> = {};
      if (u.url !== undefined && u.url !== live.url) changed.url = u.url;
      if (u.events !== undefined) {
        const events = [...new Set(u.events)];
        if (events.join() !== live.events.join()) changed.events = events;
      }
      if (u.description !== undefined && u.description !== live.description) {
        changed.description = u.description;
      }
      if (u.active !== undefined && u.active !== live.active) changed.active = u.active;
      if (Object.keys(changed).length === 0) return [];
      return [
        {
          type: 'WebhookUpdated',
          data: { webhookId: u.webhookId, tenantId: u.tenantId, ...changed },
        },
      ];
    }
    case 'RotateWebhookSecret':
      requireLive(state, command.data.webhookId);
      return [{ type: 'WebhookSecretRotated', data: command.data }];
    case 'DeleteWebhook':
      requireLive(state, command.data.webhookId);
      return [{ type: 'WebhookDeleted', data: command.data }];
  }
}

export const webhookDecider = {
  initialState: initialWebhookState,
  evolve: evolveWebhook,
  decide: decideWebhook,
};
