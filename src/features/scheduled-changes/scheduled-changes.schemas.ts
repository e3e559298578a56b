/** Request schemas of scheduled changes. */
import { z } from 'zod';
import { instant, paging } from '../../core/http/common.schemas.js';
import { named } from '../../core/http/route.js';
import { tenantId } from '../tenants/tenants.schemas.js';
import { value } from '../configs/configs.schemas.js';
import { SCHEDULE_STATUSES } from './scheduled-change.view.js';

export const scheduleId = z
  .string()
  .regex(/^sch_[a-f0-9]{32}$/, 'must be a scheduled change id (sch_…)')
  .meta({ examples: ['sch_0123456789abcdef0123456789abcdef'] });

export const scheduleParams = z.object({ tenantId, scheduleId });

export const scheduleBody = named(
  'ScheduleChangeBody',
  z
    .strictObject({
      value,
      applyAt: instant.describe('when to apply it (ISO 8601, in the future)'),
      expectedVersion: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe('the version you are changing; applying at another one fails it as stale'),
      changeDescription: z.string().max(2000).nullable().optional(),
    })
    .meta({ examples: [{ value: 'false', applyAt: '2030-01-01T09:00:00Z', expectedVersion: 1 }] }),
);

export const schedulesQuery = z.object({
  status: z.enum(SCHEDULE_STATUSES).optional(),
  configId: z.string().max(50).optional(),
  ...paging,
});
