/** What a future preview answers (future-preview.ts builds it). */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { int } from '../../core/http/common.schemas.js';

const kind = z
  .enum(['ScheduledChange', 'ChangeRequest'])
  .describe('a scheduled change, or a pending change request');

const appliedChange = z.strictObject({
  kind,
  id: z.string().describe('the scheduleId or the approvalId'),
  configId: z.string(),
  key: z.string(),
  action: z.enum(['Update', 'Delete']),
  effectiveAt: z
    .string()
    .describe('when it takes effect (a request without applyAt: on approval, now)'),
  fromVersion: int.nullable(),
  toVersion: int,
  strategy: z
    .enum(['Direct', 'Canary'])
    .nullable()
    .describe("a request's rollout: a canary's value is shown as once it completes"),
  assumes: z
    .enum(['approval'])
    .nullable()
    .describe('what the preview takes for granted: a pending request is approved by then'),
  requestedBy: z.string().nullable(),
});

const notApplied = z.strictObject({
  kind,
  id: z.string(),
  configId: z.string(),
  key: z.string(),
  effectiveAt: z.string(),
  reason: z.string().describe('why it would fail: stale, deleted, expired, key exists'),
});

export const environmentPreview = named(
  'EnvironmentPreview',
  z.strictObject({
    tenantId: z.string(),
    environment: z.string(),
    at: z.string().describe('the time previewed'),
    now: z.string().describe('when the preview was made: requests without applyAt apply then'),
    configs: z
      .record(z.string(), z.unknown())
      .describe('each key then, typed (sensitive values masked)'),
    versions: z.record(z.string(), int),
    applied: z.array(appliedChange).describe('the waiting changes applied, in order'),
    notApplied: z.array(notApplied).describe('due by then but would fail, in order'),
    later: int.describe('waiting changes that take effect after `at`'),
  }),
);
