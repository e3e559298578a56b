/** The audit log's query. */
import { z } from 'zod';
import { instant, paging } from '../../core/http/common.schemas.js';
import { tenantId } from '../tenants/tenants.schemas.js';

export const auditQuery = z.object({
  tenantId: tenantId.optional().describe('required unless the token is platform-admin'),
  configId: z.string().max(50).optional(),
  eventType: z.string().max(100).optional(),
  from: instant.optional().describe('from this time on (ISO 8601)'),
  to: instant.optional().describe('before this time (ISO 8601)'),
  ...paging,
});
