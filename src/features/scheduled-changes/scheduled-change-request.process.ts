/**
 * A change request with `applyAt`, across its aggregates: the request (approval-*), its schedule
 * (schedule-*), the config and the tenant. The last approval schedules it
 * (`change-request-approval.process.ts`); here the job carries it out at its time, and a cancel
 * ends both the schedule and the request in one append. Pure: the caller reads the streams and
 * appends what this decides.
 *
 * The rules a user meets:
 *  - never before approval: only an approval creates the schedule;
 *  - never after its time unapproved: the request expires at `applyAt` at the latest, so a late
 *    approval is refused as expired (submit a new request) rather than applied outside the window
 *    it was meant for;
 *  - never over a newer value: if the key's version moved since the request was made, the
 *    schedule fails as stale, saying which versions, and nothing is written to the config;
 *  - what fails at the time (tenant suspended, a deployment holds the key, the quota is full for
 *    a new key) is recorded as the schedule's failure, not retried.
 */
import { DomainError } from '../../core/domain-error.js';
import {
  decideCancelScheduled,
  type ApprovalEvent,
  type ApprovalState,
} from '../change-requests/change-request.decider.js';
import { carryOut, type CarriedOut } from '../change-requests/change-request-approval.process.js';
import { isVersioned, type ConfigurationState } from '../configs/config.decider.js';
import {
  requireActiveTenant,
  type QuotaLimits,
  type TenantState,
} from '../tenants/tenant.decider.js';
import {
  decideScheduledChange,
  failScheduledChange,
  type ScheduledChangeEvent,
  type ScheduledChangeState,
} from './scheduled-change.decider.js';

export interface ScheduledRequestWrite extends CarriedOut {
  schedule: ScheduledChangeEvent[];
}

const nothing = (): ScheduledRequestWrite => ({
  schedule: [],
  config: [],
  tenant: [],
  deployment: [],
});

/** Why a domain rule refused, as the schedule's failure; anything else is a bug and thrown. */
function reasonOf(error: unknown): string {
  if (error instanceof DomainError) return error.message;
  throw error;
}

/** The job at `applyAt` for a schedule that carries a change request. */
export function decideApplyScheduledRequest(
  s: {
    schedule: ScheduledChangeState;
    approval: ApprovalState;
    config: ConfigurationState;
    tenant: TenantState;
  },
  cmd: { now: Date },
  limits: QuotaLimits,
): ScheduledRequestWrite {
  const schedule = s.schedule;
  if (!schedule.exists || !schedule.approvalId) return nothing();
  const a = s.approval;
  let blocked: string | null = null;
  try {
    requireActiveTenant(s.tenant, schedule.tenantId);
  } catch (error) {
    blocked = reasonOf(error);
  }
  // Cancelling ends both in one append; a request not Approved here is a log edited by hand.
  if (!blocked && (!a.exists || a.status !== 'Approved')) {
    blocked = `change request ${schedule.approvalId} is ${a.exists ? a.status : 'missing'}`;
  }
  const events = decideScheduledChange(
    {
      type: 'ApplyScheduledChange',
      data: {
        scheduleId: schedule.scheduleId,
        tenantId: schedule.tenantId,
        now: cmd.now,
        config: s.config,
        blocked,
      },
    },
    schedule,
  );
  if (!events.some((e) => e.type === 'ScheduledChangeApplied') || !a.exists) {
    return { ...nothing(), schedule: events };
  }
  const current = s.config.exists ? s.config.version : 0;
  let write: CarriedOut;
  try {
    const approvedBy = a.approvers.at(-1)?.userId ?? a.requestedBy;
    write = carryOut(a, { config: s.config, tenant: s.tenant }, approvedBy, limits);
  } catch (error) {
    return { ...nothing(), schedule: failScheduledChange(schedule, reasonOf(error), current) };
  }
  const versioned = write.config.filter(isVersioned).at(-1);
  return {
    ...write,
    schedule: [
      {
        type: 'ScheduledChangeApplied',
        data: {
          scheduleId: schedule.scheduleId,
          tenantId: schedule.tenantId,
          configId: schedule.configId,
          // A canary deployment started: the version comes when it completes.
          version: versioned ? versioned.data.version : null,
          deploymentId: a.deploymentId,
        },
      },
    ],
  };
}

/**
 * Cancelling an approved request before its time: the schedule is cancelled (it must still be
 * pending) and the request with it, so neither reads as still to come.
 */
export function decideCancelScheduledRequest(
  s: { schedule: ScheduledChangeState; approval: ApprovalState },
  cmd: { approvalId: string; by: string; comments: string | null },
): { schedule: ScheduledChangeEvent[]; approval: ApprovalEvent[] } {
  const approval = decideCancelScheduled(s.approval, cmd);
  if (!s.schedule.exists) {
    throw new DomainError('not_found', `Change request ${cmd.approvalId} has no schedule`);
  }
  const schedule = decideScheduledChange(
    {
      type: 'CancelScheduledChange',
      data: { scheduleId: s.schedule.scheduleId, tenantId: s.schedule.tenantId, by: cmd.by },
    },
    s.schedule,
  );
  return { schedule, approval };
}
