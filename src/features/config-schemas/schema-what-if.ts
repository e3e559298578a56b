/**
 * Schema what-if: before a schema version is attached, which of the values the configurations
 * using it ever held would it have refused? Pure: the history of each configuration (folded from
 * its recorded events, `historyOf`) and a validator in, a report out. The route reads the streams
 * (replay) and calls `evaluateWhatIf`; nothing is written.
 */
import type { ConfigType } from '../configs/config-values.js';
import { typedValue } from '../configs/config-values.js';
import {
  evolveConfiguration,
  initialConfigurationState,
  isVersioned,
  type ConfigurationEvent,
  type ConfigurationState,
} from '../configs/config.decider.js';

/** What a JSON Schema validator says about one typed value: null when it matches. */
export type Validator = (typed: unknown) => { path: string; message: string }[] | null;

/** Which value of a version was checked. */
export type ValueField = 'value' | 'defaultValue' | 'deployment';

/** One value a configuration held: a version's value or default, or a deployment's value. */
export interface HistoricalValue {
  version: number;
  field: ValueField;
  /** Set for a deployment's value (served to its canary side, completed or not). */
  deploymentId?: string;
  type: ConfigType;
  /** The stored text of the value. */
  text: string;
  /** The schema the configuration named at that point (null: none). */
  schemaIdThen: string | null;
  position: string;
  timestamp: string | null;
  userId: string | null;
}

export interface ConfigHistory {
  configId: string;
  key: string;
  environment: string;
  /** The newest version, and whether it is deleted (a live one would block the new version). */
  currentVersion: number;
  deleted: boolean;
  /** The deployment rolling a value out now, if any. */
  activeDeploymentId: string | null;
  /** Oldest first. */
  values: HistoricalValue[];
}

/** The minimum of a recorded event `historyOf` reads. */
export interface HistoryEvent {
  type: string;
  data: unknown;
  position: bigint;
  metadata: { timestamp?: string | undefined; userId?: string | undefined };
}

/**
 * A configuration's values from its recorded events, oldest first: each version's value (a
 * deleted version serves nothing, so it has none), its default whenever the version changed the
 * default's context (created, or given a schema), and each deployment's value. Undefined for a
 * stream with no configuration.
 */
export function historyOf(events: readonly HistoryEvent[]): ConfigHistory | undefined {
  let state: ConfigurationState = initialConfigurationState();
  const values: HistoricalValue[] = [];
  for (const e of events) {
    const event = e as unknown as ConfigurationEvent;
    state = evolveConfiguration(state, event);
    if (!state.exists) continue;
    const at = {
      type: state.type,
      schemaIdThen: state.schemaId,
      position: e.position.toString(),
      timestamp: e.metadata.timestamp ?? null,
      userId: e.metadata.userId ?? null,
    };
    if (event.type === 'ConfigurationDeploymentStarted') {
      values.push({
        ...at,
        version: state.version,
        field: 'deployment',
        deploymentId: event.data.deploymentId,
        text: event.data.value,
      });
      continue;
    }
    if (!isVersioned(event) || state.deleted) continue;
    values.push({ ...at, version: state.version, field: 'value', text: state.value });
    // The default is checked where the write path checks it: when created or given a schema.
    const defaultContext =
      event.type === 'ConfigurationCreated' ||
      (event.type === 'ConfigurationUpdated' && event.data.schemaId !== undefined);
    if (state.defaultValue !== null && defaultContext) {
      values.push({
        ...at,
        version: state.version,
        field: 'defaultValue',
        text: state.defaultValue,
      });
    }
  }
  if (!state.exists) return undefined;
  return {
    configId: state.configId,
    key: state.key,
    environment: state.environment,
    currentVersion: state.version,
    deleted: state.deleted,
    activeDeploymentId: state.activeDeploymentId,
    values,
  };
}

export interface WhatIfFailure {
  configId: string;
  key: string;
  environment: string;
  version: number;
  field: ValueField;
  deploymentId?: string;
  /** The configuration's newest version (of a live configuration): it would block the schema. */
  current: boolean;
  schemaIdThen: string | null;
  position: string;
  timestamp: string | null;
  userId: string | null;
  errors: { path: string; message: string }[];
}

export interface WhatIfConfigSummary {
  configId: string;
  key: string;
  environment: string;
  currentVersion: number;
  deleted: boolean;
  versionsChecked: number;
  /** Versions with at least one failing value (deployment values count for their base version). */
  failedVersions: number[];
}

export interface WhatIfReport {
  configs: WhatIfConfigSummary[];
  counts: {
    configs: number;
    versionsChecked: number;
    valuesChecked: number;
    failedValues: number;
    failedVersions: number;
    failedConfigs: number;
  };
  /**
   * A live configuration's current value or default, or a running deployment's value, fails:
   * defining the version would be refused (as the define command checks the same values).
   */
  wouldBeRefused: boolean;
  /** Oldest first per configuration, configurations in the order given; at most `limit`. */
  failures: WhatIfFailure[];
  /** More failures than listed (the counts are complete). */
  truncated: boolean;
}

/**
 * Checks every historical value against the validator. Values of one type and text are checked
 * once (histories repeat values: metadata-only updates, rollbacks).
 */
export function evaluateWhatIf(
  validate: Validator,
  histories: readonly ConfigHistory[],
  limit = 500,
): WhatIfReport {
  const verdicts = new Map<string, { path: string; message: string }[] | null>();
  const check = (type: ConfigType, text: string) => {
    const k = `${type}\u0000${text}`;
    if (!verdicts.has(k)) verdicts.set(k, validate(typedValue(type, text)));
    return verdicts.get(k)!;
  };
  const failures: WhatIfFailure[] = [];
  let failedValues = 0;
  let valuesChecked = 0;
  let versionsChecked = 0;
  let failedVersionCount = 0;
  let wouldBeRefused = false;
  const configs: WhatIfConfigSummary[] = [];
  for (const h of histories) {
    const versions = new Set<number>();
    const failed = new Set<number>();
    // The values in use now: the newest version's, and a deployment still running on it.
    const live = !h.deleted;
    const lastDefault = h.values.findLast((v) => v.field === 'defaultValue');
    for (const v of h.values) {
      valuesChecked += 1;
      if (v.field !== 'deployment') versions.add(v.version);
      const errors = check(v.type, v.text);
      if (!errors) continue;
      failedValues += 1;
      failed.add(v.version);
      const current =
        live &&
        (v.field === 'deployment'
          ? v.deploymentId === h.activeDeploymentId
          : v.field === 'defaultValue'
            ? v === lastDefault
            : v.version === h.currentVersion);
      if (current) wouldBeRefused = true;
      if (failures.length < limit) {
        failures.push({
          configId: h.configId,
          key: h.key,
          environment: h.environment,
          version: v.version,
          field: v.field,
          ...(v.deploymentId ? { deploymentId: v.deploymentId } : {}),
          current,
          schemaIdThen: v.schemaIdThen,
          position: v.position,
          timestamp: v.timestamp,
          userId: v.userId,
          errors,
        });
      }
    }
    versionsChecked += versions.size;
    failedVersionCount += failed.size;
    configs.push({
      configId: h.configId,
      key: h.key,
      environment: h.environment,
      currentVersion: h.currentVersion,
      deleted: h.deleted,
      versionsChecked: versions.size,
      failedVersions: [...failed].sort((a, b) => a - b),
    });
  }
  return {
    configs,
    counts: {
      configs: histories.length,
      versionsChecked,
      valuesChecked,
      failedValues,
      failedVersions: failedVersionCount,
      failedConfigs: configs.filter((c) => c.failedVersions.length > 0).length,
    },
    wouldBeRefused,
    failures,
    truncated: failedValues > failures.length,
  };
}
