/**
 * What the API shows of a change request: one view, built from the read table (queries) or from
 * the state a command left (command answers). Names follow the spec's columns
 * (approval_requests), camelCased; the names command answers used before stay as deprecated
 * aliases.
 */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import {
  int,
  position,
  recordedTime,
  recordedUser,
  timestamp,
} from '../../core/http/common.schemas.js';
import { iso } from '../../core/postgres/paging.js';
import { CONFIG_TYPES } from '../configs/config-values.js';
import { masked } from '../configs/config.view.js';
import { CHANGE_ACTIONS, type ApprovalState } from './change-request.decider.js';
import { SCHEDULE_STATUSES } from '../scheduled-changes/scheduled-change.view.js';

export const CHANGE_REQUEST_STATUSES = [
  'Pending',
  'Approved',
  'Rejected',
  'Cancelled',
  'Expired',
] as const;

const rollout = z.strictObject({
  strategy: z.enum(['Direct', 'Canary']),
  steps: z.array(int),
  bakeTimeSeconds: z.number(),
  errorThreshold: z.number(),
  minRequests: int,
  minAppliedInstances: int.optional(),
});

const alias = (of: string) => ({ deprecated: true, description: `The same as ${of}.` });

export const changeRequest = named(
  'ChangeRequest',
  z.strictObject({
    approvalId: z.string(),
    tenantId: z.string(),
    configId: z.string(),
    key: z.string().nullable(),
    targetEnvironment: z.string(),
    action: z.enum(CHANGE_ACTIONS),
    type: z.enum(CONFIG_TYPES).nullable().describe("the configuration's type"),
    proposedValue: z.string().nullable().describe('null for a Delete; masked when sensitive'),
    currentValue: z.string().nullable().describe('the value when it was requested'),
    baseVersion: int.nullable().describe('the version it was requested against (0: a new key)'),
    changeDescription: z.string().nullable(),
    requestedBy: z.string(),
    status: z.enum(CHANGE_REQUEST_STATUSES),
    requiredApprovalLevel: int,
    currentApprovalLevel: int,
    approvers: z.array(
      z.strictObject({ userId: z.string(), comments: z.string().nullable(), at: timestamp }),
    ),
    rollout: rollout.nullable().describe('how the change rolls out once approved'),
    newConfig: z
      .strictObject({ description: z.string().nullable(), tags: z.array(z.string()) })
      .nullable()
      .describe('for a new key: the configuration it creates'),
    isSensitive: z.boolean(),
    deploymentId: z
      .string()
      .nullable()
      .describe(
        'the deployment that applies the change (null for a Delete): named in command answers ' +
          'from the request on, in reads once approved',
      ),
    applyAt: timestamp
      .nullable()
      .describe('carried out at this time once approved (null: at the last approval)'),
    schedule: z
      .strictObject({
        scheduleId: z.string(),
        status: z.enum(SCHEDULE_STATUSES).nullable().describe('null when a command could not tell'),
        failure: z.string().nullable().describe('why it was not carried out (stale: it moved)'),
      })
      .nullable()
      .describe('approved with applyAt: the scheduled change that carries it out'),
    createdAt: recordedTime,
    expiresAt: timestamp.describe('unapproved by then, it expires (at applyAt at the latest)'),
    resolvedAt: recordedTime,
    resolvedBy: recordedUser,
    resolvedComments: z.string().nullable().describe("null in a command's answer"),
    environment: z.string().meta(alias('targetEnvironment')),
    description: z.string().nullable().meta(alias('changeDescription')),
    requiredApprovals: int.meta(alias('requiredApprovalLevel')),
  }),
);
export type ChangeRequestView = z.infer<typeof changeRequest>;

export const changeRequestResult = named(
  'ChangeRequestResult',
  changeRequest
    .extend({ position })
    .describe('The change request after the command, and the event position'),
);

/** Fields the view names twice (the canonical name and its deprecated alias). */
const withAliases = (
  v: Omit<ChangeRequestView, 'environment' | 'description' | 'requiredApprovals'>,
) =>
  ({
    ...v,
    environment: v.targetEnvironment,
    description: v.changeDescription,
    requiredApprovals: v.requiredApprovalLevel,
  }) satisfies ChangeRequestView;

/* eslint-disable @typescript-eslint/no-explicit-any */
/** An approval_requests row, with `sensitive` (the request's or its configuration's, ever). */
export const changeRequestOfRow = (r: any): ChangeRequestView =>
  withAliases({
    approvalId: r.approval_id,
    tenantId: r.tenant_id,
    configId: r.config_id,
    key: r.key ?? null,
    targetEnvironment: r.target_environment,
    action: r.action,
    type: r.config_type,
    // A Delete proposes no value (the column holds an empty string).
    proposedValue: r.action === 'Delete' ? null : masked(r.proposed_value, r.sensitive),
    currentValue: masked(r.current_value, r.sensitive),
    baseVersion: r.base_version,
    changeDescription: r.change_description,
    requestedBy: r.requested_by,
    status: r.status,
    requiredApprovalLevel: r.required_approval_level,
    currentApprovalLevel: r.current_approval_level,
    approvers: r.approvers ?? [],
    rollout: r.rollout,
    newConfig: r.new_config,
    isSensitive: r.is_sensitive,
    deploymentId: r.deployment_id,
    applyAt: iso(r.apply_at),
    schedule: r.schedule_id
      ? {
          scheduleId: r.schedule_id,
          status: r.schedule_status ?? null,
          failure: r.schedule_failure ?? null,
        }
      : null,
    createdAt: iso(r.created_at),
    expiresAt: iso(r.expires_at)!,
    resolvedAt: iso(r.resolved_at),
    resolvedBy: r.resolved_by,
    resolvedComments: r.resolved_comments,
  });
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The change request as a command left it. */
export function changeRequestOfState(state: ApprovalState): ChangeRequestView {
  if (!state.exists) throw new Error('a command answered with no change request');
  return withAliases({
    approvalId: state.approvalId,
    tenantId: state.tenantId,
    configId: state.configId,
    key: state.key,
    targetEnvironment: state.environment,
    action: state.action,
    type: state.type,
    proposedValue:
      state.action === 'Delete' ? null : masked(state.proposedValue, state.isSensitive),
    currentValue: masked(state.currentValue, state.isSensitive),
    baseVersion: state.baseVersion,
    changeDescription: state.description,
    requestedBy: state.requestedBy,
    status: state.status,
    requiredApprovalLevel: state.requiredApprovals,
    currentApprovalLevel: state.approvers.length,
    approvers: state.approvers,
    rollout: state.rollout,
    newConfig: state.newConfig,
    isSensitive: state.isSensitive,
    deploymentId: state.deploymentId,
    applyAt: state.applyAt ?? null,
    // A command leaves a timed request's schedule pending (approve) or cancelled (cancel).
    schedule: state.scheduleId
      ? {
          scheduleId: state.scheduleId,
          status:
            state.status === 'Approved'
              ? 'Pending'
              : state.status === 'Cancelled'
                ? 'Cancelled'
                : null,
          failure: null,
        }
      : null,
    createdAt: null,
    expiresAt: state.expiresAt,
    resolvedAt: null,
    resolvedBy: null,
    resolvedComments: null,
  });
}
