/**
 * What the API shows of a deployment: one view, built from the read table (queries) or from the
 * state a command left (command answers). Names follow the spec's columns (deployments),
 * camelCased, its metrics column holding the plan and the counts; the top-level plan and count
 * names command answers used before stay as deprecated aliases (clients read `stepIndex`).
 * `canaryPercentage` is the canary share, so null for a Direct deployment, as the spec's nullable
 * column and the projection have it. Values are masked when the configuration is or ever was
 * sensitive (a command's answer: sensitive or encrypted when the deployment started).
 */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { int, position, recordedTime } from '../../core/http/common.schemas.js';
import { iso } from '../../core/postgres/paging.js';
import { CONFIG_TYPES } from '../configs/config-values.js';
import { masked } from '../configs/config.view.js';
import type { DeploymentState } from './deployment.decider.js';
import {
  sideAcknowledgements,
  zeroSideAcknowledgements,
} from '../acknowledgements/acknowledgements.view.js';

export const DEPLOYMENT_STATUSES = ['InProgress', 'Paused', 'Completed', 'RolledBack'] as const;

const sideCounts = z.strictObject({ requests: int, errors: int });
const counts = z.strictObject({ canary: sideCounts, stable: sideCounts });
const plan = {
  strategy: z.enum(['Direct', 'Canary']),
  steps: z.array(int).describe('canary percentages, ending at 100 (Direct: [100])'),
  bakeTimeSeconds: z.number(),
  errorThreshold: z.number(),
  minRequests: int,
  minAppliedInstances: int
    .optional()
    .describe('canary instances that must have applied the value before a step is done'),
};

const alias = (of: string) => ({ deprecated: true, description: `The same as ${of}.` });

const metrics = z
  .strictObject({
    steps: plan.steps,
    bakeTimeSeconds: plan.bakeTimeSeconds,
    errorThreshold: plan.errorThreshold,
    minRequests: plan.minRequests,
    minAppliedInstances: plan.minAppliedInstances,
    approvalId: z.string().nullable(),
    stepIndex: int,
    current: counts.describe("the current step's requests and errors per side"),
    totals: counts,
    history: z.array(counts.extend({ stepIndex: int })).describe('each finished step'),
    held: z
      .strictObject({ stepIndex: int, applied: int, rejected: int, required: int })
      .optional()
      .describe('the current step waits for this many canary instances to apply the value'),
    version: int.optional().describe('completed: the version it produced'),
    promoted: z.boolean().optional().describe('completed: promoted by hand'),
    automatic: z.boolean().optional().describe('rolled back: by the error threshold'),
    restoredVersion: int.nullable().optional().describe('rolled back after completing'),
  })
  .describe('the plan, and the counts apps reported');

export const deployment = named(
  'Deployment',
  z.strictObject({
    deploymentId: z.string(),
    configId: z.string(),
    tenantId: z.string(),
    environment: z.string(),
    key: z.string().nullable(),
    type: z.enum(CONFIG_TYPES).nullable().describe("the configuration's type"),
    strategy: plan.strategy,
    status: z.enum(DEPLOYMENT_STATUSES),
    value: z.string().describe('masked when the configuration is or ever was sensitive'),
    previousValue: z.string().nullable(),
    progress: int.describe('percent of the steps done'),
    canaryPercentage: int
      .nullable()
      .describe('share of clients on the new value (Canary); null for Direct'),
    deployedBy: z.string(),
    startedAt: recordedTime,
    completedAt: recordedTime,
    errorMessage: z.string().nullable().describe('why it rolled itself back'),
    metrics,
    wasRolledBack: z.boolean(),
    rollbackReason: z.string().nullable(),
    rolledBackAt: recordedTime,
    acknowledgements: sideAcknowledgements
      .nullable()
      .describe("from the acknowledgement ledger: null in a command's answer"),
    stepIndex: int.meta(alias('metrics.stepIndex')),
    steps: plan.steps.meta(alias('metrics.steps')),
    bakeTimeSeconds: plan.bakeTimeSeconds.meta(alias('metrics.bakeTimeSeconds')),
    errorThreshold: plan.errorThreshold.meta(alias('metrics.errorThreshold')),
    minRequests: plan.minRequests.meta(alias('metrics.minRequests')),
    minAppliedInstances: plan.minAppliedInstances.meta(alias('metrics.minAppliedInstances')),
    current: counts.meta(alias('metrics.current')),
    totals: counts.meta(alias('metrics.totals')),
    approvalId: z.string().nullable().meta(alias('metrics.approvalId')),
    deployedVersion: int.nullable().meta(alias('metrics.version (null until completed)')),
  }),
);

export type DeploymentView = z.infer<typeof deployment>;
type Aliased =
  | 'stepIndex'
  | 'steps'
  | 'bakeTimeSeconds'
  | 'errorThreshold'
  | 'minRequests'
  | 'minAppliedInstances'
  | 'current'
  | 'totals'
  | 'approvalId'
  | 'deployedVersion';

/** Fields the view names twice (the metrics column's and the deprecated top-level alias). */
const withAliases = (v: Omit<DeploymentView, Aliased>) =>
  ({
    ...v,
    stepIndex: v.metrics.stepIndex,
    steps: v.metrics.steps,
    bakeTimeSeconds: v.metrics.bakeTimeSeconds,
    errorThreshold: v.metrics.errorThreshold,
    minRequests: v.metrics.minRequests,
    ...(v.metrics.minAppliedInstances
      ? { minAppliedInstances: v.metrics.minAppliedInstances }
      : {}),
    current: v.metrics.current,
    totals: v.metrics.totals,
    approvalId: v.metrics.approvalId,
    deployedVersion: v.metrics.version ?? null,
  }) satisfies DeploymentView;

export const deploymentResult = named(
  'DeploymentResult',
  deployment
    .extend({ position })
    .describe('The deployment after the command, and the event position'),
);

export const deploymentMetricsResult = named(
  'DeploymentMetricsResult',
  deployment
    .extend({
      rolledBack: z.boolean().describe('true when these numbers rolled the canary back'),
      position,
    })
    .describe('The deployment after the report, and the event position'),
);

/* eslint-disable @typescript-eslint/no-explicit-any */
/** A deployments row, with its config's key, type and `sensitive` (is or ever was). */
export const deploymentOfRow = (r: any): DeploymentView =>
  withAliases({
    deploymentId: r.deployment_id,
    configId: r.config_id,
    tenantId: r.tenant_id,
    environment: r.environment,
    key: r.key ?? null,
    type: r.config_type ?? null,
    strategy: r.strategy,
    status: r.status,
    value: masked(r.value, r.sensitive),
    previousValue: masked(r.previous_value, r.sensitive),
    progress: r.progress,
    canaryPercentage: r.canary_percentage,
    deployedBy: r.deployed_by,
    startedAt: iso(r.started_at),
    completedAt: iso(r.completed_at),
    errorMessage: r.error_message,
    metrics: r.metrics,
    wasRolledBack: r.was_rolled_back,
    rollbackReason: r.rollback_reason,
    rolledBackAt: iso(r.rolled_back_at),
    // Filled in by the queries, from the acknowledgement ledger.
    acknowledgements: zeroSideAcknowledgements(),
  });
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The deployment as a command left it (times are recorded with the events: null here). */
export function deploymentOfState(state: DeploymentState): DeploymentView {
  if (!state.exists) throw new Error('a command answered with no deployment');
  const sensitive = state.isSensitive || state.isEncrypted;
  const done = state.deployedVersion !== null;
  const rb = state.rollback;
  return withAliases({
    deploymentId: state.deploymentId,
    configId: state.configId,
    tenantId: state.tenantId,
    environment: state.environment,
    key: state.key,
    type: state.type,
    strategy: state.strategy,
    status: state.status,
    value: masked(state.value, sensitive),
    previousValue: masked(state.previousValue, sensitive),
    progress: state.progress,
    canaryPercentage: state.strategy === 'Canary' ? (state.steps[state.stepIndex] ?? null) : null,
    deployedBy: state.deployedBy,
    startedAt: null,
    completedAt: null,
    errorMessage: rb?.automatic ? rb.reason : null,
    metrics: {
      steps: state.steps,
      bakeTimeSeconds: state.bakeTimeSeconds,
      errorThreshold: state.errorThreshold,
      minRequests: state.minRequests,
      ...(state.minAppliedInstances ? { minAppliedInstances: state.minAppliedInstances } : {}),
      approvalId: state.approvalId,
      stepIndex: state.stepIndex,
      current: state.current,
      totals: state.totals,
      history: state.history,
      ...(state.held
        ? { held: { stepIndex: state.stepIndex, ...state.held, required: state.heldRequired } }
        : {}),
      ...(done ? { version: state.deployedVersion!, promoted: state.promoted ?? false } : {}),
      ...(rb ? { automatic: rb.automatic, restoredVersion: rb.restoredVersion } : {}),
    },
    wasRolledBack: rb !== null,
    rollbackReason: rb?.reason ?? null,
    rolledBackAt: null,
    acknowledgements: null,
  });
}
