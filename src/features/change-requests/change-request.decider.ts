/**
 * Change request aggregate (stream `approval-{approvalId}`): a proposed value for a protected
 * environment, approved by enough approvers before it is deployed. A request is bound to the exact
 * proposal and to the config version it was made against: it cannot be edited, and approving it
 * after the config changed fails as stale instead of overwriting the newer value.
 */
import { DomainError } from '../../core/domain-error.js';
import type { RolloutPlan } from '../deployments/deployment.decider.js';
import type { ConfigType } from '../configs/config-values.js';

export type ApprovalStatus = 'Pending' | 'Approved' | 'Rejected' | 'Cancelled' | 'Expired';

/**
 * What an approved request does: `Update` sets the proposed value (creating the config if it
 * does not exist, or was deleted); `Delete` soft-deletes the config, as DELETE does where no
 * approval is needed.
 */
export const CHANGE_ACTIONS = ['Update', 'Delete'] as const;
export type ChangeAction = (typeof CHANGE_ACTIONS)[number];

export interface Approver {
  userId: string;
  comments: string | null;
  at: string;
}

/** For a request that creates the config. */
export interface NewConfigAttributes {
  description: string | null;
  tags: string[];
}

export type ApprovalEvent =
  | {
      type: 'ApprovalRequested';
      data: {
        approvalId: string;
        tenantId: string;
        configId: string;
        key: string;
        environment: string;
        type: ConfigType;
        /** Absent on requests recorded before deletes could be requested: those are updates. */
        action?: ChangeAction;
        /** The value to deploy; empty for a Delete. */
        proposedValue: string;
        currentValue: string | null;
        /** Config version the proposal was made against; 0 = the config does not exist yet. */
        baseVersion: number;
        description: string | null;
        requestedBy: string;
        requiredApprovals: number;
        expiresAt: string;
        rollout: RolloutPlan;
        /** The deployment an approved Update starts; null for a Delete, which deploys nothing. */
        deploymentId: string | null;
        isSensitive: boolean;
        /** The values are encrypted at rest (absent: not). */
        isEncrypted?: boolean;
        newConfig: NewConfigAttributes | null;
        /**
         * When to carry it out once approved (absent: at the last approval). The request
         * expires at `applyAt` at the latest, so it is never approved after its time.
         */
        applyAt?: string | null;
      };
    }
  | {
      type: 'ApprovalGranted';
      data: {
        approvalId: string;
        tenantId: string;
        approver: string;
        comments: string | null;
        level: number;
        at: string;
      };
    }
  | {
      type: 'ApprovalApproved';
      data: {
        approvalId: string;
        tenantId: string;
        deploymentId: string | null;
        approvedBy: string;
        /** Approved with an `applyAt`: the scheduled change that carries it out then. */
        scheduleId?: string;
      };
    }
  | {
      type: 'ApprovalRejected';
      data: { approvalId: string; tenantId: string; rejectedBy: string; comments: string | null };
    }
  | {
      type: 'ApprovalCancelled';
      data: { approvalId: string; tenantId: string; cancelledBy: string; comments: string | null };
    }
  | { type: 'ApprovalExpired'; data: { approvalId: string; tenantId: string; expiresAt: string } };

type Requested = Extract<ApprovalEvent, { type: 'ApprovalRequested' }>['data'];

export type ApprovalState =
  | { exists: false }
  | ({ exists: true; status: ApprovalStatus; approvers: Approver[] } & Requested & {
        action: ChangeAction;
        /** Approved with an applyAt: the schedule that carries it out. */
        scheduleId: string | null;
      });

export const initialApprovalState = (): ApprovalState => ({ exists: false });

export function evolveApproval(state: ApprovalState, event: ApprovalEvent): ApprovalState {
  if (event.type === 'ApprovalRequested') {
    return {
      exists: true,
      status: 'Pending',
      approvers: [],
      ...event.data,
      action: event.data.action ?? 'Update',
      scheduleId: null,
    };
  }
  if (!state.exists) return state;
  switch (event.type) {
    case 'ApprovalGranted':
      return {
        ...state,
        approvers: [
          ...state.approvers,
          { userId: event.data.approver, comments: event.data.comments, at: event.data.at },
        ],
      };
    case 'ApprovalApproved':
      return { ...state, status: 'Approved', scheduleId: event.data.scheduleId ?? null };
    case 'ApprovalRejected':
      return { ...state, status: 'Rejected' };
    case 'ApprovalCancelled':
      return { ...state, status: 'Cancelled' };
    case 'ApprovalExpired':
      return { ...state, status: 'Expired' };
  }
}

export function decideRequest(state: ApprovalState, request: Requested): ApprovalEvent[] {
  if (state.exists) {
    throw new DomainError(
      'already_exists',
      `Change request ${request.approvalId} exists`,
      'approvalId',
    );
  }
  if (request.action === 'Delete') {
    if (request.baseVersion === 0 || request.currentValue === null) {
      throw new DomainError(
        'not_found',
        `Configuration '${request.configId}' does not exist or is deleted: nothing to delete`,
        'configId',
      );
    }
    if (request.deploymentId !== null || request.rollout.strategy !== 'Direct') {
      throw new DomainError('validation', 'A delete deploys nothing: give no rollout', 'rollout');
    }
  } else {
    if (request.deploymentId === null) {
      throw new DomainError('validation', 'An update needs its deployment id', 'deploymentId');
    }
    if (request.baseVersion > 0 && request.currentValue === request.proposedValue) {
      throw new DomainError('validation', 'The proposed value is the current value', 'value');
    }
  }
  return [{ type: 'ApprovalRequested', data: request }];
}

type Live = Extract<ApprovalState, { exists: true }>;

/** The schedule that carries out an approved timed request: derived, so it is found both ways. */
export const scheduleIdFor = (approvalId: string) => `sch_${approvalId.slice(4)}`;

function requirePending(state: ApprovalState, approvalId: string, now: Date): Live {
  if (!state.exists) {
    throw new DomainError('not_found', `Change request '${approvalId}' not found`, 'approvalId');
  }
  if (state.status !== 'Pending') {
    throw new DomainError(
      'invalid_state',
      `Change request ${approvalId} is ${state.status}`,
      undefined,
      // `state`, not `status`: a problem's `status` is its HTTP status.
      { state: state.status },
    );
  }
  if (now.getTime() >= Date.parse(state.expiresAt)) {
    throw new DomainError('invalid_state', `Change request ${approvalId} has expired`, undefined, {
      state: 'Expired',
    });
  }
  return state;
}

export interface ApproveDecision {
  events: ApprovalEvent[];
  /** True when this approval reached the required level: the deployment starts now. */
  approved: boolean;
  request: Live;
}

/**
 * One approver's approval. `currentVersion` is the config's version now (0 if it does not exist):
 * if it moved since the request was made, the request is stale.
 */
export function decideApprove(
  state: ApprovalState,
  cmd: {
    approvalId: string;
    approver: string;
    comments: string | null;
    now: Date;
    currentVersion: number;
  },
): ApproveDecision {
  const r = requirePending(state, cmd.approvalId, cmd.now);
  if (cmd.approver === r.requestedBy) {
    throw new DomainError('forbidden', 'You cannot approve your own change request', 'approver');
  }
  if (r.approvers.some((a) => a.userId === cmd.approver)) {
    throw new DomainError(
      'already_exists',
      'You have already approved this change request',
      'approver',
    );
  }
  if (cmd.currentVersion !== r.baseVersion) {
    throw new DomainError(
      'stale',
      `The configuration changed since this request was made (version ${r.baseVersion}, now ${cmd.currentVersion}); submit a new request`,
      undefined,
      { baseVersion: r.baseVersion, currentVersion: cmd.currentVersion },
    );
  }
  const level = r.approvers.length + 1;
  const events: ApprovalEvent[] = [
    {
      type: 'ApprovalGranted',
      data: {
        approvalId: r.approvalId,
        tenantId: r.tenantId,
        approver: cmd.approver,
        comments: cmd.comments,
        level,
        at: cmd.now.toISOString(),
      },
    },
  ];
  const approved = level >= r.requiredApprovals;
  if (approved) {
    events.push({
      type: 'ApprovalApproved',
      data: {
        approvalId: r.approvalId,
        tenantId: r.tenantId,
        deploymentId: r.deploymentId,
        approvedBy: cmd.approver,
        // A timed request is carried out by its schedule (same id, `sch_` for `apr_`).
        ...(r.applyAt ? { scheduleId: scheduleIdFor(r.approvalId) } : {}),
      },
    });
  }
  return { events, approved, request: r };
}

export function decideReject(
  state: ApprovalState,
  cmd: { approvalId: string; by: string; comments: string | null; now: Date },
): ApprovalEvent[] {
  const r = requirePending(state, cmd.approvalId, cmd.now);
  return [
    {
      type: 'ApprovalRejected',
      data: {
        approvalId: r.approvalId,
        tenantId: r.tenantId,
        rejectedBy: cmd.by,
        comments: cmd.comments,
      },
    },
  ];
}

export function decideCancel(
  state: ApprovalState,
  cmd: { approvalId: string; by: string; comments: string | null; now: Date },
): ApprovalEvent[] {
  const r = requirePending(state, cmd.approvalId, cmd.now);
  if (cmd.by !== r.requestedBy) {
    throw new DomainError(
      'forbidden',
      'Only the requester can cancel a change request',
      'approvalId',
    );
  }
  return [
    {
      type: 'ApprovalCancelled',
      data: {
        approvalId: r.approvalId,
        tenantId: r.tenantId,
        cancelledBy: cmd.by,
        comments: cmd.comments,
      },
    },
  ];
}

/**
 * Cancelling an approved request that waits for its `applyAt`. Anyone who may write the
 * environment may (checked by the caller), as for any scheduled change: stopping a change nobody
 * is watching must not wait for its requester. Whether the schedule is still pending is the
 * schedule's own decision (`scheduled-change-request.process.ts` asks both).
 */
export function decideCancelScheduled(
  state: ApprovalState,
  cmd: { approvalId: string; by: string; comments: string | null },
): ApprovalEvent[] {
  if (!state.exists) {
    throw new DomainError(
      'not_found',
      `Change request '${cmd.approvalId}' not found`,
      'approvalId',
    );
  }
  if (state.status !== 'Approved' || !state.scheduleId) {
    throw new DomainError(
      'invalid_state',
      `Change request ${cmd.approvalId} is ${state.status}`,
      undefined,
      { state: state.status },
    );
  }
  return [
    {
      type: 'ApprovalCancelled',
      data: {
        approvalId: state.approvalId,
        tenantId: state.tenantId,
        cancelledBy: cmd.by,
        comments: cmd.comments,
      },
    },
  ];
}

/** The expiry job: at most one expiry, never before the deadline, never after a resolution. */
export function decideExpire(state: ApprovalState, now: Date): ApprovalEvent[] {
  if (!state.exists || state.status !== 'Pending') return [];
  if (now.getTime() < Date.parse(state.expiresAt)) return [];
  return [
    {
      type: 'ApprovalExpired',
      data: { approvalId: state.approvalId, tenantId: state.tenantId, expiresAt: state.expiresAt },
    },
  ];
}

export type ChangeRequestCommand =
  | { type: 'RequestChange'; data: Requested }
  | { type: 'ApproveChange'; data: Parameters<typeof decideApprove>[1] }
  | { type: 'RejectChange'; data: Parameters<typeof decideReject>[1] }
  | { type: 'CancelChange'; data: Parameters<typeof decideCancel>[1] }
  | { type: 'CancelScheduledChange'; data: Parameters<typeof decideCancelScheduled>[1] }
  | { type: 'ExpireChange'; data: { now: Date } };

export function decideChangeRequest(
  command: ChangeRequestCommand,
  state: ApprovalState,
): ApprovalEvent[] {
  switch (command.type) {
    case 'RequestChange':
      return decideRequest(state, command.data);
    case 'ApproveChange':
      return decideApprove(state, command.data).events;
    case 'RejectChange':
      return decideReject(state, command.data);
    case 'CancelChange':
      return decideCancel(state, command.data);
    case 'CancelScheduledChange':
      return decideCancelScheduled(state, command.data);
    case 'ExpireChange':
      return decideExpire(state, command.data.now);
  }
}

/** Stream `approval-{approvalId}`: the prefix keeps its older name. */
export const changeRequestDecider = {
  initialState: initialApprovalState,
  evolve: evolveApproval,
  decide: decideChangeRequest,
};
