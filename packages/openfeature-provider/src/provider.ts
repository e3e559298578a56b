/**
 * An OpenFeature server provider on the config service's client: every configuration key is a
 * flag. Values are resolved from the client's in-memory copy (no request per evaluation), typed
 * as the SDK asks; the variant is the key's version; changes are PROVIDER_CONFIGURATION_CHANGED.
 */
import {
  FlagNotFoundError,
  OpenFeatureEventEmitter,
  ProviderEvents,
  ProviderNotReadyError,
  StandardResolutionReasons,
  TypeMismatchError,
  type EvaluationContext,
  type JsonValue,
  type Provider,
  type ResolutionDetails,
  type TrackingEventDetails,
} from '@openfeature/server-sdk';
import {
  ConfigClient,
  isKind,
  kindOf,
  type ClientOptions,
  type ValueKind,
} from '@config-service/client';

export interface ProviderOptions {
  /** How long initialize() waits for the service (ms, default the client's readyTimeoutMs). */
  readyTimeoutMs?: number;
}

export class ConfigServiceProvider implements Provider {
  readonly metadata = { name: 'config-service' } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  readonly client: ConfigClient;
  private readonly owned: boolean;
  private readonly unsubscribe: (() => void)[] = [];
  /** What the SDK was last told: READY again only after STALE or ERROR. */
  private told: 'ready' | 'stale' | 'error' | undefined;

  /**
   * `client`: a ConfigClient the app shares (left open by onClose), or the options to create
   * one (closed by onClose).
   */
  constructor(
    client: ConfigClient | ClientOptions,
    private readonly options: ProviderOptions = {},
  ) {
    // Duck-typed, not instanceof: the app may hold a client from another copy of the package.
    const shared = typeof (client as ConfigClient).ready === 'function';
    this.owned = !shared;
    this.client = shared ? (client as ConfigClient) : new ConfigClient(client as ClientOptions);
    const c = this.client;
    this.unsubscribe.push(
      c.on('change', (_s, changed) =>
        this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: changed }),
      ),
      c.on('stale', (error) => this.tell('stale', message(error))),
      c.on('ready', () => this.back()),
      c.on('reconnected', () => this.back()),
    );
  }

  async initialize(_context?: EvaluationContext): Promise<void> {
    try {
      const snapshot = await this.client.ready({ timeout: this.options.readyTimeoutMs });
      this.told = 'ready';
      // Started on last-known-good or bootstrap values: usable, but say they may be old (once
      // the SDK has taken this initialisation as READY, hence the timer).
      if (snapshot.source !== 'service') {
        setTimeout(() => {
          if (this.client.snapshot?.source !== 'service') {
            this.tell('stale', `serving ${snapshot.source} values`);
          }
        }, 0);
      }
    } catch (error) {
      this.told = 'error';
      throw error;
    }
  }

  async onClose(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    if (this.owned) await this.client.close();
  }

  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean) {
    return Promise.resolve(this.resolve(flagKey, defaultValue, 'boolean'));
  }

  resolveStringEvaluation(flagKey: string, defaultValue: string) {
    return Promise.resolve(this.resolve(flagKey, defaultValue, 'string'));
  }

  resolveNumberEvaluation(flagKey: string, defaultValue: number) {
    return Promise.resolve(this.resolve(flagKey, defaultValue, 'number'));
  }

  resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T) {
    return Promise.resolve(this.resolve(flagKey, defaultValue, 'json'));
  }

  /**
   * `client.track(key, ctx, { ok })`: an outcome of work done with `key`'s value, counted for a
   * canary running on it (see the client's recordOutcome). Other tracking events are ignored.
   */
  track(trackingEventName: string, _context: EvaluationContext, details: TrackingEventDetails) {
    if (typeof details?.ok === 'boolean') this.client.recordOutcome(trackingEventName, details.ok);
  }

  private resolve<T>(flagKey: string, _defaultValue: T, kind: ValueKind): ResolutionDetails<T> {
    const snapshot = this.client.snapshot;
    if (!snapshot)
      throw new ProviderNotReadyError('no values received from the config service yet');
    const entry = this.client.lookup(flagKey);
    if (!entry) {
      throw new FlagNotFoundError(`no configuration '${flagKey}' in this environment`);
    }
    if (!isKind(entry.value, kind)) {
      throw new TypeMismatchError(
        `configuration '${flagKey}' is ${kindOf(entry.value)}, not ${kind === 'json' ? 'an object' : kind}`,
      );
    }
    const flagMetadata: Record<string, string | number | boolean> = { source: entry.source };
    if (entry.version !== undefined) flagMetadata.version = entry.version;
    if (entry.deployment) {
      flagMetadata.deploymentId = entry.deployment.deploymentId;
      flagMetadata.side = entry.deployment.side;
    }
    const version = entry.version === undefined ? undefined : String(entry.version);
    return {
      value: entry.value as T,
      // The key's version; on the canary side of a rollout, the value being rolled out over it.
      variant: version && entry.deployment?.side === 'canary' ? `${version}+canary` : version,
      reason: entry.deployment
        ? StandardResolutionReasons.SPLIT
        : entry.source === 'service'
          ? StandardResolutionReasons.STATIC
          : StandardResolutionReasons.STALE,
      flagMetadata,
    };
  }

  private tell(state: 'stale' | 'error', text: string) {
    this.told = state;
    this.events.emit(state === 'stale' ? ProviderEvents.Stale : ProviderEvents.Error, {
      message: text,
    });
  }

  /** Live values again: READY, if the SDK was told otherwise since. */
  private back() {
    if (this.told === 'stale' || this.told === 'error') {
      this.told = 'ready';
      this.events.emit(ProviderEvents.Ready);
    }
  }
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
