/** What time travel shows: a tenant as of a point, and the difference between two points. */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { int } from '../../core/http/common.schemas.js';

const configAt = z.strictObject({
  configId: z.string(),
  type: z.string(),
  version: int,
  value: z.string().describe('masked when the configuration is or ever was sensitive'),
});

export const tenantAsOf = named(
  'TenantAsOf',
  z.strictObject({
    tenantId: z.string(),
    asOf: z
      .strictObject({ at: z.string(), position: z.string() })
      .partial()
      .describe('the point asked for (empty: now)'),
    position: z.string().describe("the tenant's last change at or before the point"),
    environments: z
      .record(z.string(), z.record(z.string(), configAt))
      .describe('environment → key → configuration'),
  }),
);

const side = z.strictObject({ version: int, value: z.string(), type: z.string() }).nullable();

export const tenantDiff = named(
  'TenantDiff',
  z.strictObject({
    tenantId: z.string(),
    from: z.strictObject({ point: z.string(), position: z.string() }),
    to: z.strictObject({ point: z.string().nullable(), position: z.string() }),
    changes: z.array(
      z.strictObject({
        environment: z.string(),
        key: z.string(),
        configId: z.string(),
        change: z.enum(['added', 'removed', 'changed']),
        from: side,
        to: side,
      }),
    ),
  }),
);

export const restoreResult = named(
  'EnvironmentRestore',
  z.strictObject({
    tenantId: z.string(),
    environment: z.string(),
    mode: z
      .enum(['direct', 'change-requests'])
      .describe('change-requests where the environment needs approval'),
    correlationId: z.string().describe('shared by every event and request of the restore'),
    restoredTo: z.string().describe('the position the environment was restored to'),
    position: z.string().nullable().describe('position of the last change (read your writes)'),
    steps: z.array(
      z.strictObject({
        key: z.string(),
        configId: z.string(),
        change: z.enum(['added', 'removed', 'changed']).describe('what happened to it since'),
        action: z.enum(['update', 'create', 'restore', 'delete']),
        value: z.string().nullable().describe('the value set back (masked when sensitive)'),
        approvalId: z.string().nullable(),
      }),
    ),
  }),
);
