/**
 * What the API shows of a change set (a promotion or an import): one view, from the read table
 * or from the state a command left. Values of sensitive keys are masked (config.view.ts's rule).
 */
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
import { masked } from '../configs/config.view.js';
import {
  CHANGE_SET_SOURCES,
  type ChangeSetItem,
  type ChangeSetState,
} from './change-set.decider.js';

export const CHANGE_SET_STATUSES = [
  'Pending',
  'Applied',
  'Rejected',
  'Cancelled',
  'Expired',
] as const;

const item = z.strictObject({
  key: z.string(),
  configId: z.string(),
  action: z.enum(['Create', 'Update']),
  type: z.enum(CONFIG_TYPES),
  value: z.string().describe('the new value; masked when sensitive'),
  currentValue: z.string().nullable().describe('the value it replaces; masked when sensitive'),
  baseVersion: int.describe(
    "the key's version when planned (0: new); another one makes the set stale",
  ),
  isSensitive: z.boolean(),
});

export const changeSet = named(
  'ChangeSet',
  z
    .strictObject({
      changeSetId: z.string(),
      tenantId: z.string(),
      environment: z.string().describe('the environment it changes'),
      source: z.enum(CHANGE_SET_SOURCES),
      fromEnvironment: z.string().nullable().describe('a promotion: where the values come from'),
      description: z.string().nullable(),
      items: z.array(item),
      status: z.enum(CHANGE_SET_STATUSES),
      requestedBy: z.string(),
      requiredApprovals: int.describe('0: applied without approval'),
      approvers: z.array(
        z.strictObject({ userId: z.string(), comments: z.string().nullable(), at: recordedTime }),
      ),
      createdAt: recordedTime,
      expiresAt: timestamp,
      resolvedAt: recordedTime,
      resolvedBy: recordedUser,
    })
    .describe('Several keys of one environment changed as one operation (all or none)'),
);
export type ChangeSetView = z.infer<typeof changeSet>;

export const changeSetResult = named(
  'ChangeSetResult',
  changeSet
    .extend({ position })
    .describe('The change set after the command, and the event position'),
);

export const changeSetPage = named('ChangeSetPage', page(changeSet, 'change sets, newest first'));

const itemView = (i: ChangeSetItem) => ({
  key: i.key,
  configId: i.configId,
  action: i.action,
  type: i.type,
  value: masked(i.value, i.isSensitive),
  currentValue: masked(i.currentValue, i.isSensitive),
  baseVersion: i.baseVersion,
  isSensitive: i.isSensitive,
});

/* eslint-disable @typescript-eslint/no-explicit-any */
export const changeSetOfRow = (r: any): ChangeSetView => ({
  changeSetId: r.change_set_id,
  tenantId: r.tenant_id,
  environment: r.environment,
  source: r.source,
  fromEnvironment: r.from_environment,
  description: r.description,
  items: (r.items as ChangeSetItem[]).map(itemView),
  status: r.status,
  requestedBy: r.requested_by,
  requiredApprovals: r.required_approvals,
  approvers: r.approvers,
  createdAt: iso(r.created_at),
  expiresAt: iso(r.expires_at)!,
  resolvedAt: iso(r.resolved_at),
  resolvedBy: r.resolved_by,
});
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The set as a command left it (times recorded with the events are null here). */
export function changeSetOfState(state: ChangeSetState): ChangeSetView {
  if (!state.exists) throw new Error('a command answered with no change set');
  return {
    changeSetId: state.changeSetId,
    tenantId: state.tenantId,
    environment: state.environment,
    source: state.source,
    fromEnvironment: state.fromEnvironment,
    description: state.description,
    items: state.items.map(itemView),
    status: state.status,
    requestedBy: state.requestedBy,
    requiredApprovals: state.requiredApprovals,
    approvers: state.approvers.map((userId) => ({ userId, comments: null, at: null })),
    createdAt: null,
    expiresAt: state.expiresAt,
    resolvedAt: null,
    resolvedBy: null,
  };
}

/** The answer of a promotion or an import: what each key does, and the set if one was recorded. */
export const changeSetOutcome = named(
  'ChangeSetOutcome',
  z.strictObject({
    outcome: z
      .enum(['DryRun', 'Applied', 'Pending', 'Unchanged'])
      .describe(
        'DryRun: nothing written; Applied: every key changed at once; Pending: one change set ' +
          'awaits approval (approve it at /change-sets/{id}/approve); Unchanged: nothing differs',
      ),
    summary: z.strictObject({ create: int, update: int, unchanged: int }),
    items: z.array(
      z.strictObject({
        key: z.string(),
        action: z.enum(['Create', 'Update', 'Unchanged']),
        version: int.nullable().describe('its version after the set applied'),
      }),
    ),
    changeSet: changeSet.nullable(),
    position,
  }),
);

export function changeSetOutcomeOf(o: {
  outcome: 'DryRun' | 'Applied' | 'Pending' | 'Unchanged';
  planned: { key: string; action: 'Create' | 'Update' | 'Unchanged' }[];
  changeSet: ChangeSetState | undefined;
  versions: Record<string, number>;
}) {
  const count = (a: string) => o.planned.filter((p) => p.action === a).length;
  return {
    outcome: o.outcome,
    summary: { create: count('Create'), update: count('Update'), unchanged: count('Unchanged') },
    items: o.planned.map((p) => ({
      key: p.key,
      action: p.action,
      version: o.versions[p.key] ?? null,
    })),
    changeSet: o.changeSet ? changeSetOfState(o.changeSet) : null,
  };
}
