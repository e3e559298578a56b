/** Read-model rows of API key streams: api_keys (the list the API shows; never the hash). */
import type pg from 'pg';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { eventTime, type ReadModelPart } from '../../core/projections/projection.js';
import { API_KEY_PREFIX } from '../../core/streams.js';
import type { ApiKeyEvent } from './api-key.decider.js';

async function applyApiKey(client: pg.PoolClient, e: RecordedEvent, event: ApiKeyEvent) {
  const at = eventTime(e);
  switch (event.type) {
    case 'ApiKeyCreated': {
      const d = event.data;
      await client.query(
        `INSERT INTO api_keys (key_id, tenant_id, name, scopes, environments, expires_at,
                               created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key_id) DO NOTHING`,
        [
          d.keyId,
          d.tenantId,
          d.name,
          d.scopes,
          d.environments,
          d.expiresAt,
          e.metadata.userId ?? null,
          at,
        ],
      );
      return;
    }
    case 'ApiKeyRevoked':
      await client.query(
        `UPDATE api_keys SET revoked_at = $2, revoked_by = $3
          WHERE key_id = $1 AND revoked_at IS NULL`,
        [event.data.keyId, at, e.metadata.userId ?? null],
      );
      return;
  }
}

export const apiKeysReadModel: ReadModelPart = {
  streamPrefix: API_KEY_PREFIX,
  tables: ['api_keys'],
  apply: (client, e) => applyApiKey(client, e, e as unknown as ApiKeyEvent),
};
