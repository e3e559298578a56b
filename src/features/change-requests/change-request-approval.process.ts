/**
 * Where a change request's approval is decided. One approver's approval is recorded on the
 * request; the last one needed also carries the change out, in the same append:
 *  - Update: the deployment starts (Direct completes at once: the config's new version); a
 *    request for a config that does not exist (or was deleted) creates it and registers it with
 *    its tenant (quota);
 *  - Delete: the config is deleted and its quota slot freed; nothing is deployed;
 *  - a request with `applyAt`: nothing is carried out yet; the approval schedules it (stream
 *    `schedule-*`, id derived from the request's) and the scheduled-changes job carries it out
 *    at that time with `carryOut` below (`scheduled-change-request.process.ts`).
 * Pure: the caller reads the request, the config and the tenant, and appends what this decides.
 */
import {
  decideApprove,
  scheduleIdFor,
  type ApprovalEvent,
  type ApprovalState,
} from './change-request.decider.js';
import {
  decideScheduledChange,
  initialScheduledChangeState,
  type ScheduledChangeEvent,
} from '../scheduled-changes/scheduled-change.decider.js';
import {
  decideCreateConfig,
  decideDeleteConfig,
  decideStartDeployment,
  requireLive,
  type ConfigurationEvent,
  type ConfigurationState,
} from '../configs/config.decider.js';
import {
  decideStartDeploymentStream,
  initialDeploymentState,
  type DeploymentEvent,
} from '../deployments/deployment.decider.js';
import {
  decideRegisterConfig,
  decideReleaseConfig,
  requireActiveTenant,
  type QuotaLimits,
  type TenantEvent,
  type TenantState,
} from '../tenants/tenant.decider.js';
import { withDirectCompletion } from '../deployments/deployment-start.process.js';
import { DomainError } from '../../core/domain-error.js';

type Request = Extract<ApprovalState, { exists: true }>;

export interface ApprovalWrite {
  approval: ApprovalEvent[];
  config: ConfigurationEvent[];
  tenant: TenantEvent[];
  /** The deployment an approved Update starts (its id was fixed when it was requested). */
  deployment: DeploymentEvent[];
  /** An approved request with `applyAt`: its schedule (nothing else is written now). */
  schedule: ScheduledChangeEvent[];
  /** This approval was the last one needed: the change is carried out now. */
  approved: boolean;
  request: Request;
}

export function decideApproval(
  s: { approval: ApprovalState; config: ConfigurationState; tenant: TenantState },
  cmd: { approvalId: string; approver: string; comments: string | null; now: Date },
  limits: QuotaLimits,
): ApprovalWrite {
  const decision = decideApprove(s.approval, {
    ...cmd,
    currentVersion: s.config.exists ? s.config.version : 0,
  });
  const r = decision.request;
  const write: ApprovalWrite = {
    approval: decision.events,
    config: [],
    tenant: [],
    deployment: [],
    schedule: [],
    approved: decision.approved,
    request: r,
  };
  if (!decision.approved) return write;
  requireActiveTenant(s.tenant, r.tenantId);
  if (r.applyAt) {
    write.schedule = decideScheduledChange(
      {
        type: 'ScheduleChange',
        data: {
          scheduleId: scheduleIdFor(r.approvalId),
          tenantId: r.tenantId,
          configId: r.configId,
          key: r.key,
          environment: r.environment,
          type: r.type,
          value: r.proposedValue,
          baseVersion: r.baseVersion,
          applyAt: r.applyAt,
          isSensitive: r.isSensitive,
          changeDescription: r.description,
          requestedBy: r.requestedBy,
          approvalId: r.approvalId,
          action: r.action,
          now: cmd.now,
        },
      },
      initialScheduledChangeState(),
    );
    return write;
  }
  return { ...write, ...carryOut(r, s, cmd.approver, limits) };
}

/** What an approved request writes when it is carried out (at its approval, or at applyAt). */
export interface CarriedOut {
  config: ConfigurationEvent[];
  tenant: TenantEvent[];
  deployment: DeploymentEvent[];
}

/**
 * Carries out an approved request against the config and tenant as they are now: the version
 * check (stale) is the caller's. `deployedBy` is the approver whose approval completed it.
 */
export function carryOut(
  r: Request,
  s: { config: ConfigurationState; tenant: TenantState },
  deployedBy: string,
  limits: QuotaLimits,
): CarriedOut {
  const write: CarriedOut = { config: [], tenant: [], deployment: [] };
  if (r.action === 'Delete') {
    // As DELETE does: the config goes, its quota slot is freed; nothing is deployed.
    const live = requireLive(s.config, r.configId);
    write.config = decideDeleteConfig(s.config, {
      configId: r.configId,
      expectedVersion: r.baseVersion,
    });
    write.tenant = decideReleaseConfig(s.tenant, {
      tenantId: r.tenantId,
      configId: r.configId,
      key: live.key,
      environment: live.environment,
    });
    return write;
  }
  const deploymentId = plannedDeployment(r);
  const config = s.config;
  const live = config.exists && !config.deleted;
  let configEvents: ConfigurationEvent[];
  if (!live) {
    // The request creates the config: register it with the tenant (quota) too.
    configEvents = decideCreateConfig(config, {
      tenantId: r.tenantId,
      key: r.key,
      environment: r.environment,
      type: r.type,
      value: r.proposedValue,
      description: r.newConfig?.description ?? null,
      tags: r.newConfig?.tags ?? [],
      isSensitive: r.isSensitive,
      isEncrypted: r.isEncrypted === true,
      // A deleted key comes back with the schema (and default) it had.
      ...(config.exists && r.type === config.type
        ? { schemaId: config.schemaId, defaultValue: config.defaultValue }
        : {}),
      changeDescription: `Change request ${r.approvalId}`,
    });
    write.tenant = decideRegisterConfig(
      s.tenant,
      { tenantId: r.tenantId, configId: r.configId, key: r.key, environment: r.environment },
      limits,
    );
  } else {
    configEvents = decideStartDeployment(config, {
      configId: r.configId,
      deploymentId,
      value: r.proposedValue,
    }).events;
  }
  const started = decideStartDeploymentStream(initialDeploymentState(), {
    deploymentId,
    tenantId: r.tenantId,
    configId: r.configId,
    key: r.key,
    environment: r.environment,
    type: r.type,
    value: r.proposedValue,
    previousValue: live && config.exists ? config.value : null,
    baseVersion: config.exists ? config.version : 0,
    plan: r.rollout,
    approvalId: r.approvalId,
    deployedBy,
    isSensitive: r.isSensitive,
    ...(r.isEncrypted || (config.exists && config.isEncrypted) ? { isEncrypted: true } : {}),
  });
  const deployment = withDirectCompletion(started, config, configEvents, live);
  write.config = deployment.configEvents;
  write.deployment = deployment.events;
  return write;
}

/** The deployment an approved Update starts (fixed when it was requested). */
function plannedDeployment(r: Request): string {
  if (r.deploymentId === null) {
    throw new DomainError('invalid_state', `Change request ${r.approvalId} deploys nothing`);
  }
  return r.deploymentId;
}
