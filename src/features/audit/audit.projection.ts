/**
 * The `audit-log` projection: one audit_logs row per event, from every stream. Values of sensitive
 * configurations are masked here, at rest: the audit trail never holds a secret. A configuration
 * counts as sensitive from its first event that says so onwards (kept in
 * audit_sensitive_configs): events that carry no flag (a deployment's steps) and events after the
 * flag was switched off (whose old value was a secret) are masked too.
 */
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { MASK } from '../configs/config-values.js';
import { masked, maskedValues } from '../configs/config.view.js';
import type pg from 'pg';
import { APPROVAL_PREFIX } from '../../core/streams.js';
import { eventTime, type PostgresProjection } from '../../core/projections/projection.js';

interface AuditFields {
  tenantId?: string;
  configId?: string;
  key?: string;
  environment?: string;
  targetEnvironment?: string;
  value?: string;
  previousValue?: string | null;
  isSensitive?: boolean;
  isEncrypted?: boolean;
}

/**
 * Data fields that become columns (or are secrets) and so are left out of `details`: a webhook's
 * signing secret and an API key's hash are never shown in the audit trail.
 */
const LIFTED = new Set([
  'tenantId',
  'configId',
  'key',
  'environment',
  'value',
  'previousValue',
  'secret',
  'secretHash',
]);

/** Whether the event names a config that is (or has been) sensitive, or says so itself. */
function sensitiveOf(d: AuditFields, sensitiveConfigs: ReadonlySet<string>): boolean {
  return (
    d.isSensitive === true ||
    d.isEncrypted === true ||
    (d.configId !== undefined && sensitiveConfigs.has(d.configId))
  );
}

export function auditRow(e: RecordedEvent, sensitiveConfigs: ReadonlySet<string> = new Set()) {
  const d = (e.data ?? {}) as AuditFields & Record<string, unknown>;
  // Stored masked: the audit trail never holds a secret (the views' rule, applied when projected).
  const sensitive = sensitiveOf(d, sensitiveConfigs);
  const mask = (v: string | null | undefined) => masked(v ?? null, sensitive);
  const details: Record<string, unknown> = {
    streamId: e.streamId,
    revision: Number(e.revision),
    position: e.position.toString(),
    correlationId: e.metadata.correlationId ?? null,
    causationId: e.metadata.causationId ?? null,
    schemaVersion: e.metadata.schemaVersion,
  };
  // The other values the event names (a change request's proposedValue, …) are secrets too.
  const rest = maskedValues(d, sensitive);
  for (const [k, v] of Object.entries(rest)) if (!LIFTED.has(k)) details[k] = v;
  // A webhook's signing secret is shown once, to its creator: never in the audit trail.
  if (typeof details.secret === 'string') details.secret = MASK;
  // A change set names many keys: each item is masked by its own key's sensitivity.
  if (Array.isArray(d.items)) {
    details.items = (d.items as (AuditFields & Record<string, unknown>)[]).map((i) =>
      maskedValues(i, sensitiveOf(i, sensitiveConfigs)),
    );
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
    // One insert per batch, its columns as arrays (a statement with a placeholder per value
    // cost more to send and to plan than the rows cost to write).
    const columns = rows[0]!.map((_, c) => rows.map((r) => r[c]));
    await client.query(
      `INSERT INTO audit_logs (log_id, event_type, tenant_id, config_id, config_key, old_value,
                               new_value, user_id, ip_address, trace_id, environment, details,
                               timestamp)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                            $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                            $11::text[], $12::jsonb[], $13::timestamp[])`,
      columns,
    );
  },
};
