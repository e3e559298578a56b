/** What the API shows of an audit log entry (one per event; secrets were masked when stored). */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { page, timestamp } from '../../core/http/common.schemas.js';
import { iso } from '../../core/postgres/paging.js';

export const auditLogEntry = named(
  'AuditLogEntry',
  z.strictObject({
    logId: z.string().describe('the event id'),
    eventType: z.string(),
    tenantId: z.string().nullable(),
    configId: z.string().nullable(),
    configKey: z.string().nullable(),
    oldValue: z.string().nullable(),
    newValue: z.string().nullable(),
    userId: z.string().nullable(),
    ipAddress: z.string().nullable(),
    traceId: z.string().nullable(),
    environment: z.string().nullable(),
    details: z
      .record(z.string(), z.unknown())
      .describe('the rest of the event: stream, revision, position, correlation, its data'),
    timestamp,
  }),
);

export const auditLogPage = named(
  'AuditLogPage',
  page(auditLogEntry, 'audit log entries, newest first'),
);

/* eslint-disable @typescript-eslint/no-explicit-any */
export const auditLogEntryOfRow = (r: any): z.infer<typeof auditLogEntry> => ({
  logId: r.log_id,
  eventType: r.event_type,
  tenantId: r.tenant_id,
  configId: r.config_id,
  configKey: r.config_key,
  oldValue: r.old_value,
  newValue: r.new_value,
  userId: r.user_id,
  ipAddress: r.ip_address,
  traceId: r.trace_id,
  environment: r.environment,
  details: r.details,
  timestamp: iso(r.timestamp)!,
});
/* eslint-enable @typescript-eslint/no-explicit-any */
