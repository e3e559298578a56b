/** The audit trail: one entry per event, from the audit-log projection. */
import { ok, route } from '../../core/http/route.js';
import { environmentsIn, isPlatformAdmin } from '../../core/auth/auth.js';
import { HttpProblem } from '../../core/http/problem.js';
import { auditQuery } from './audit.schemas.js';
import { auditLogPage } from './audit.view.js';

const listAuditLogs = route({
  operationId: 'listAuditLogs',
  method: 'get',
  path: '/api/v1/audit-logs',
  tag: 'Audit',
  summary: 'Audit trail (paged; sensitive values masked)',
  description: 'tenantId is required unless the token is platform-admin.',
  access: 'read',
  request: { query: auditQuery },
  readYourWrites: ['audit-log'],
  responses: { 200: { description: 'A page', schema: auditLogPage } },
  errors: [403, 404],
  async handle({ query }, { s, principal, allow }) {
    const admin = isPlatformAdmin(principal);
    if (!query.tenantId && !admin) {
      throw new HttpProblem(400, 'Invalid request', 'tenantId is required', { field: 'tenantId' });
    }
    if (query.tenantId) allow(query.tenantId);
    const page = await s.queries.audit.auditLogs({
      ...query,
      from: query.from ? new Date(query.from) : undefined,
      to: query.to ? new Date(query.to) : undefined,
      // A token limited to some environments sees only their events.
      environments: query.tenantId ? environmentsIn(principal, query.tenantId) : null,
    });
    return ok(page);
  },
});

export const auditRoutes = [listAuditLogs];
