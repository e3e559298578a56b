/**
 * Webhook commands. A URL is checked (form, and that it does not resolve into a private network)
 * before anything is decided, so a bad one is a 400 that leaves nothing behind.
 */
import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../core/event-store/event-store.js';
import { DomainError } from '../../core/domain-error.js';
import type { CommandContext, CommandOutcome } from '../../core/commands/command-handling.js';
import { CommandHandler } from '../../core/commands/command-handler.js';
import { tenantStream, webhookStream } from '../../core/streams.js';
import { requireActiveTenant, tenantDecider } from '../tenants/tenant.decider.js';
import { webhookDecider, type WebhookCommand, type WebhookState } from './webhook.decider.js';
import type { WebhookEventType } from './webhook-events.js';
import { newWebhookSecret } from './webhook-signing.js';
import { checkWebhookUrl, WebhookUrlError } from './webhook-url-guard.js';

export const newWebhookId = () => `wh_${randomUUID().replace(/-/g, '')}`;

export class WebhookCommands {
  private readonly handler: CommandHandler;
  constructor(
    store: EventStore,
    private readonly allowPrivateNetworks: boolean,
    /** Encryption at rest is configured: signing secrets are stored encrypted. */
    private readonly encryptSecrets = false,
  ) {
    this.handler = new CommandHandler(store);
  }

  async register(
    cmd: { tenantId: string; url: string; events: WebhookEventType[]; description?: string | null },
    ctx: CommandContext,
  ) {
    const url = await this.checkedUrl(cmd.url);
    requireActiveTenant(
      await this.handler.state(tenantDecider, tenantStream(cmd.tenantId)),
      cmd.tenantId,
    );
    const webhookId = newWebhookId();
    return this.run(cmd.tenantId, webhookId, ctx, {
      type: 'RegisterWebhook',
      data: {
        webhookId,
        tenantId: cmd.tenantId,
        url,
        events: cmd.events,
        description: cmd.description ?? null,
        secret: newWebhookSecret(),
        ...this.encrypted(),
      },
    });
  }

  async update(
    cmd: {
      tenantId: string;
      webhookId: string;
      url?: string;
      events?: WebhookEventType[];
      description?: string | null;
      active?: boolean;
    },
    ctx: CommandContext,
  ) {
    const url = cmd.url === undefined ? undefined : await this.checkedUrl(cmd.url);
    return this.run(cmd.tenantId, cmd.webhookId, ctx, {
      type: 'UpdateWebhook',
      data: { ...cmd, ...(url !== undefined ? { url } : {}) },
    });
  }

  rotateSecret(cmd: { tenantId: string; webhookId: string }, ctx: CommandContext) {
    return this.run(cmd.tenantId, cmd.webhookId, ctx, {
      type: 'RotateWebhookSecret',
      data: { ...cmd, secret: newWebhookSecret(), ...this.encrypted() },
    });
  }

  delete(cmd: { tenantId: string; webhookId: string }, ctx: CommandContext) {
    return this.run(cmd.tenantId, cmd.webhookId, ctx, { type: 'DeleteWebhook', data: cmd });
  }

  private encrypted(): { isEncrypted?: true } {
    return this.encryptSecrets ? { isEncrypted: true } : {};
  }

  private async checkedUrl(raw: string): Promise<string> {
    try {
      return (await checkWebhookUrl(raw, this.allowPrivateNetworks)).href;
    } catch (error) {
      if (error instanceof WebhookUrlError) {
        throw new DomainError('validation', `url ${error.message}`, 'url');
      }
      throw error;
    }
  }

  private async run(
    tenantId: string,
    webhookId: string,
    ctx: CommandContext,
    command: WebhookCommand,
  ): Promise<CommandOutcome<WebhookState>> {
    const { state, position } = await this.handler.handle(
      webhookDecider,
      webhookStream(tenantId, webhookId),
      command,
      ctx,
    );
    return { state, position };
  }
}
