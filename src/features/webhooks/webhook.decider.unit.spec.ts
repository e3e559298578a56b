import { expect } from 'chai';
import { givenFor } from '../../core/testing/given-when-then.js';
import {
  decideWebhook,
  evolveWebhook,
  initialWebhookState,
  type WebhookCommand,
  type WebhookEvent,
} from './webhook.decider.js';

const given = givenFor(evolveWebhook, initialWebhookState);
const id = { webhookId: 'wh_1', tenantId: 'acme' };
const registered: WebhookEvent = {
  type: 'WebhookRegistered',
  data: {
    ...id,
    url: 'https://example.com/h',
    events: ['config.changed'],
    description: null,
    secret: 'whsec_AAAA',
  },
};
const when = (command: WebhookCommand) => (state: Parameters<typeof decideWebhook>[1]) =>
  decideWebhook(command, state);

describe('webhook decider', function () {
  it('registers a webhook once, with its event types deduplicated', function () {
    given([])
      .when(
        when({
          type: 'RegisterWebhook',
          data: { ...registered.data, events: ['config.changed', 'config.changed'] },
        }),
      )
      .then([registered]);
    given([registered])
      .when(when({ type: 'RegisterWebhook', data: registered.data }))
      .thenRefused('already_exists', 'webhookId');
  });

  it('refuses an empty or unknown event filter', function () {
    given([])
      .when(when({ type: 'RegisterWebhook', data: { ...registered.data, events: [] } }))
      .thenRefused('validation', 'events');
    given([registered])
      .when(
        when({
          type: 'UpdateWebhook',
          data: { ...id, events: ['config.exploded' as never] },
        }),
      )
      .thenRefused('validation', 'events');
  });

  it('records only what an update changes, and nothing when nothing changes', function () {
    given([registered])
      .when(
        when({
          type: 'UpdateWebhook',
          data: { ...id, url: 'https://example.com/h', active: false },
        }),
      )
      .then([{ type: 'WebhookUpdated', data: { ...id, active: false } }]);
    given([registered])
      .when(when({ type: 'UpdateWebhook', data: { ...id, events: ['config.changed'] } }))
      .thenNothing();
  });

  it('rotates the secret and deletes; a deleted webhook takes no more commands', function () {
    const state = given([registered])
      .when(when({ type: 'RotateWebhookSecret', data: { ...id, secret: 'whsec_BBBB' } }))
      .then([{ type: 'WebhookSecretRotated', data: { ...id, secret: 'whsec_BBBB' } }]);
    expect(state.exists && state.secret).to.equal('whsec_BBBB');
    const deleted: WebhookEvent = { type: 'WebhookDeleted', data: id };
    given([registered])
      .when(when({ type: 'DeleteWebhook', data: id }))
      .then([deleted]);
    given([registered, deleted])
      .when(when({ type: 'UpdateWebhook', data: { ...id, active: true } }))
      .thenRefused('not_found', 'webhookId');
  });
});
