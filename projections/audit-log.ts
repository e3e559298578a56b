/**
 * The `audit-log` projection: one audit_logs row per event, from every stream. Values of sensitive
 * configurations are masked here, at rest: the audit trail never holds a secret.
 */
import type { RecordedEvent } from '../src/core/event-store/event-store.js';
import { MASK } from '../src/domain/values.js';
import { eventTime, type PostgresProjection } from './projection.js';

interface AuditFields {
  tenantId?: string;
  configId?: string;
  key?: string;
  environment?: string;
  targetEnvironment?: string;
  value?: string;
  previousValue?: string | null;
  isSensitive?: boolean;
}

/** Data fields that become columns (or are secrets) and so are left out of `details`. */
const LIFTED = new Set(['tenantId', 'configId', 'key', 'environment', 'value', 'previousValue']);

export function auditRow(e: RecordedEvent) {
  const d = (e.data ?? {}) as AuditFields & Record<string, unknown>;
  const mask = (v: string | null | undefined) =>
    v === undefined || v === null ? null : d.isSensitive ? MASK : v;
  const details: Record<string, unknown> = {
    streamId: e.streamId,
    revision: Number(e.revision),
    position: e.position.toString(),
    correlationId: e.metadata.correlationId ?? null,
    causationId: e.metadata.causationId ?? null,
    schemaVersion: e.metadata.schemaVersion,
  };
  for (const [k, v] of Object.entries(d)) {
    if (LIFTED.has(k)) continue;
    // Nested proposals (e.g. proposedValue) of sensitive configs are secrets too.
    details[k] = d.isSensitive && /value/i.test(k) ? MASK : v;
  }
  return [
    e.id,
    e.type,
    d.tenantId ?? null,
    d.configId ?? null,
    d.key ?? null,
    mask(d.previousValue),
    mask(d.value),
    e.metadata.userId ?? null,
    e.metadata.ipAddress ?? null,
    e.metadata.traceId ?? null,
    d.environment ?? d.targetEnvironment ?? null,
    JSON.stringify(details),
    eventTime(e),
  ];
}

export const auditLogProjection: PostgresProjection = {
  name: 'audit-log',
  streamPrefixes: [],
  tables: ['audit_logs'],
  async apply(client, events) {
    // One multi-row insert per batch: the audit log sees every event, so keep it cheap.
    const rows = events.map(auditRow);
    const width = rows[0]!.length;
    const placeholders = rows
      .map(
        (_, r) =>
          `(${Array.from({ length: width }, (_, c) => `$${r * width + c + 1}`).join(', ')})`,
      )
      .join(', ');
    await client.query(
      `INSERT INTO audit_logs (log_id, event_type, tenant_id, config_id, config_key, old_value,
                               new_value, user_id, ip_address, trace_id, environment, details,
                               timestamp)
       VALUES ${placeholders}`,
      rows.flat(),
    );
  },
};
