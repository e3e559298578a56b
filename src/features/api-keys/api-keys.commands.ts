/**
 * API key commands. The secret is made here and returned once with the created key; the events
 * keep only its hash. A revocation is announced on Redis (every API replica drops the key from
 * its cache at once) after it is recorded.
 */
import type { EventStore } from '../../core/event-store/event-store.js';
import type { CommandContext, CommandOutcome } from '../../core/commands/command-handling.js';
import { CommandHandler } from '../../core/commands/command-handler.js';
import { apiKeyStream, tenantStream } from '../../core/streams.js';
import { requireActiveTenant, tenantDecider } from '../tenants/tenant.decider.js';
import type { ApiKeyScope } from '../../core/auth/principal.js';
import { apiKeyDecider, type ApiKeyCommand, type ApiKeyState } from './api-key.decider.js';
import { apiKeyToken, hashApiKeySecret, newApiKeyId, newApiKeySecret } from './api-key-secret.js';

export class ApiKeyCommands {
  private readonly handler: CommandHandler;
  constructor(
    store: EventStore,
    /** Tells every API replica that a key was revoked (Redis pub/sub). */
    private readonly announceRevoked: (keyId: string) => Promise<void>,
  ) {
    this.handler = new CommandHandler(store);
  }

  async create(
    cmd: {
      tenantId: string;
      name: string;
      scopes: ApiKeyScope[];
      environments?: string[] | null;
      expiresAt?: string | null;
    },
    ctx: CommandContext,
  ): Promise<CommandOutcome<ApiKeyState> & { token: string }> {
    requireActiveTenant(
      await this.handler.state(tenantDecider, tenantStream(cmd.tenantId)),
      cmd.tenantId,
    );
    const keyId = newApiKeyId();
    const secret = newApiKeySecret();
    const outcome = await this.run(keyId, ctx, {
      type: 'CreateApiKey',
      data: {
        keyId,
        tenantId: cmd.tenantId,
        name: cmd.name,
        scopes: cmd.scopes,
        environments: cmd.environments ?? null,
        expiresAt: cmd.expiresAt ? new Date(cmd.expiresAt).toISOString() : null,
        secretHash: hashApiKeySecret(secret),
        now: new Date(),
      },
    });
    return { ...outcome, token: apiKeyToken(keyId, secret) };
  }

  async revoke(cmd: { tenantId: string; keyId: string }, ctx: CommandContext) {
    const outcome = await this.run(cmd.keyId, ctx, { type: 'RevokeApiKey', data: cmd });
    // Also when it was revoked before (a retried DELETE): the announcement may have been lost.
    await this.announceRevoked(cmd.keyId).catch(() => undefined);
    return outcome;
  }

  private async run(
    keyId: string,
    ctx: CommandContext,
    command: ApiKeyCommand,
  ): Promise<CommandOutcome<ApiKeyState>> {
    const { state, position } = await this.handler.handle(
      apiKeyDecider,
      apiKeyStream(keyId),
      command,
      ctx,
    );
    return { state, position };
  }
}
