/**
 * The what-if's reads: which configurations would use a schema (the read model: those naming
 * it, deleted ones too, since a restored configuration comes back with its schema) and each one's
 * history, replayed from its stream (the store commands see, so encrypted values are checked as
 * their plain text; the answer never shows a value). Writes nothing.
 */
import type pg from 'pg';
import type { EventStore } from '../../core/event-store/event-store.js';
import { DomainError } from '../../core/domain-error.js';
import { configStream } from '../../core/streams.js';
import { historyOf, type ConfigHistory } from './schema-what-if.js';

/** Streams read at once (each is one round trip). */
const PARALLEL = 8;

/** At most this many configurations per what-if (each one's whole history is read). */
export const MAX_WHAT_IF_CONFIGS = 2000;

export async function configsNaming(
  db: pg.Pool,
  tenantId: string,
  schemaId: string,
): Promise<string[]> {
  const { rows } = await db.query<{ config_id: string }>(
    `SELECT config_id FROM configurations WHERE tenant_id = $1 AND schema_id = $2
      ORDER BY environment, key`,
    [tenantId, schemaId],
  );
  return rows.map((r) => r.config_id);
}

/**
 * Each configuration's history, in the order given; 422 naming the item's `field` for one that
 * is not a configuration of the tenant.
 */
export async function historiesOf(
  store: EventStore,
  tenantId: string,
  items: readonly { configId: string; field: string }[],
): Promise<ConfigHistory[]> {
  const histories: ConfigHistory[] = new Array<ConfigHistory>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      const { configId, field } = items[i]!;
      const { events } = await store.readStream(configStream(configId));
      const history = historyOf(events);
      const tenantOf = (events[0]?.data as { tenantId?: unknown } | undefined)?.tenantId;
      if (!history || tenantOf !== tenantId) {
        throw new DomainError(
          'validation',
          `'${configId}' is not a configuration of tenant '${tenantId}'`,
          field,
        );
      }
      histories[i] = history;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return histories;
}
