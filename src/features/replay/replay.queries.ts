/**
 * Replay: answers from the event log itself, the one query path that reads the event store
 * rather than the read tables. A configuration's recorded events, and a configuration or a whole
 * environment as it was at a past moment (a time, a global position or a version), folded with
 * the domain's own `evolve` — so "what did Production serve at 03:12?" has an exact answer even
 * for states no read table keeps.
 */
import type { EventStore, RecordedEvent } from '../../core/event-store/event-store.js';
import {
  evolveConfiguration,
  initialConfigurationState,
  isVersioned,
  type ConfigurationEvent,
  type ConfigurationState,
} from '../configs/config.decider.js';
import type { TenantEvent } from '../tenants/tenant.decider.js';
import { typedValue } from '../configs/config-values.js';
import { masked, maskedValues } from '../configs/config.view.js';
import { configStream, tenantStream } from '../../core/streams.js';

/** Where to stop replaying: at a time (the decision time), a global position, or a version. */
export type Cut = { at: Date } | { position: bigint } | { version: number } | Record<string, never>;

function before(e: RecordedEvent, cut: Cut): boolean {
  if ('at' in cut) return Date.parse(String(e.metadata.timestamp)) <= cut.at.getTime();
  if ('position' in cut) return e.position <= cut.position;
  return true;
}

/** Folds a config's events up to the cut; the last event folded is what made that state. */
function fold(events: RecordedEvent[], cut: Cut) {
  let state: ConfigurationState = initialConfigurationState();
  let last: RecordedEvent | undefined;
  for (const e of events) {
    if (!before(e, cut)) break;
    const event = e as unknown as ConfigurationEvent;
    if ('version' in cut && isVersioned(event) && event.data.version > cut.version) break;
    state = evolveConfiguration(state, event);
    last = e;
    // Version N is the state its own event made: nothing after it (not even a deployment taking
    // the config in the same append) belongs to it.
    if ('version' in cut && isVersioned(event) && event.data.version === cut.version) break;
  }
  return { state, last };
}

/** Whether the config was sensitive at or before any of its events: its values stay secrets. */
const everSensitive = (events: RecordedEvent[]) =>
  events.some((e) => (e.data as { isSensitive?: unknown }).isSensitive === true);

const eventView = (e: RecordedEvent, sensitive: boolean) => ({
  revision: Number(e.revision),
  position: e.position.toString(),
  type: e.type,
  data: maskedValues({ ...(e.data as Record<string, unknown>) }, sensitive),
  metadata: e.metadata,
});

export type ReplayedEvent = ReturnType<typeof eventView>;

export class Replay {
  constructor(private readonly store: EventStore) {}

  /** A config's stream: its identity (from its first event) and its events. */
  async configStream(configId: string) {
    const { events } = await this.store.readStream(configStream(configId));
    const { state } = fold(events, {});
    if (!state.exists) return undefined;
    return { state, events };
  }

  /** A page of a config's recorded events; values masked if it is, or was, sensitive. */
  events(
    stream: { state: Extract<ConfigurationState, { exists: true }>; events: RecordedEvent[] },
    fromRevision: number,
    limit: number,
  ) {
    const page = stream.events.slice(fromRevision, fromRevision + limit);
    const next = fromRevision + page.length;
    const sensitive = everSensitive(stream.events);
    return {
      configId: stream.state.configId,
      items: page.map((e) => eventView(e, sensitive)),
      nextRevision: next < stream.events.length ? next : null,
      total: stream.events.length,
    };
  }

  /** The config as it was at the cut, or undefined if it did not exist yet. */
  configAt(
    stream: { state: Extract<ConfigurationState, { exists: true }>; events: RecordedEvent[] },
    cut: Cut,
  ) {
    const { state, last } = fold(stream.events, cut);
    if (!state.exists || !last) return undefined;
    const sensitive = everSensitive(stream.events);
    return {
      configId: state.configId,
      tenantId: state.tenantId,
      key: state.key,
      environment: state.environment,
      type: state.type,
      version: state.version,
      value: masked(state.value, sensitive),
      deleted: state.deleted,
      description: state.description,
      tags: state.tags,
      isSensitive: state.isSensitive,
      deploymentId: state.activeDeploymentId,
      lastEvent: {
        type: last.type,
        revision: Number(last.revision),
        position: last.position.toString(),
        timestamp: last.metadata.timestamp ?? null,
        userId: last.metadata.userId ?? null,
      },
    };
  }

  /**
   * An environment as apps were served it at the cut (stable values; canaries aside): every
   * config the tenant ever registered there, each folded from its own stream.
   */
  async environmentAt(tenantId: string, environment: string, cut: Cut) {
    const { events } = await this.store.readStream(tenantStream(tenantId));
    if (!events.length) return undefined;
    if (!before(events[0]!, cut)) return 'not-yet' as const;
    const ids = new Set<string>();
    for (const e of events as unknown as TenantEvent[]) {
      if (e.type === 'ConfigurationRegistered' && e.data.environment === environment) {
        ids.add(e.data.configId);
      }
    }
    const streams = await Promise.all([...ids].map((id) => this.configStream(id)));
    const configs: Record<string, unknown> = {};
    const versions: Record<string, number> = {};
    let position = 0n;
    for (const stream of streams) {
      if (!stream) continue;
      const { state, last } = fold(stream.events, cut);
      if (!state.exists || !last) continue;
      if (last.position > position) position = last.position;
      if (state.deleted) continue;
      // A masked value is the mask itself, not a typed value.
      const sensitive = everSensitive(stream.events);
      configs[state.key] = sensitive
        ? masked(state.value, sensitive)
        : typedValue(state.type, state.value);
      versions[state.key] = state.version;
    }
    const sorted = (o: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
    return {
      tenantId,
      environment,
      position: position.toString(),
      configs: sorted(configs),
      versions: sorted(versions) as Record<string, number>,
    };
  }
}
