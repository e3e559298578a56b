/**
 * Change set aggregate (stream `changeset-{tenantId}:{changeSetId}`): several keys of one
 * environment changed together, as a promotion from another environment or an import. Where the
 * environment needs approval the set waits for it as ONE change request; approved, every key is
 * written in one atomic append (all or nothing), each key getting its own version. Every item
 * remembers the version of the key it was planned against: if any key moved since, the whole set
 * is refused as stale, naming each key that moved, instead of overwriting the newer value.
 */
import { DomainError } from '../../core/domain-error.js';
import { MASK, normaliseValue, type ConfigType } from '../configs/config-values.js';
import {
  configIdFor,
  decideCreateConfig,
  decideUpdateConfig,
  type ConfigurationEvent,
  type ConfigurationState,
} from '../configs/config.decider.js';

export type ChangeSetStatus = 'Pending' | 'Applied' | 'Rejected' | 'Cancelled' | 'Expired';
export const CHANGE_SET_SOURCES = ['Promotion', 'Import'] as const;
export type ChangeSetSource = (typeof CHANGE_SET_SOURCES)[number];

/** What a key should become. Type is required for a key the environment does not have yet. */
export interface Proposal {
  key: string;
  type?: ConfigType;
  /** The type of a new key when none is given (files that carry no types). */
  typeIfNew?: ConfigType;
  value: unknown;
  isSensitive?: boolean;
  description?: string | null;
  tags?: string[];
}

/** One key of a set, planned against the target's state. */
export interface ChangeSetItem {
  key: string;
  configId: string;
  action: 'Create' | 'Update';
  type: ConfigType;
  /** The value as stored (normalised text). */
  value: string;
  /** The value it replaces (null for a new key). */
  currentValue: string | null;
  /** The key's version when planned; 0 = it did not exist. Applying at another version is stale. */
  baseVersion: number;
  isSensitive: boolean;
  description: string | null;
  tags: string[];
}

export interface PlannedItem {
  key: string;
  action: 'Create' | 'Update' | 'Unchanged';
  item?: ChangeSetItem;
}

export type ChangeSetEvent =
  | {
      type: 'ChangeSetRequested';
      data: {
        changeSetId: string;
        tenantId: string;
        environment: string;
        source: ChangeSetSource;
        /** The environment promoted from (Promotion only). */
        fromEnvironment: string | null;
        description: string | null;
        items: ChangeSetItem[];
        requestedBy: string;
        requiredApprovals: number;
        expiresAt: string;
      };
    }
  | {
      type: 'ChangeSetApprovalGranted';
      data: { changeSetId: string; tenantId: string; approver: string; comments: string | null };
    }
  | {
      type: 'ChangeSetApplied';
      data: {
        changeSetId: string;
        tenantId: string;
        appliedBy: string;
        /** Applied by its last approval (absent: at once, or recorded before this was said). */
        approved?: boolean;
      };
    }
  | {
      type: 'ChangeSetRejected';
      data: { changeSetId: string; tenantId: string; rejectedBy: string; comments: string | null };
    }
  | {
      type: 'ChangeSetCancelled';
      data: { changeSetId: string; tenantId: string; cancelledBy: string; comments: string | null };
    }
  /** Nobody approved it in time (the approval-expiry job, as for a change request). */
  | {
      type: 'ChangeSetExpired';
      data: { changeSetId: string; tenantId: string; expiresAt: string };
    };

type Requested = Extract<ChangeSetEvent, { type: 'ChangeSetRequested' }>['data'];

export type ChangeSetState =
  { exists: false } | ({ exists: true; status: ChangeSetStatus; approvers: string[] } & Requested);

export const initialChangeSetState = (): ChangeSetState => ({ exists: false });

export function evolveChangeSet(state: ChangeSetState, event: ChangeSetEvent): ChangeSetState {
  if (event.type === 'ChangeSetRequested') {
    return { exists: true, status: 'Pending', approvers: [], ...event.data };
  }
  if (!state.exists) return state;
  switch (event.type) {
    case 'ChangeSetApprovalGranted':
      return { ...state, approvers: [...state.approvers, event.data.approver] };
    case 'ChangeSetApplied':
      return { ...state, status: 'Applied' };
    case 'ChangeSetRejected':
      return { ...state, status: 'Rejected' };
    case 'ChangeSetCancelled':
      return { ...state, status: 'Cancelled' };
    case 'ChangeSetExpired':
      return { ...state, status: 'Expired' };
  }
}

const itemField = (key: string) => `keys.${key}`;

/**
 * Plans one key against the target's state: its type is the target's (a key is never re-typed),
 * the value must be valid for it, and an equal value is Unchanged.
 */
export function planItem(
  target: ConfigurationState,
  tenantId: string,
  environment: string,
  p: Proposal,
): PlannedItem {
  const live = target.exists && !target.deleted ? target : undefined;
  if (live && p.type !== undefined && p.type !== live.type) {
    throw new DomainError(
      'validation',
      `'${p.key}' is a ${live.type} in ${environment}, not a ${p.type}: keys are never re-typed`,
      itemField(p.key),
    );
  }
  const type = live?.type ?? p.type ?? p.typeIfNew;
  if (!type) {
    throw new DomainError(
      'validation',
      `'${p.key}' does not exist in ${environment}: its type is needed`,
      itemField(p.key),
    );
  }
  // Exports mask secrets: the mask given back for a secret keeps its value, and is never stored.
  if (p.value === MASK) {
    if (live?.isSensitive) return { key: p.key, action: 'Unchanged' };
    throw new DomainError(
      'validation',
      `'${p.key}' has the masked value ${MASK}: exports do not hold secrets, set it directly`,
      itemField(p.key),
    );
  }
  let value: string;
  try {
    value = normaliseValue(type, p.value);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new DomainError('validation', `'${p.key}': ${why}`, itemField(p.key));
  }
  const isSensitive = live?.isSensitive ?? p.isSensitive ?? false;
  if (live && live.value === value) return { key: p.key, action: 'Unchanged' };
  const action = live ? 'Update' : 'Create';
  return {
    key: p.key,
    action,
    item: {
      key: p.key,
      configId: configIdFor(tenantId, environment, p.key),
      action,
      type,
      value,
      currentValue: live ? live.value : null,
      baseVersion: target.exists ? target.version : 0,
      isSensitive,
      description: live ? live.description : (p.description ?? null),
      tags: live ? live.tags : (p.tags ?? []),
    },
  };
}

/** A key whose version is not the one its item was planned against. */
export interface Conflict {
  key: string;
  expectedVersion: number;
  currentVersion: number;
}

/** Refuses the whole set when any key moved since it was planned (or since the caller looked). */
export function requireFresh(conflicts: Conflict[], environment: string): void {
  if (conflicts.length === 0) return;
  throw new DomainError(
    'stale',
    `Changed in ${environment} since: ` +
      conflicts
        .map((c) => `'${c.key}' (version ${c.expectedVersion}, now ${c.currentVersion})`)
        .join(', '),
    undefined,
    { conflicts },
  );
}

const versionOf = (s: ConfigurationState) => (s.exists ? s.version : 0);

/**
 * The config events that apply every item, or a stale refusal listing each key that moved. Each
 * key's own rules still hold (a deployment holding it refuses the set, naming the key).
 */
export function decideApplyItems(
  items: ChangeSetItem[],
  states: ReadonlyMap<string, ConfigurationState>,
  ctx: { tenantId: string; environment: string; description: string },
): Map<string, ConfigurationEvent[]> {
  const state = (i: ChangeSetItem) => states.get(i.configId) ?? { exists: false as const };
  requireFresh(
    items
      .filter((i) => versionOf(state(i)) !== i.baseVersion)
      .map((i) => ({
        key: i.key,
        expectedVersion: i.baseVersion,
        currentVersion: versionOf(state(i)),
      })),
    ctx.environment,
  );
  const out = new Map<string, ConfigurationEvent[]>();
  for (const i of items) {
    try {
      const s = state(i);
      const live = s.exists && !s.deleted;
      out.set(
        i.configId,
        live
          ? decideUpdateConfig(s, {
              configId: i.configId,
              expectedVersion: i.baseVersion,
              value: i.value,
              changeDescription: ctx.description,
            })
          : decideCreateConfig(s, {
              tenantId: ctx.tenantId,
              environment: ctx.environment,
              key: i.key,
              type: i.type,
              value: i.value,
              isSensitive: i.isSensitive,
              description: i.description,
              tags: i.tags,
              // A deleted key comes back with the schema (and default) it had.
              ...(s.exists && s.type === i.type
                ? { schemaId: s.schemaId, defaultValue: s.defaultValue }
                : {}),
              changeDescription: ctx.description,
            }),
      );
    } catch (error) {
      if (error instanceof DomainError) {
        throw new DomainError(error.code, `'${i.key}': ${error.message}`, itemField(i.key));
      }
      throw error;
    }
  }
  return out;
}

export type ChangeSetCommand =
  | { type: 'RequestChangeSet'; data: Requested }
  | {
      type: 'ApproveChangeSet';
      data: { changeSetId: string; approver: string; comments: string | null; now: Date };
    }
  | {
      type: 'RejectChangeSet';
      data: { changeSetId: string; by: string; comments: string | null; now: Date };
    }
  | {
      type: 'CancelChangeSet';
      data: { changeSetId: string; by: string; comments: string | null; now: Date };
    }
  | { type: 'ExpireChangeSet'; data: { now: Date } };

type Live = Extract<ChangeSetState, { exists: true }>;

function requirePending(state: ChangeSetState, changeSetId: string, now: Date): Live {
  if (!state.exists) {
    throw new DomainError('not_found', `Change set '${changeSetId}' not found`, 'changeSetId');
  }
  if (state.status !== 'Pending') {
    throw new DomainError('invalid_state', `Change set ${changeSetId} is ${state.status}`);
  }
  if (now.getTime() >= Date.parse(state.expiresAt)) {
    throw new DomainError('invalid_state', `Change set ${changeSetId} has expired`);
  }
  return state;
}

/** True when these events apply the set: the caller appends the config events with them. */
export const appliesSet = (events: ChangeSetEvent[]) =>
  events.some((e) => e.type === 'ChangeSetApplied');

export function decideChangeSet(
  command: ChangeSetCommand,
  state: ChangeSetState,
): ChangeSetEvent[] {
  switch (command.type) {
    case 'RequestChangeSet': {
      const request = command.data;
      if (state.exists) {
        throw new DomainError(
          'already_exists',
          `Change set ${request.changeSetId} exists`,
          'changeSetId',
        );
      }
      if (request.items.length === 0) {
        throw new DomainError('validation', 'Nothing to change: every key is unchanged', 'keys');
      }
      const events: ChangeSetEvent[] = [{ type: 'ChangeSetRequested', data: request }];
      // Where no approval is needed the set applies at once (the caller appends its keys' events).
      if (request.requiredApprovals === 0) {
        events.push({
          type: 'ChangeSetApplied',
          data: {
            changeSetId: request.changeSetId,
            tenantId: request.tenantId,
            appliedBy: request.requestedBy,
          },
        });
      }
      return events;
    }
    case 'ApproveChangeSet': {
      const cmd = command.data;
      const set = requirePending(state, cmd.changeSetId, cmd.now);
      if (cmd.approver === set.requestedBy) {
        throw new DomainError('forbidden', 'You cannot approve your own change set', 'approver');
      }
      if (set.approvers.includes(cmd.approver)) {
        throw new DomainError(
          'already_exists',
          'You have already approved this change set',
          'approver',
        );
      }
      const ids = { changeSetId: set.changeSetId, tenantId: set.tenantId };
      const events: ChangeSetEvent[] = [
        {
          type: 'ChangeSetApprovalGranted',
          data: { ...ids, approver: cmd.approver, comments: cmd.comments },
        },
      ];
      // The last approval needed applies the set, in the same append as the keys' events.
      if (set.approvers.length + 1 >= set.requiredApprovals) {
        events.push({
          type: 'ChangeSetApplied',
          data: { ...ids, appliedBy: cmd.approver, approved: true },
        });
      }
      return events;
    }
    case 'RejectChangeSet': {
      const cmd = command.data;
      const set = requirePending(state, cmd.changeSetId, cmd.now);
      return [
        {
          type: 'ChangeSetRejected',
          data: {
            changeSetId: set.changeSetId,
            tenantId: set.tenantId,
            rejectedBy: cmd.by,
            comments: cmd.comments,
          },
        },
      ];
    }
    case 'ExpireChangeSet': {
      // Late or repeated jobs expire it at most once, never before its deadline, never after
      // it was resolved (change-request.decider.ts's decideExpire, for a set).
      if (!state.exists || state.status !== 'Pending') return [];
      if (command.data.now.getTime() < Date.parse(state.expiresAt)) return [];
      return [
        {
          type: 'ChangeSetExpired',
          data: {
            changeSetId: state.changeSetId,
            tenantId: state.tenantId,
            expiresAt: state.expiresAt,
          },
        },
      ];
    }
    case 'CancelChangeSet': {
      const cmd = command.data;
      const set = requirePending(state, cmd.changeSetId, cmd.now);
      if (cmd.by !== set.requestedBy) {
        throw new DomainError(
          'forbidden',
          'Only the requester can cancel a change set',
          'changeSetId',
        );
      }
      return [
        {
          type: 'ChangeSetCancelled',
          data: {
            changeSetId: set.changeSetId,
            tenantId: set.tenantId,
            cancelledBy: cmd.by,
            comments: cmd.comments,
          },
        },
      ];
    }
  }
}

export const changeSetDecider = {
  initialState: initialChangeSetState,
  evolve: evolveChangeSet,
  decide: decideChangeSet,
};
