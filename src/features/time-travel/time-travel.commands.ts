/**
 * Restoring an environment to a past point: the keys whose value differs from then are set back,
 * keys added since are deleted, keys deleted since come back. Where the environment needs
 * approval, each change is a change request (Direct rollout) instead; either way all of them
 * carry one correlation id: the restore is one audited change set. Not atomic across keys (each
 * key is its own stream and command): a failure stops the restore and says how far it got.
 */
import type { CommandContext } from '../../core/commands/command-handling.js';
import { foldFromStart } from '../../core/commands/decider.js';
import type { EventStore } from '../../core/event-store/event-store.js';
import { tenantStream } from '../../core/streams.js';
import { requiredApprovals, tenantDecider, type TenantEvent } from '../tenants/tenant.decider.js';
import { planOf } from '../deployments/deployment.decider.js';
import type { ConfigCommands } from '../configs/configs.commands.js';
import type { ChangeRequestCommands } from '../change-requests/change-requests.commands.js';
import type { ConfigType } from '../configs/config-values.js';
import { DomainError } from '../../core/domain-error.js';
import { diffStates, type TimeTravelQueries } from './time-travel.queries.js';

export interface RestoreStep {
  key: string;
  configId: string;
  change: 'added' | 'removed' | 'changed';
  /** What the restore does to the key. */
  action: 'update' | 'create' | 'restore' | 'delete';
  value: string | null;
  /** Change-request mode: the request made. */
  approvalId: string | null;
}

export interface RestoreResult {
  mode: 'direct' | 'change-requests';
  correlationId: string;
  /** The environment's position restored to. */
  restoredTo: bigint;
  position: bigint | undefined;
  steps: RestoreStep[];
}

export class TimeTravelCommands {
  constructor(
    private readonly store: EventStore,
    private readonly queries: TimeTravelQueries,
    private readonly configs: ConfigCommands,
    private readonly changeRequests: ChangeRequestCommands,
  ) {}

  async restore(
    cmd: { tenantId: string; environment: string; position: bigint; description?: string },
    ctx: CommandContext,
  ): Promise<RestoreResult> {
    const { tenantId, environment } = cmd;
    const only = (e: string) => e === environment;
    const [then, now, tenant, entries] = await Promise.all([
      this.queries.tenantAt(tenantId, cmd.position, { mask: false, environments: only }),
      this.queries.tenantAt(tenantId, await this.queries.head(tenantId), {
        mask: false,
        environments: only,
      }),
      this.store
        .readStream(tenantStream(tenantId))
        .then((r) => foldFromStart(tenantDecider, r.events as unknown as TenantEvent[])),
      this.queries.entriesAt(tenantId, await this.queries.head(tenantId)).then((x) => x.entries),
    ]);
    if (!tenant.exists) {
      throw new DomainError('not_found', `Tenant '${tenantId}' not found`, 'tenantId');
    }
    const viaRequests = requiredApprovals(tenant, environment) > 0;
    const description =
      cmd.description ?? `Restore ${environment} to position ${cmd.position.toString()}`;
    const steps: RestoreStep[] = [];
    let position: bigint | undefined;
    // Current state first, target second: what to do to get from now back to then.
    for (const item of diffStates(now, then)) {
      const target = item.to;
      const action: RestoreStep['action'] = !target
        ? 'delete'
        : item.change === 'changed'
          ? 'update'
          : entries.has(item.configId)
            ? 'restore'
            : 'create';
      const step: RestoreStep = {
        key: item.key,
        configId: item.configId,
        change: item.change,
        action,
        value: target?.value ?? null,
        approvalId: null,
      };
      if (viaRequests) {
        const result = await this.changeRequests.requestChange(
          {
            tenantId,
            key: item.key,
            environment,
            action: target ? 'Update' : 'Delete',
            ...(target ? { type: target.type as ConfigType, value: target.value } : {}),
            description,
            rollout: planOf({ strategy: 'Direct' }),
          },
          ctx,
        );
        step.approvalId = (result.state as { approvalId?: string }).approvalId ?? null;
        position = result.position ?? position;
      } else {
        const current = now[environment]?.[item.key];
        let result;
        if (action === 'delete') {
          result = await this.configs.delete(
            { configId: item.configId, expectedVersion: current!.version },
            ctx,
          );
        } else if (action === 'update') {
          result = await this.configs.update(
            {
              configId: item.configId,
              expectedVersion: current!.version,
              value: target!.value,
              changeDescription: description,
            },
            ctx,
          );
        } else if (action === 'restore') {
          result = await this.configs.restore({ configId: item.configId }, ctx);
          const back = result.state as { version?: number; value?: string };
          if (back.value !== target!.value) {
            result = await this.configs.update(
              {
                configId: item.configId,
                expectedVersion: back.version,
                value: target!.value,
                changeDescription: description,
              },
              ctx,
            );
          }
        } else {
          result = await this.configs.create(
            {
              tenantId,
              key: item.key,
              environment,
              type: target!.type as ConfigType,
              value: target!.value,
              changeDescription: description,
            },
            ctx,
          );
        }
        position = result.position ?? position;
      }
      steps.push(step);
    }
    return {
      mode: viaRequests ? 'change-requests' : 'direct',
      correlationId: ctx.correlationId,
      restoredTo: cmd.position,
      position,
      steps,
    };
  }
}
