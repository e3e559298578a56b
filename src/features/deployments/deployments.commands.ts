/**
 * Deployment commands, through the one command handler. The rules are in the deployment decider
 * and the process functions (`deployment-start.process.ts`, `deployment-progress.process.ts`);
 * what stays here is I/O: the caller's guard, schema checks, what a lost race means, metrics.
 */
import type { EventStore } from '../../core/event-store/event-store.js';
import { configDecider, type ConfigurationState } from '../configs/config.decider.js';
import {
  decideReportMetrics,
  deploymentDecider,
  type CanaryAcknowledgements,
  type DeploymentState,
  type RolloutPlan,
  type Side,
} from './deployment.decider.js';
import { DomainError } from '../../core/domain-error.js';
import { tenantDecider } from '../tenants/tenant.decider.js';
import {
  notFound,
  type CommandContext,
  type CommandOutcome,
} from '../../core/commands/command-handling.js';
import { CommandHandler, type Attempt, type Stream } from '../../core/commands/command-handler.js';
import type { ConfigGuard } from '../configs/configs.commands.js';
import { configStream, deploymentStream, tenantStream } from '../../core/streams.js';
import { decideDirectDeployment, newDeploymentId } from './deployment-start.process.js';
import {
  decideCanaryStep,
  decideOnAcknowledgements,
  decidePromotion,
  decideResumption,
  decideRollback,
  type DeploymentWrite,
} from './deployment-progress.process.js';
import { decideAdvance } from './deployment.decider.js';
import type { SchemaRegistry } from '../config-schemas/schema-registry.js';

export class DeploymentCommands {
  private readonly handler: CommandHandler;

  constructor(
    store: EventStore,
    /** Told when a deployment finishes (metrics). */
    private readonly onFinished: (outcome: 'completed' | 'rolled_back') => void = () => undefined,
    /** Checks deployed values against the config's schema, if it names one. */
    private readonly schemas?: SchemaRegistry,
    /**
     * What the live canary-side instances of a deployment last acknowledged (the ledger's
     * table; none where no ledger is wired, as for apps that never report).
     */
    private readonly acknowledgements: (
      deploymentId: string,
      configId: string,
    ) => Promise<CanaryAcknowledgements> = async () => ({ applied: 0, rejected: 0 }),
  ) {
    this.handler = new CommandHandler(store);
  }

  /** POST /deployments: environments that need no approval. */
  async startDeployment(
    cmd: { configId: string; value: unknown; rollout: RolloutPlan; expectedVersion?: number },
    ctx: CommandContext,
    guard: ConfigGuard,
  ): Promise<CommandOutcome<DeploymentState>> {
    const { result, position } = await this.handler.run(
      ctx,
      async (attempt) => {
        const config = await attempt.read(configDecider, configStream(cmd.configId));
        const c = config.state;
        if (!c.exists || c.deleted) throw notFound('Configuration', cmd.configId, 'configId');
        guard(c.tenantId, c.environment, c.configId);
        const tenant = await attempt.read(tenantDecider, tenantStream(c.tenantId));
        const deploymentId = newDeploymentId();
        const write = decideDirectDeployment(tenant.state, c, {
          ...cmd,
          deploymentId,
          deployedBy: ctx.userId,
        });
        await this.schemas?.checkValue(c, write.value);
        const deployment = attempt.create(deploymentDecider, deploymentStream(deploymentId));
        attempt.stage(config, write.config);
        attempt.stage(deployment, write.deployment);
        return deployment.state;
      },
      {
        // Someone changed the config (or started a deployment) since it was read.
        onConflict: () =>
          new DomainError(
            'version_conflict',
            'The configuration changed concurrently; retry',
            'configId',
          ),
      },
    );
    if (cmd.rollout.strategy === 'Direct') this.onFinished('completed');
    return { state: result, position };
  }

  /** The step job, after a bake time. */
  advance(deploymentId: string, stepIndex: number, ctx: CommandContext, bake?: number) {
    return this.progress(ctx, async (attempt) => {
      const deployment = await attempt.read(deploymentDecider, deploymentStream(deploymentId));
      const d = deployment.state;
      const next = decideAdvance(d, stepIndex, bake).kind;
      if (next === 'none' || !d.exists) {
        return { deployment, write: { deployment: [], config: [] } };
      }
      const [tenant, config] = await Promise.all([
        attempt.read(tenantDecider, tenantStream(d.tenantId)),
        attempt.read(configDecider, configStream(d.configId)),
      ]);
      if (next === 'complete') await this.recheck(attempt, deployment, config.state);
      const acks = await this.acknowledgements(d.deploymentId, d.configId);
      const write = decideCanaryStep(
        { deployment: d, tenant: tenant.state, config: config.state },
        { stepIndex, bake, by: ctx.userId, acks },
      );
      return { deployment, config, write };
    });
  }

  /**
   * Instances on a canary's canary side reported: a step held for them may move on, or their
   * rejections roll the canary back. `configId` is the key the reports were for: reports naming
   * another config's deployment change nothing.
   */
  acknowledged(deploymentId: string, configId: string, ctx: CommandContext) {
    return this.progress(ctx, async (attempt) => {
      const deployment = await attempt.read(deploymentDecider, deploymentStream(deploymentId));
      const d = deployment.state;
      if (!d.exists || d.configId !== configId || d.strategy !== 'Canary') {
        return { deployment, write: { deployment: [], config: [] } };
      }
      if (d.status !== 'InProgress' && d.status !== 'Paused') {
        return { deployment, write: { deployment: [], config: [] } };
      }
      const [tenant, config] = await Promise.all([
        attempt.read(tenantDecider, tenantStream(d.tenantId)),
        attempt.read(configDecider, configStream(d.configId)),
      ]);
      const acks = await this.acknowledgements(d.deploymentId, d.configId);
      const write = decideOnAcknowledgements(
        { deployment: d, tenant: tenant.state, config: config.state },
        { by: ctx.userId, acks },
      );
      if (write.deployment.some((e) => e.type === 'DeploymentCompleted')) {
        await this.recheck(attempt, deployment, config.state);
      }
      return { deployment, config, write };
    });
  }

  promote(deploymentId: string, ctx: CommandContext, guard: ConfigGuard) {
    return this.progress(ctx, async (attempt) => {
      const deployment = await this.readGuarded(attempt, deploymentId, guard);
      const d = deployment.state as Extract<DeploymentState, { exists: true }>;
      const [tenant, config] = await Promise.all([
        attempt.read(tenantDecider, tenantStream(d.tenantId)),
        attempt.read(configDecider, configStream(d.configId)),
      ]);
      await this.recheck(attempt, deployment, config.state);
      const write = decidePromotion(
        { deployment: d, tenant: tenant.state, config: config.state },
        deploymentId,
      );
      return { deployment, config, write };
    });
  }

  /** Manual rollback: stops a running deployment, or reverts a completed one as a new version. */
  rollback(deploymentId: string, reason: string, ctx: CommandContext, guard: ConfigGuard) {
    return this.progress(ctx, async (attempt) => {
      const deployment = await this.readGuarded(attempt, deploymentId, guard);
      const d = deployment.state as Extract<DeploymentState, { exists: true }>;
      const [tenant, config] = await Promise.all([
        attempt.read(tenantDecider, tenantStream(d.tenantId)),
        attempt.read(configDecider, configStream(d.configId)),
      ]);
      const write = decideRollback(
        { deployment: d, tenant: tenant.state, config: config.state },
        { deploymentId, reason },
      );
      return { deployment, config, write };
    });
  }

  /** Apps report what they saw; too many canary errors roll the deployment back at once. */
  async reportMetrics(
    cmd: { deploymentId: string; side: Side; requests: number; errors: number },
    ctx: CommandContext,
    guard: ConfigGuard,
  ) {
    const { result, position } = await this.handler.run(ctx, async (attempt) => {
      const deployment = await this.readGuarded(attempt, cmd.deploymentId, guard);
      const decision = decideReportMetrics(deployment.state, cmd);
      if (decision.rolledBack) {
        // The automatic rollback frees the config in the same append.
        const d = deployment.state as Extract<DeploymentState, { exists: true }>;
        const config = await attempt.read(configDecider, configStream(d.configId));
        attempt.decide(configDecider, config, {
          type: 'AbortDeployment',
          data: { configId: d.configId, deploymentId: d.deploymentId },
        });
      }
      attempt.stage(deployment, decision.events);
      return { state: deployment.state, rolledBack: decision.rolledBack };
    });
    if (result.rolledBack) this.onFinished('rolled_back');
    return { ...result, position };
  }

  pause(deploymentId: string, ctx: CommandContext, guard: ConfigGuard) {
    return this.onDeployment(deploymentId, ctx, guard, (attempt, deployment) =>
      attempt.decide(deploymentDecider, deployment, {
        type: 'PauseDeployment',
        data: { deploymentId, by: ctx.userId },
      }),
    );
  }

  resume(deploymentId: string, ctx: CommandContext, guard: ConfigGuard) {
    return this.onDeployment(deploymentId, ctx, guard, async (attempt, deployment) => {
      const d = deployment.state as Extract<DeploymentState, { exists: true }>;
      const tenant = await attempt.read(tenantDecider, tenantStream(d.tenantId));
      attempt.stage(
        deployment,
        decideResumption({ deployment: d, tenant: tenant.state }, { deploymentId, by: ctx.userId }),
      );
    });
  }

  /**
   * A completion decided on a config that another completion (a second job, a promote) freed
   * between the two reads: if the deployment moved too, decide again on fresh state.
   */
  private async recheck(
    attempt: Attempt,
    deployment: Stream<DeploymentState>,
    config: ConfigurationState,
  ) {
    const d = deployment.state;
    if (!d.exists || !config.exists || config.activeDeploymentId === d.deploymentId) return;
    await attempt.requireUnmoved(deployment);
  }

  /**
   * Moves a deployment on (and its config with it). Metrics reports and step jobs append to the
   * deployment stream all the time: a lost race is decided again.
   */
  private async progress(
    ctx: CommandContext,
    work: (attempt: Attempt) => Promise<{
      deployment: Stream<DeploymentState>;
      config?: Stream<ConfigurationState>;
      write: DeploymentWrite;
    }>,
  ): Promise<CommandOutcome<DeploymentState>> {
    const { result, position } = await this.handler.run(ctx, async (attempt) => {
      const { deployment, config, write } = await work(attempt);
      if (config) {
        // Schema versions that would refuse a value being rolled out are refused themselves;
        // this covers the instant in between.
        await this.schemas?.checkOutcome(config.state, write.config);
        attempt.stage(config, write.config);
      }
      attempt.stage(deployment, write.deployment);
      return { state: deployment.state, write };
    });
    const events = result.write.deployment;
    if (events.some((e) => e.type === 'DeploymentCompleted')) this.onFinished('completed');
    // A completed deployment was counted as completed; its revert is a failure too.
    if (events.some((e) => e.type === 'DeploymentRolledBack')) this.onFinished('rolled_back');
    return { state: result.state, position };
  }

  private async readGuarded(attempt: Attempt, deploymentId: string, guard: ConfigGuard) {
    const deployment = await attempt.read(deploymentDecider, deploymentStream(deploymentId));
    const d = deployment.state;
    if (!d.exists) throw notFound('Deployment', deploymentId, 'deploymentId');
    guard(d.tenantId, d.environment, d.configId);
    return deployment;
  }

  private async onDeployment(
    deploymentId: string,
    ctx: CommandContext,
    guard: ConfigGuard,
    decide: (attempt: Attempt, deployment: Stream<DeploymentState>) => unknown,
  ): Promise<CommandOutcome<DeploymentState>> {
    const { result, position } = await this.handler.run(ctx, async (attempt) => {
      const deployment = await this.readGuarded(attempt, deploymentId, guard);
      await decide(attempt, deployment);
      return deployment.state;
    });
    return { state: result, position };
  }
}
