/**
 * The `audit-log` projection: one audit_logs row per event, from every stream. Values of sensitive
 * configurations are masked here, at rest: the audit trail never holds a secret. A configuration
 * counts as sensitive from its first event that says so onwards (kept in
 * audit_sensitive_configs): events that carry no flag (a deployment's steps) and events after the
 * flag was switched off (whose old value was a secret) are masked too.
 */
import type { RecordedEvent } from '../src/core/event-store/event-store.js';
import { MASK } from '../src/domain/values.js';
import type pg from 'pg';
import { APPROVAL_PREFIX } from '../src/application/streams.js';
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

/** Whether the event names a config that is (or has been) sensitive, or says so itself. */
function sensitiveOf(d: AuditFields, sensitiveConfigs: ReadonlySet<string>): boolean {
  return d.isSensitive === true || (d.configId !== undefined && sensitiveConfigs.has(d.configId));
}

export function auditRow(e: RecordedEvent, sensitiveConfigs: ReadonlySet<string> = new Set()) {
  const d = (e.data ?? {}) as AuditFields & Record<string, unknown>;
  const sensitive = sensitiveOf(d, sensitiveConfigs);
  const mask = (v: string | null | undefined) =>
    v === undefined || v === null ? null : sensitive ? MASK : v;
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
    details[k] = sensitive && /value/i.test(k) ? MASK : v;
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

interface ApprovalContext {
  environment: string;
  configId: string;
  key: string | null;
}

/**
 * Decisions on a change request (granted, approved, rejected, …) carry only its id: give them
 * the request's environment and configuration, from this batch or from audit_approvals.
 */
async function withApprovalContext(
  client: pg.PoolClient,
  events: RecordedEvent[],
): Promise<RecordedEvent[]> {
  const known = new Map<string, ApprovalContext>();
  const requested: [string, ApprovalContext][] = [];
  const wanted = new Set<string>();
  for (const e of events) {
    if (!e.streamId.startsWith(APPROVAL_PREFIX)) continue;
    const d = e.data as {
      approvalId?: string;
      environment?: string;
      configId?: string;
      key?: string;
    };
    if (!d.approvalId) continue;
    if (e.type === 'ApprovalRequested' && d.environment && d.configId) {
      const context = { environment: d.environment, configId: d.configId, key: d.key ?? null };
      known.set(d.approvalId, context);
      requested.push([d.approvalId, context]);
    } else if (!known.has(d.approvalId)) {
      wanted.add(d.approvalId);
    }
  }
  if (requested.length) {
    await client.query(
      `INSERT INTO audit_approvals (approval_id, environment, config_id, config_key)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
       ON CONFLICT DO NOTHING`,
      [
        requested.map(([id]) => id),
        requested.map(([, c]) => c.environment),
        requested.map(([, c]) => c.configId),
        requested.map(([, c]) => c.key),
      ],
    );
  }
  const missing = [...wanted].filter((id) => !known.has(id));
  if (missing.length) {
    const { rows } = await client.query<{
      approval_id: string;
      environment: string;
      config_id: string;
      config_key: string | null;
    }>('SELECT * FROM audit_approvals WHERE approval_id = ANY($1)', [missing]);
    for (const r of rows) {
      known.set(r.approval_id, {
        environment: r.environment,
        configId: r.config_id,
        key: r.config_key,
      });
    }
  }
  if (!known.size) return events;
  return events.map((e) => {
    const d = e.data as { approvalId?: string; environment?: string };
    if (!e.streamId.startsWith(APPROVAL_PREFIX) || !d.approvalId || d.environment) return e;
    const context = known.get(d.approvalId);
    if (!context) return e;
    return {
      ...e,
      data: {
        ...d,
        environment: context.environment,
        configId: context.configId,
        ...(context.key ? { key: context.key } : {}),
      },
    };
  });
}

export const auditLogProjection: PostgresProjection = {
  name: 'audit-log',
  streamPrefixes: [],
  tables: ['audit_logs', 'audit_sensitive_configs', 'audit_approvals'],
  async apply(client, events) {
    events = await withApprovalContext(client, events);
    // Which configs of this batch were sensitive before it; then, in log order, the events that
    // make one sensitive (so rows never depend on where batches happen to start).
    const ids = [
      ...new Set(
        events
          .map((e) => (e.data as AuditFields | undefined)?.configId)
          .filter((id): id is string => typeof id === 'string'),
      ),
    ];
    const sensitive = new Set<string>();
    if (ids.length) {
      const { rows: known } = await client.query<{ config_id: string }>(
        'SELECT config_id FROM audit_sensitive_configs WHERE config_id = ANY($1)',
        [ids],
      );
      for (const r of known) sensitive.add(r.config_id);
    }
    const added: string[] = [];
    // One multi-row insert per batch: the audit log sees every event, so keep it cheap.
    const rows = events.map((e) => {
      const d = (e.data ?? {}) as AuditFields;
      if (d.isSensitive === true && d.configId && !sensitive.has(d.configId)) {
        sensitive.add(d.configId);
        added.push(d.configId);
      }
      return auditRow(e, sensitive);
    });
    if (added.length) {
      await client.query(
        'INSERT INTO audit_sensitive_configs (config_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING',
        [added],
      );
    }
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
