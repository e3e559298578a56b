/** What the API shows of a scheduled change: from the read table or a command's state. */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import {
  int,
  page,
  position,
  recordedTime,
  recordedUser,
  timestamp,
} from '../../core/http/common.schemas.js';
import { iso } from '../../core/postgres/paging.js';
import { CONFIG_TYPES } from '../configs/config-values.js';
import { configurationVersionPage, masked } from '../configs/config.view.js';
import type { ScheduledChangeState } from './scheduled-change.decider.js';
import { CHANGE_ACTIONS } from '../change-requests/change-request.decider.js';

export const SCHEDULE_STATUSES = ['Pending', 'Applied', 'Cancelled', 'Failed'] as const;

export const scheduledChange = named(
  'ScheduledChange',
  z.strictObject({
    scheduleId: z.string(),
    tenantId: z.string(),
    configId: z.string(),
    key: z.string(),
    environment: z.string(),
    type: z.enum(CONFIG_TYPES),
    value: z.string().describe('the value it sets; masked when sensitive'),
    baseVersion: int.describe('the version it was scheduled against: another one fails it (stale)'),
    applyAt: timestamp,
    changeDescription: z.string().nullable(),
    status: z.enum(SCHEDULE_STATUSES),
    failure: z.string().nullable().describe('why it failed (stale: the configuration moved)'),
    appliedVersion: int
      .nullable()
      .describe("the configuration's version it became (null for a canary that started)"),
    approvalId: z
      .string()
      .nullable()
      .describe('the approved change request it carries out (null: a direct change)'),
    action: z.enum(CHANGE_ACTIONS).describe('Delete only for a change request that deletes'),
    deploymentId: z
      .string()
      .nullable()
      .describe("a change request's: the deployment it started when applied"),
    requestedBy: z.string(),
    createdAt: recordedTime,
    resolvedAt: recordedTime,
    resolvedBy: recordedUser,
  }),
);
type View = z.infer<typeof scheduledChange>;

export const scheduledChangeResult = named(
  'ScheduledChangeResult',
  scheduledChange.extend({ position }),
);
export const scheduledChangePage = named(
  'ScheduledChangePage',
  page(scheduledChange, 'scheduled changes, by time'),
);

/** A configuration's version history with what is still to come (reads of history). */
export const versionHistory = named(
  'ConfigurationVersionHistory',
  configurationVersionPage.extend({
    pending: z
      .array(scheduledChange)
      .describe('scheduled changes still to come (every page), by time: not yet versions'),
  }),
);

/* eslint-disable @typescript-eslint/no-explicit-any */
export const scheduledChangeOfRow = (r: any): View => ({
  scheduleId: r.schedule_id,
  tenantId: r.tenant_id,
  configId: r.config_id,
  key: r.config_key,
  environment: r.environment,
  type: r.config_type,
  value: masked(r.value, r.masked ?? r.is_sensitive),
  baseVersion: r.base_version,
  applyAt: iso(r.apply_at)!,
  changeDescription: r.change_description,
  status: r.status,
  failure: r.failure,
  appliedVersion: r.applied_version,
  approvalId: r.approval_id ?? null,
  action: r.action ?? 'Update',
  deploymentId: r.deployment_id ?? null,
  requestedBy: r.requested_by,
  createdAt: iso(r.created_at),
  resolvedAt: iso(r.resolved_at),
  resolvedBy: r.resolved_by,
});
/* eslint-enable @typescript-eslint/no-explicit-any */

export function scheduledChangeOfState(s: ScheduledChangeState): View {
  if (!s.exists) throw new Error('a command answered with no scheduled change');
  return {
    scheduleId: s.scheduleId,
    tenantId: s.tenantId,
    configId: s.configId,
    key: s.key,
    environment: s.environment,
    type: s.type,
    // Its writer sees the value, as with a configuration's own command answers.
    value: s.value,
    baseVersion: s.baseVersion,
    applyAt: s.applyAt,
    changeDescription: s.changeDescription,
    status: s.status,
    failure: s.failure,
    appliedVersion: s.appliedVersion,
    approvalId: s.approvalId ?? null,
    action: s.action ?? 'Update',
    deploymentId: s.deploymentId,
    requestedBy: s.requestedBy,
    createdAt: null,
    resolvedAt: null,
    resolvedBy: null,
  };
}
