/**
 * The `read-model` projection: tables tenants, configurations, config_versions, approval_requests,
 * deployments, config_schemas, webhooks, api_keys, change_sets and scheduled_changes. They
 * reference each other (the spec's foreign keys), so one
 * projection with one checkpoint owns them all: a row can never arrive before the row it points
 * to. Each feature writes its own rows (its `*.projection.ts`); this file only routes events.
 */
import { tenantsReadModel } from '../../features/tenants/tenants.projection.js';
import { configsReadModel } from '../../features/configs/configs.projection.js';
import { changeRequestsReadModel } from '../../features/change-requests/change-requests.projection.js';
import { deploymentsReadModel } from '../../features/deployments/deployments.projection.js';
import { configSchemasReadModel } from '../../features/config-schemas/config-schemas.projection.js';
import { webhooksReadModel } from '../../features/webhooks/webhooks.projection.js';
import { changeSetsReadModel } from '../../features/change-sets/change-sets.projection.js';
import { scheduledChangesReadModel } from '../../features/scheduled-changes/scheduled-changes.projection.js';
import { apiKeysReadModel } from '../../features/api-keys/api-keys.projection.js';
import type { PostgresProjection, ReadModelPart } from './projection.js';
import { StatementBuffer } from './statement-buffer.js';

/** Parents first: rows are inserted in this order and emptied in the reverse. */
const PARTS: readonly ReadModelPart[] = [
  tenantsReadModel,
  configsReadModel,
  changeRequestsReadModel,
  deploymentsReadModel,
  configSchemasReadModel,
  webhooksReadModel,
  changeSetsReadModel,
  scheduledChangesReadModel,
  apiKeysReadModel,
];

export const readModelProjection: PostgresProjection = {
  name: 'read-model',
  streamPrefixes: PARTS.map((p) => p.streamPrefix),
  tables: [...PARTS].reverse().flatMap((p) => p.tables),
  async apply(client, events) {
    // The parts write row by row: their writes go out together (statement-buffer.ts).
    const buffer = new StatementBuffer(client);
    for (const e of events) {
      await PARTS.find((p) => e.streamId.startsWith(p.streamPrefix))?.apply(buffer.client, e);
    }
    for (const p of PARTS) await p.finish?.(buffer.client);
    await buffer.flush();
  },
};
