/**
 * Scheduled change aggregate (stream `schedule-{tenantId}:{scheduleId}`): a new value for a
 * configuration, applied by a job at `applyAt`, cancellable until then. It remembers the version
 * it was scheduled against: if the configuration moved in between, applying it fails visibly as
 * stale instead of overwriting the newer value (the race a timer-based publish invites).
 *
 * A schedule may also carry an approved change request (`approvalId`): the request's last
 * approval schedules it instead of applying it, and the job carries the request out at `applyAt`
 * (`scheduled-change-request.process.ts`). Such a schedule may create or delete the key, so it
 * is stale when the key's version (0 = absent) is not the one the request was made against.
 */
import { DomainError } from '../../core/domain-error.js';
import type { ConfigType } from '../configs/config-values.js';
import type { ChangeAction } from '../change-requests/change-request.decider.js';
import type { ConfigurationState } from '../configs/config.decider.js';

export type ScheduleStatus = 'Pending' | 'Applied' | 'Cancelled' | 'Failed';

interface Ids {
  scheduleId: string;
  tenantId: string;
}

type Scheduled = Ids & {
  configId: string;
  key: string;
  environment: string;
  type: ConfigType;
  value: string;
  baseVersion: number;
  applyAt: string;
  isSensitive: boolean;
  changeDescription: string | null;
  requestedBy: string;
  /** The approved change request it carries out (absent: a direct change, later). */
  approvalId?: string;
  /** What the request does (absent: Update). */
  action?: ChangeAction;
};

export type ScheduledChangeEvent =
  | { type: 'ChangeScheduled'; data: Scheduled }
  | {
      type: 'ScheduledChangeApplied';
      data: Ids & {
        configId: string;
        /** The config's version after it; null when a canary deployment started instead. */
        version: number | null;
        /** The deployment a change request's schedule started (absent: none). */
        deploymentId?: string | null;
      };
    }
  | { type: 'ScheduledChangeCancelled'; data: Ids & { cancelledBy: string } }
  | {
      type: 'ScheduledChangeFailed';
      data: Ids & { configId: string; reason: string; currentVersion: number | null };
    };

export type ScheduledChangeState =
  | { exists: false }
  | ({
      exists: true;
      status: ScheduleStatus;
      failure: string | null;
      appliedVersion: number | null;
      deploymentId: string | null;
    } & Scheduled);

export type ScheduledChangeCommand =
  | { type: 'ScheduleChange'; data: Scheduled & { now: Date } }
  | { type: 'CancelScheduledChange'; data: Ids & { by: string } }
  | {
      type: 'ApplyScheduledChange';
      data: Ids & {
        now: Date;
        config: ConfigurationState;
        /** Why the environment takes no direct change now (approval needed), if it does not. */
        blocked: string | null;
      };
    };

export const initialScheduledChangeState = (): ScheduledChangeState => ({ exists: false });

export function evolveScheduledChange(
  state: ScheduledChangeState,
  event: ScheduledChangeEvent,
): ScheduledChangeState {
  if (event.type === 'ChangeScheduled') {
    return {
      exists: true,
      status: 'Pending',
      failure: null,
      appliedVersion: null,
      deploymentId: null,
      ...event.data,
    };
  }
  if (!state.exists) return state;
  switch (event.type) {
    case 'ScheduledChangeApplied':
      return {
        ...state,
        status: 'Applied',
        appliedVersion: event.data.version,
        deploymentId: event.data.deploymentId ?? null,
      };
    case 'ScheduledChangeCancelled':
      return { ...state, status: 'Cancelled' };
    case 'ScheduledChangeFailed':
      return { ...state, status: 'Failed', failure: event.data.reason };
  }
}

export function decideScheduledChange(
  command: ScheduledChangeCommand,
  state: ScheduledChangeState,
): ScheduledChangeEvent[] {
  switch (command.type) {
    case 'ScheduleChange': {
      const { now, ...data } = command.data;
      if (state.exists) {
        throw new DomainError('already_exists', `Schedule ${data.scheduleId} exists`, 'scheduleId');
      }
      if (Date.parse(data.applyAt) <= now.getTime()) {
        throw new DomainError('validation', 'applyAt must be in the future', 'applyAt');
      }
      return [{ type: 'ChangeScheduled', data }];
    }
    case 'CancelScheduledChange': {
      // Anyone who may write the environment may cancel (checked by the caller): a change
      // waiting on a person who is away must not be unstoppable.
      const s = requirePending(state, command.data.scheduleId);
      return [
        {
          type: 'ScheduledChangeCancelled',
          data: { scheduleId: s.scheduleId, tenantId: s.tenantId, cancelledBy: command.data.by },
        },
      ];
    }
    case 'ApplyScheduledChange': {
      // A job that runs twice, or after a cancel, changes nothing.
      if (!state.exists || state.status !== 'Pending') return [];
      // Never before its time (a job moved early by hand waits for the next one).
      if (command.data.now.getTime() < Date.parse(state.applyAt)) return [];
      const ids = { scheduleId: state.scheduleId, tenantId: state.tenantId };
      const c = command.data.config;
      const current = c.exists ? c.version : 0;
      const fail = (reason: string, currentVersion: number | null) =>
        failScheduledChange(state, reason, currentVersion);
      // A direct schedule changes a live key; a change request's may create one (version 0).
      if (!state.approvalId && (!c.exists || c.deleted)) {
        return fail('the configuration was deleted', null);
      }
      if (current !== state.baseVersion) {
        return fail(
          `stale: scheduled against version ${state.baseVersion}, the configuration is now at ` +
            `version ${current}`,
          current,
        );
      }
      if (c.exists && c.activeDeploymentId) {
        return fail(`a deployment (${c.activeDeploymentId}) holds the configuration`, current);
      }
      if (command.data.blocked) return fail(command.data.blocked, current);
      return [
        {
          type: 'ScheduledChangeApplied',
          data: { ...ids, configId: state.configId, version: current + 1 },
        },
      ];
    }
  }
}

/** The event recording why a pending schedule could not be applied. */
export function failScheduledChange(
  state: Extract<ScheduledChangeState, { exists: true }>,
  reason: string,
  currentVersion: number | null,
): ScheduledChangeEvent[] {
  return [
    {
      type: 'ScheduledChangeFailed',
      data: {
        scheduleId: state.scheduleId,
        tenantId: state.tenantId,
        configId: state.configId,
        reason,
        currentVersion,
      },
    },
  ];
}

function requirePending(state: ScheduledChangeState, scheduleId: string) {
  if (!state.exists) {
    throw new DomainError('not_found', `Scheduled change '${scheduleId}' not found`, 'scheduleId');
  }
  if (state.status !== 'Pending') {
    throw new DomainError('invalid_state', `Scheduled change ${scheduleId} is ${state.status}`);
  }
  return state;
}

export const scheduledChangeDecider = {
  initialState: initialScheduledChangeState,
  evolve: evolveScheduledChange,
  decide: decideScheduledChange,
};
