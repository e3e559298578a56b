/** Read-model rows of webhook streams: webhooks (the list the API shows; never the secret). */
import type pg from 'pg';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { eventTime, type ReadModelPart } from '../../core/projections/projection.js';
import { WEBHOOK_PREFIX } from '../../core/streams.js';
import type { WebhookEvent } from './webhook.decider.js';

async function applyWebhook(client: pg.PoolClient, e: RecordedEvent, event: WebhookEvent) {
  const at = eventTime(e);
  const d = event.data;
  switch (event.type) {
    case 'WebhookRegistered':
      await client.query(
        `INSERT INTO webhooks (webhook_id, tenant_id, url, events, description, active, created_by,
                               created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, TRUE, $6, $7, $7) ON CONFLICT (webhook_id) DO NOTHING`,
        [
          d.webhookId,
          d.tenantId,
          event.data.url,
          event.data.events,
          event.data.description,
          e.metadata.userId ?? null,
          at,
        ],
      );
      return;
    case 'WebhookUpdated': {
      const u = event.data;
      await client.query(
        `UPDATE webhooks SET url = COALESCE($2, url), events = COALESCE($3, events),
                description = CASE WHEN $4 THEN $5 ELSE description END,
                active = COALESCE($6, active), updated_at = $7
          WHERE webhook_id = $1`,
        [
          d.webhookId,
          u.url ?? null,
          u.events ?? null,
          u.description !== undefined,
          u.description ?? null,
          u.active ?? null,
          at,
        ],
      );
      return;
    }
    case 'WebhookSecretRotated':
      await client.query('UPDATE webhooks SET updated_at = $2 WHERE webhook_id = $1', [
        d.webhookId,
        at,
      ]);
      return;
    case 'WebhookDeleted':
      await client.query(
        'UPDATE webhooks SET active = FALSE, deleted_at = $2, updated_at = $2 WHERE webhook_id = $1',
        [d.webhookId, at],
      );
      return;
  }
}

export const webhooksReadModel: ReadModelPart = {
  streamPrefix: WEBHOOK_PREFIX,
  tables: ['webhooks'],
  apply: (client, e) => applyWebhook(client, e, e as unknown as WebhookEvent),
};
