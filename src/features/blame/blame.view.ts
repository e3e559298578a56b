/**
 * What blame shows: for one version of a configuration, the chain that produced it — the change
 * (who, when, IP, trace), the change request with each decision and the content it approved, the
 * deployment with each step and its metrics, and the deployments from this version that did not
 * complete (a rollback and its reason). Values of a configuration that is or was sensitive are
 * masked.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { int, timestamp } from '../../core/http/common.schemas.js';
import { iso } from '../../core/postgres/paging.js';
import { masked } from '../configs/config.view.js';
import { versionAcknowledgements } from '../acknowledgements/acknowledgements.view.js';

const who = {
  by: z.string().nullable(),
  at: timestamp.nullable(),
  ipAddress: z.string().nullable(),
  traceId: z.string().nullable(),
};

const decision = z.strictObject({
  decision: z.enum(['Granted', 'Approved', 'Rejected', 'Cancelled', 'Expired']),
  ...who,
  comments: z.string().nullable(),
  level: int.nullable().describe('the approval level this decision reached (Granted)'),
});

const changeRequest = z.strictObject({
  approvalId: z.string(),
  action: z.string(),
  status: z.string(),
  description: z.string().nullable(),
  requiredApprovals: int,
  baseVersion: int,
  proposedValue: z.string().describe('the content approved (masked when sensitive)'),
  proposedValueSha256: z.string().describe('SHA-256 of the content approved, even when masked'),
  requested: z.strictObject(who),
  decisions: z.array(decision),
});

const deploymentStep = z.strictObject({
  event: z.string(),
  stepIndex: int.nullable(),
  percentage: int.nullable(),
  by: z.string().nullable(),
  at: timestamp,
  details: z.record(z.string(), z.unknown()),
});

const stepMetrics = z.strictObject({
  stepIndex: int,
  side: z.string(),
  requests: int,
  errors: int,
  errorRate: z.number().nullable(),
});

const deployment = z.strictObject({
  deploymentId: z.string(),
  strategy: z.string(),
  status: z.string(),
  baseVersion: int,
  plan: z.strictObject({
    steps: z.array(int),
    // Fractions of a second are allowed (tests bake for 0.3 s).
    bakeTimeSeconds: z.number(),
    errorThreshold: z.number(),
    minRequests: int,
    minAppliedInstances: int.optional(),
  }),
  startedBy: z.string(),
  startedAt: timestamp,
  endedAt: timestamp.nullable(),
  rollbackReason: z.string().nullable(),
  automaticRollback: z.boolean().nullable(),
  steps: z.array(deploymentStep),
  metrics: z.array(stepMetrics),
  changeRequest: changeRequest.nullable(),
});

export const versionBlame = z.strictObject({
  version: int,
  changeType: z.string().nullable(),
  value: z.string().nullable(),
  rolledBackTo: int.nullable(),
  change: z.strictObject({ ...who, position: z.string().nullable() }),
  deployment: deployment.nullable().describe('the deployment that produced this version'),
  laterAttempts: z
    .array(deployment)
    .describe('deployments started from this version that did not complete (rolled back, running)'),
  acknowledgements: versionAcknowledgements,
});

export const configBlame = named(
  'ConfigBlame',
  z.strictObject({
    configId: z.string(),
    tenantId: z.string(),
    environment: z.string(),
    key: z.string(),
    currentVersion: int.describe('the version served now'),
    blame: versionBlame,
  }),
);

export type VersionBlame = z.infer<typeof versionBlame>;
export type DeploymentBlame = z.infer<typeof deployment>;
export type ChangeRequestBlame = z.infer<typeof changeRequest>;

export interface ApprovalRow {
  approval_id: string;
  action: string;
  status: string;
  description: string | null;
  required_approvals: number;
  base_version: number;
  proposed_value: string;
  requested_by: string;
  requested_at: Date;
  ip_address: string | null;
  trace_id: string | null;
}

export interface DecisionRow {
  approval_id: string;
  decision: z.infer<typeof decision>['decision'];
  decided_by: string | null;
  decided_at: Date;
  ip_address: string | null;
  trace_id: string | null;
  comments: string | null;
  level: number | null;
}

export function changeRequestView(
  a: ApprovalRow,
  decisions: DecisionRow[],
  sensitive: boolean,
): ChangeRequestBlame {
  return {
    approvalId: a.approval_id,
    action: a.action,
    status: a.status,
    description: a.description,
    requiredApprovals: a.required_approvals,
    baseVersion: a.base_version,
    proposedValue: masked(a.proposed_value, sensitive),
    proposedValueSha256: createHash('sha256').update(a.proposed_value).digest('hex'),
    requested: {
      by: a.requested_by,
      at: iso(a.requested_at)!,
      ipAddress: a.ip_address,
      traceId: a.trace_id,
    },
    decisions: decisions.map((d) => ({
      decision: d.decision,
      by: d.decided_by,
      at: iso(d.decided_at)!,
      ipAddress: d.ip_address,
      traceId: d.trace_id,
      comments: d.comments,
      level: d.level,
    })),
  };
}
