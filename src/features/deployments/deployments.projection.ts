/** Read-model rows of deployment streams: deployments. */
import type pg from 'pg';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { eventTime, type ReadModelPart } from '../../core/projections/projection.js';
import { DEPLOYMENT_PREFIX } from '../../core/streams.js';
import type { DeploymentEvent } from './deployment.decider.js';

type Counts = Record<'canary' | 'stable', { requests: number; errors: number }>;

interface DeploymentMetrics {
  stepIndex: number;
  current: Counts;
  totals: Counts;
  history: ({ stepIndex: number } & Counts)[];
  /** Present while the current step waits for acknowledgements. */
  held?: { stepIndex: number; applied: number; rejected: number; required: number };
}

const zeroCounts = (): Counts => ({
  canary: { requests: 0, errors: 0 },
  stable: { requests: 0, errors: 0 },
});

/**
 * Metrics columns as this batch last wrote them, per batch client: a deployment's metrics
 * reports, steps and holds mostly fall in one batch, and reading the column back before each
 * (a round trip that also sends every write collected so far) cost more than the rest of the
 * batch. Forgotten when SQL changes the column (resume, completion, rollback).
 */
const batchMetrics = new WeakMap<pg.PoolClient, Map<string, DeploymentMetrics>>();

function metricsOf(client: pg.PoolClient): Map<string, DeploymentMetrics> {
  let known = batchMetrics.get(client);
  if (!known) batchMetrics.set(client, (known = new Map()));
  return known;
}

/** The metrics column: counts of the current step, totals, and each finished step. */
async function updateMetrics(
  client: pg.PoolClient,
  id: string,
  change: (m: DeploymentMetrics) => void,
) {
  const known = metricsOf(client);
  let metrics = known.get(id);
  if (!metrics) {
    const { rows } = await client.query<{ metrics: DeploymentMetrics }>(
      'SELECT metrics FROM deployments WHERE deployment_id = $1',
      [id],
    );
    if (!rows[0]) return;
    metrics = rows[0].metrics;
    known.set(id, metrics);
  }
  change(metrics);
  await client.query('UPDATE deployments SET metrics = $2 WHERE deployment_id = $1', [
    id,
    JSON.stringify(metrics),
  ]);
}

async function applyDeployment(client: pg.PoolClient, e: RecordedEvent, event: DeploymentEvent) {
  const at = eventTime(e);
  const id = event.data.deploymentId;
  // These change the column in SQL: the next change of this batch reads it again.
  if (
    event.type === 'DeploymentResumed' ||
    event.type === 'DeploymentCompleted' ||
    event.type === 'DeploymentRolledBack'
  ) {
    metricsOf(client).delete(id);
  }
  switch (event.type) {
    case 'DeploymentStarted': {
      const d = event.data;
      const metrics = {
        steps: d.steps,
        bakeTimeSeconds: d.bakeTimeSeconds,
        errorThreshold: d.errorThreshold,
        minRequests: d.minRequests,
        ...(d.minAppliedInstances ? { minAppliedInstances: d.minAppliedInstances } : {}),
        approvalId: d.approvalId,
        stepIndex: 0,
        current: zeroCounts(),
        totals: zeroCounts(),
        history: [],
      };
      await client.query(
        `INSERT INTO deployments (deployment_id, config_id, tenant_id, environment, strategy, status,
                     value, previous_value, progress, canary_percentage, deployed_by, started_at,
                     metrics)
         VALUES ($1, $2, $3, $4, $5, 'InProgress', $6, $7, 0, $8, $9, $10, $11)`,
        [
          id,
          d.configId,
          d.tenantId,
          d.environment,
          d.strategy,
          d.value,
          d.previousValue,
          d.strategy === 'Canary' ? d.steps[0] : null,
          d.deployedBy,
          at,
          JSON.stringify(metrics),
        ],
      );
      // As the column holds it (what a read would give back).
      metricsOf(client).set(id, JSON.parse(JSON.stringify(metrics)) as DeploymentMetrics);
      return;
    }
    case 'DeploymentStepAdvanced': {
      const d = event.data;
      await client.query(
        'UPDATE deployments SET progress = $2, canary_percentage = $3 WHERE deployment_id = $1',
        [id, d.progress, d.canaryPercentage],
      );
      // Keep the finished step's counts in the history; the new step starts from zero.
      await updateMetrics(client, id, (m) => {
        m.history.push({ stepIndex: m.stepIndex, ...m.current });
        m.stepIndex = d.stepIndex;
        m.current = zeroCounts();
        delete m.held;
      });
      return;
    }
    case 'DeploymentStepHeld': {
      const { stepIndex, applied, rejected, required } = event.data;
      await updateMetrics(client, id, (m) => {
        m.held = { stepIndex, applied, rejected, required };
      });
      return;
    }
    case 'DeploymentMetricsReported': {
      const d = event.data;
      await updateMetrics(client, id, (m) => {
        for (const counts of d.stepIndex === m.stepIndex ? [m.current, m.totals] : [m.totals]) {
          counts[d.side].requests += d.requests;
          counts[d.side].errors += d.errors;
        }
      });
      return;
    }
    case 'DeploymentPaused':
      return void (await client.query(
        `UPDATE deployments SET status = 'Paused' WHERE deployment_id = $1`,
        [id],
      ));
    case 'DeploymentResumed':
      return void (await client.query(
        `UPDATE deployments SET status = 'InProgress', metrics = metrics - 'held'
          WHERE deployment_id = $1`,
        [id],
      ));
    case 'DeploymentCompleted':
      await client.query(
        `UPDATE deployments SET status = 'Completed', progress = 100,
                canary_percentage = CASE WHEN strategy = 'Canary' THEN 100 END, completed_at = $2,
                metrics = (metrics - 'held') || jsonb_build_object('version', $3::int, 'promoted', $4::boolean)
          WHERE deployment_id = $1`,
        [id, at, event.data.version, event.data.promoted],
      );
      return;
    case 'DeploymentRolledBack': {
      const d = event.data;
      await client.query(
        `UPDATE deployments SET status = 'RolledBack', was_rolled_back = TRUE, rollback_reason = $2,
                rolled_back_at = $3, error_message = CASE WHEN $4 THEN $2 ELSE error_message END,
                metrics = metrics || jsonb_build_object('automatic', $4::boolean,
                                                        'restoredVersion', $5::int)
          WHERE deployment_id = $1`,
        [id, d.reason, at, d.automatic, d.restoredVersion],
      );
      return;
    }
  }
}

export const deploymentsReadModel: ReadModelPart = {
  streamPrefix: DEPLOYMENT_PREFIX,
  tables: ['deployments'],
  apply: (client, e) => applyDeployment(client, e, e as unknown as DeploymentEvent),
};
