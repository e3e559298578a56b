/** Read-model rows of config schema streams: config_schemas. */
import type pg from 'pg';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { eventTime, type ReadModelPart } from '../../core/projections/projection.js';
import { SCHEMA_PREFIX } from '../../core/streams.js';
import type { SchemaEvent } from './config-schema.decider.js';

async function applySchema(client: pg.PoolClient, e: RecordedEvent, event: SchemaEvent) {
  const d = event.data;
  await client.query(
    `INSERT INTO config_schemas (tenant_id, schema_id, version, schema, description, updated_by,
                                 updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (tenant_id, schema_id) DO UPDATE SET version = EXCLUDED.version,
       schema = EXCLUDED.schema, description = EXCLUDED.description,
       updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at`,
    [
      d.tenantId,
      d.schemaId,
      d.version,
      JSON.stringify(d.schema),
      d.description,
      e.metadata.userId ?? 'system',
      eventTime(e),
    ],
  );
}

export const configSchemasReadModel: ReadModelPart = {
  streamPrefix: SCHEMA_PREFIX,
  tables: ['config_schemas'],
  apply: (client, e) => applySchema(client, e, e as unknown as SchemaEvent),
};
