/**
 * Configuration aggregate (stream `config-{configId}`). The id is derived from (tenant,
 * environment, key), so one key has one stream for life: deleting and creating it again continues
 * the same history, and two racing creates both target the same stream.
 */
import { createHash } from 'node:crypto';
import { DomainError } from './errors.js';
import { normaliseValue, type ConfigType } from './values.js';

export function configIdFor(tenantId: string, environment: string, key: string): string {
  const digest = createHash('sha256').update(`${tenantId}\n${environment}\n${key}`).digest('hex');
  return `cfg_${digest.slice(0, 32)}`;
}

export type ChangeType = 'Created' | 'Updated' | 'RolledBack' | 'Deleted' | 'Restored';

interface Identity {
  configId: string;
  tenantId: string;
  key: string;
  environment: string;
}

export interface ConfigAttributes {
  type: ConfigType;
  description: string | null;
  tags: string[];
  isSensitive: boolean;
  defaultValue: string | null;
  schemaId: string | null;
}

/** Every versioned event carries the value after it and before it, so projections need no state. */
interface Versioned extends Identity {
  /** The config's type, on every event so that no reader needs earlier events to type a value. */
  type: ConfigType;
  version: number;
  value: string;
  previousValue: string | null;
  changeDescription: string | null;
  isSensitive: boolean;
}

export type ConfigurationEvent =
  | { type: 'ConfigurationCreated'; data: Versioned & ConfigAttributes }
  | {
      type: 'ConfigurationUpdated';
      data: Versioned & { description?: string | null; tags?: string[]; schemaId?: string | null };
    }
  | { type: 'ConfigurationRolledBack'; data: Versioned & { toVersion: number } }
  | { type: 'ConfigurationDeleted'; data: Versioned }
  | { type: 'ConfigurationRestored'; data: Versioned }
  /** A deployment took the config: no other change until it ends. Not a new version. */
  | {
      type: 'ConfigurationDeploymentStarted';
      data: Identity & { type: ConfigType; deploymentId: string; value: string };
    }
  | {
      type: 'ConfigurationDeploymentEnded';
      data: Identity & {
        type: ConfigType;
        deploymentId: string;
        outcome: 'Completed' | 'RolledBack';
      };
    };

export type VersionedConfigurationEvent = Exclude<
  ConfigurationEvent,
  { type: 'ConfigurationDeploymentStarted' | 'ConfigurationDeploymentEnded' }
>;

export const isVersioned = (e: { type: string }): e is VersionedConfigurationEvent =>
  e.type !== 'ConfigurationDeploymentStarted' && e.type !== 'ConfigurationDeploymentEnded';

export type ConfigurationState =
  | { exists: false }
  | ({
      exists: true;
      deleted: boolean;
      version: number;
      value: string;
      /** values[v - 1] is the value at version v (for rollback). */
      values: string[];
      /** The deployment that has the config, if one is running. */
      activeDeploymentId: string | null;
    } & Identity &
      ConfigAttributes);

export const initialConfigurationState = (): ConfigurationState => ({ exists: false });

export function evolveConfiguration(
  state: ConfigurationState,
  event: ConfigurationEvent,
): ConfigurationState {
  if (event.type === 'ConfigurationDeploymentStarted') {
    return state.exists ? { ...state, activeDeploymentId: event.data.deploymentId } : state;
  }
  if (event.type === 'ConfigurationDeploymentEnded') {
    return state.exists ? { ...state, activeDeploymentId: null } : state;
  }
  const d = event.data;
  const values = state.exists ? [...state.values] : [];
  values[d.version - 1] = d.value;
  switch (event.type) {
    case 'ConfigurationCreated': {
      const c = event.data;
      return {
        exists: true,
        deleted: false,
        configId: c.configId,
        tenantId: c.tenantId,
        key: c.key,
        environment: c.environment,
        type: c.type,
        description: c.description,
        tags: c.tags,
        isSensitive: c.isSensitive,
        defaultValue: c.defaultValue,
        schemaId: c.schemaId,
        version: c.version,
        value: c.value,
        values,
        activeDeploymentId: null,
      };
    }
    case 'ConfigurationUpdated': {
      if (!state.exists) return state;
      const u = event.data;
      return {
        ...state,
        version: u.version,
        value: u.value,
        values,
        isSensitive: u.isSensitive,
        description: u.description === undefined ? state.description : u.description,
        tags: u.tags ?? state.tags,
        schemaId: u.schemaId === undefined ? state.schemaId : u.schemaId,
      };
    }
    case 'ConfigurationRolledBack':
    case 'ConfigurationRestored':
      return state.exists
        ? { ...state, version: d.version, value: d.value, values, deleted: false }
        : state;
    case 'ConfigurationDeleted':
      return state.exists ? { ...state, version: d.version, values, deleted: true } : state;
  }
}

export interface CreateConfig {
  tenantId: string;
  key: string;
  environment: string;
  type: ConfigType;
  value: unknown;
  description?: string | null;
  tags?: string[];
  isSensitive?: boolean;
  defaultValue?: unknown;
  schemaId?: string | null;
  changeDescription?: string | null;
}

export function decideCreateConfig(
  state: ConfigurationState,
  cmd: CreateConfig,
): ConfigurationEvent[] {
  const configId = configIdFor(cmd.tenantId, cmd.environment, cmd.key);
  if (state.exists && !state.deleted) {
    throw new DomainError(
      'already_exists',
      `Configuration '${cmd.key}' already exists in ${cmd.environment}`,
      'key',
      { configId },
    );
  }
  const value = normaliseValue(cmd.type, cmd.value);
  const defaultValue =
    cmd.defaultValue === undefined || cmd.defaultValue === null
      ? null
      : normaliseValue(cmd.type, cmd.defaultValue, 'defaultValue');
  // Creating a deleted key again continues its history with a new version.
  const version = state.exists ? state.version + 1 : 1;
  return [
    {
      type: 'ConfigurationCreated',
      data: {
        configId,
        tenantId: cmd.tenantId,
        key: cmd.key,
        environment: cmd.environment,
        type: cmd.type,
        value,
        previousValue: state.exists ? state.value : null,
        version,
        description: cmd.description ?? null,
        tags: cmd.tags ?? [],
        isSensitive: cmd.isSensitive ?? false,
        defaultValue,
        schemaId: cmd.schemaId ?? null,
        changeDescription: cmd.changeDescription ?? null,
      },
    },
  ];
}

export interface UpdateConfig {
  configId: string;
  expectedVersion: number | undefined;
  value?: unknown;
  description?: string | null;
  tags?: string[];
  isSensitive?: boolean;
  /** Names a schema the value must match from now on; null removes it. */
  schemaId?: string | null;
  changeDescription?: string | null;
}

export function decideUpdateConfig(
  state: ConfigurationState,
  cmd: UpdateConfig,
): ConfigurationEvent[] {
  const config = requireLive(state, cmd.configId);
  requireNoDeployment(config);
  checkExpectedVersion(config, cmd.expectedVersion, true);
  const value = cmd.value === undefined ? config.value : normaliseValue(config.type, cmd.value);
  const event: Extract<ConfigurationEvent, { type: 'ConfigurationUpdated' }>['data'] = {
    ...identity(config),
    version: config.version + 1,
    value,
    previousValue: config.value,
    changeDescription: cmd.changeDescription ?? null,
    isSensitive: cmd.isSensitive ?? config.isSensitive,
  };
  let changed = value !== config.value || event.isSensitive !== config.isSensitive;
  if (cmd.description !== undefined && cmd.description !== config.description) {
    event.description = cmd.description;
    changed = true;
  }
  if (cmd.tags !== undefined && JSON.stringify(cmd.tags) !== JSON.stringify(config.tags)) {
    event.tags = cmd.tags;
    changed = true;
  }
  if (cmd.schemaId !== undefined && cmd.schemaId !== config.schemaId) {
    event.schemaId = cmd.schemaId;
    changed = true;
  }
  // A write that changes nothing appends nothing.
  return changed ? [{ type: 'ConfigurationUpdated', data: event }] : [];
}

export function decideRollbackConfig(
  state: ConfigurationState,
  cmd: {
    configId: string;
    toVersion: number;
    expectedVersion?: number;
    changeDescription?: string | null;
  },
): ConfigurationEvent[] {
  const config = requireLive(state, cmd.configId);
  requireNoDeployment(config);
  checkExpectedVersion(config, cmd.expectedVersion);
  if (!Number.isInteger(cmd.toVersion) || cmd.toVersion < 1 || cmd.toVersion > config.version) {
    throw new DomainError(
      'validation',
      `version must be between 1 and ${config.version}`,
      'version',
    );
  }
  // A key deleted and created again may have changed type: the old value must still fit.
  let value: string;
  try {
    value = normaliseValue(config.type, config.values[cmd.toVersion - 1]!);
  } catch {
    throw new DomainError(
      'validation',
      `version ${cmd.toVersion} holds a value that is not a valid ${config.type}`,
      'version',
    );
  }
  if (value === config.value) return [];
  return [
    {
      type: 'ConfigurationRolledBack',
      data: {
        ...nextVersion(
          config,
          value,
          cmd.changeDescription ?? `Rolled back to version ${cmd.toVersion}`,
        ),
        toVersion: cmd.toVersion,
      },
    },
  ];
}

export function decideDeleteConfig(
  state: ConfigurationState,
  cmd: { configId: string; expectedVersion?: number },
): ConfigurationEvent[] {
  const config = requireLive(state, cmd.configId);
  requireNoDeployment(config);
  checkExpectedVersion(config, cmd.expectedVersion);
  return [
    {
      type: 'ConfigurationDeleted',
      data: nextVersion(config, config.value, null),
    },
  ];
}

export function decideRestoreConfig(
  state: ConfigurationState,
  cmd: { configId: string },
): ConfigurationEvent[] {
  if (!state.exists) {
    throw new DomainError('not_found', `Configuration '${cmd.configId}' not found`, 'configId');
  }
  if (!state.deleted) {
    throw new DomainError('invalid_state', `Configuration '${cmd.configId}' is not deleted`);
  }
  return [
    {
      type: 'ConfigurationRestored',
      data: nextVersion(state, state.value, null),
    },
  ];
}

type LiveConfig = Extract<ConfigurationState, { exists: true }>;

/** A running deployment owns the config: direct changes wait until it completes or rolls back. */
function requireNoDeployment(config: LiveConfig): void {
  if (config.activeDeploymentId) {
    throw new DomainError(
      'invalid_state',
      `Deployment ${config.activeDeploymentId} is in progress on this configuration`,
      undefined,
      { activeDeploymentId: config.activeDeploymentId },
    );
  }
}

export function decideStartDeployment(
  state: ConfigurationState,
  cmd: { configId: string; deploymentId: string; value: unknown },
): { events: ConfigurationEvent[]; value: string; config: LiveConfig } {
  const config = requireLive(state, cmd.configId);
  requireNoDeployment(config);
  const value = normaliseValue(config.type, cmd.value);
  return {
    value,
    config,
    events: [
      {
        type: 'ConfigurationDeploymentStarted',
        data: { ...identity(config), deploymentId: cmd.deploymentId, value },
      },
    ],
  };
}

/** A deployment reached 100 %: its value becomes the config's new version. */
export function decideCompleteDeployment(
  state: ConfigurationState,
  cmd: { configId: string; deploymentId: string; value: string },
): ConfigurationEvent[] {
  const config = requireLive(state, cmd.configId);
  if (config.activeDeploymentId !== cmd.deploymentId) {
    throw new DomainError(
      'invalid_state',
      `Deployment ${cmd.deploymentId} does not hold this configuration`,
    );
  }
  const events: ConfigurationEvent[] = [];
  if (cmd.value !== config.value) {
    events.push({
      type: 'ConfigurationUpdated',
      data: nextVersion(config, cmd.value, `Deployment ${cmd.deploymentId}`),
    });
  }
  events.push({
    type: 'ConfigurationDeploymentEnded',
    data: { ...identity(config), deploymentId: cmd.deploymentId, outcome: 'Completed' },
  });
  return events;
}

/** A running deployment rolled back: the config keeps its value and is free again. */
export function decideAbortDeployment(
  state: ConfigurationState,
  cmd: { configId: string; deploymentId: string },
): ConfigurationEvent[] {
  if (!state.exists || state.activeDeploymentId !== cmd.deploymentId) return [];
  return [
    {
      type: 'ConfigurationDeploymentEnded',
      data: { ...identity(state), deploymentId: cmd.deploymentId, outcome: 'RolledBack' },
    },
  ];
}

/**
 * Rolling back a completed deployment restores the value it replaced, as a new version, unless
 * the config changed since (then the rollback would overwrite someone else's change).
 */
export function decideRevertDeployment(
  state: ConfigurationState,
  cmd: {
    configId: string;
    deploymentId: string;
    deployedVersion: number;
    toVersion: number;
    reason: string;
  },
): ConfigurationEvent[] {
  const config = requireLive(state, cmd.configId);
  requireNoDeployment(config);
  if (config.version !== cmd.deployedVersion) {
    throw new DomainError(
      'stale',
      `The configuration changed after deployment ${cmd.deploymentId} (now version ${config.version})`,
      undefined,
      { currentVersion: config.version },
    );
  }
  const value = config.values[cmd.toVersion - 1];
  if (value === undefined || value === config.value) return [];
  return [
    {
      type: 'ConfigurationRolledBack',
      data: {
        ...nextVersion(config, value, `Rollback of deployment ${cmd.deploymentId}: ${cmd.reason}`),
        toVersion: cmd.toVersion,
      },
    },
  ];
}

export function requireLive(state: ConfigurationState, configId: string): LiveConfig {
  if (!state.exists || state.deleted) {
    throw new DomainError('not_found', `Configuration '${configId}' not found`, 'configId');
  }
  return state;
}

/** Updates must name the version they change; deletes and rollbacks may (then it is checked). */
function checkExpectedVersion(
  config: LiveConfig,
  expected: number | undefined,
  required = false,
): void {
  if (expected === undefined) {
    if (!required) return;
    throw new DomainError(
      'precondition_required',
      'Send the version you are changing as an If-Match header or expectedVersion',
      'expectedVersion',
      { currentVersion: config.version },
    );
  }
  if (expected !== config.version) {
    throw new DomainError(
      'version_conflict',
      `Configuration is at version ${config.version}, not ${expected}`,
      'expectedVersion',
      { currentVersion: config.version },
    );
  }
}

/** The data of the config's next version: `value` replaces the current one. */
function nextVersion(
  c: LiveConfig,
  value: string,
  changeDescription: string | null,
): Extract<ConfigurationEvent, { type: 'ConfigurationDeleted' }>['data'] {
  return {
    ...identity(c),
    version: c.version + 1,
    value,
    previousValue: c.value,
    changeDescription,
    isSensitive: c.isSensitive,
  };
}

function identity(c: Identity & { type: ConfigType }): Identity & { type: ConfigType } {
  return {
    configId: c.configId,
    tenantId: c.tenantId,
    key: c.key,
    environment: c.environment,
    type: c.type,
  };
}
