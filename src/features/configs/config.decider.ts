/**
 * Configuration aggregate (stream `config-{configId}`). The id is derived from (tenant,
 * environment, key), so one key has one stream for life: deleting and creating it again continues
 * the same history, and two racing creates both target the same stream.
 */
import { DomainError } from '../../core/domain-error.js';
import { normaliseValue, type ConfigType } from './config-values.js';
import {
  configIdFor,
  evolveConfiguration,
  initialConfigurationState,
  type ConfigurationEvent,
  type ConfigurationState,
  type Identity,
} from './config.events.js';

export * from './config.events.js';

export interface CreateConfig {
  tenantId: string;
  key: string;
  environment: string;
  type: ConfigType;
  value: unknown;
  description?: string | null;
  tags?: string[];
  isSensitive?: boolean;
  isEncrypted?: boolean;
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
  // Once encrypted, always: its history holds encrypted values.
  const isEncrypted = (cmd.isEncrypted ?? false) || (state.exists && state.isEncrypted);
  if (isEncrypted && cmd.isSensitive === false) {
    throw new DomainError(
      'validation',
      'An encrypted configuration is always sensitive',
      'isSensitive',
    );
  }
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
        isSensitive: isEncrypted || (cmd.isSensitive ?? false),
        ...(isEncrypted ? { isEncrypted } : {}),
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
  if (config.isEncrypted && cmd.isSensitive === false) {
    throw new DomainError(
      'validation',
      'An encrypted configuration is always sensitive',
      'isSensitive',
    );
  }
  const value = cmd.value === undefined ? config.value : normaliseValue(config.type, cmd.value);
  const event: Extract<ConfigurationEvent, { type: 'ConfigurationUpdated' }>['data'] = {
    ...identity(config),
    ...encrypted(config),
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
        data: { ...identity(config), deploymentId: cmd.deploymentId, value, ...encrypted(config) },
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
  if (state.exists && state.deleted) {
    // Its history goes on: say how to bring it back rather than just "not found".
    throw new DomainError(
      'not_found',
      `Configuration '${configId}' is deleted (version ${state.version}); restore it first with ` +
        `POST /api/v1/configs/${configId}/restore (where changes need approval: a change ` +
        `request with action Update and the value it should have)`,
      'configId',
    );
  }
  if (!state.exists) {
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
    ...encrypted(c),
  };
}

/** The flag that has the event store encrypt an event's values (absent when false). */
function encrypted(c: { isEncrypted: boolean }): { isEncrypted?: true } {
  return c.isEncrypted ? { isEncrypted: true } : {};
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

export type ConfigCommand =
  | { type: 'CreateConfig'; data: CreateConfig }
  | { type: 'UpdateConfig'; data: UpdateConfig }
  | { type: 'RollbackConfig'; data: Parameters<typeof decideRollbackConfig>[1] }
  | { type: 'DeleteConfig'; data: Parameters<typeof decideDeleteConfig>[1] }
  | { type: 'RestoreConfig'; data: Parameters<typeof decideRestoreConfig>[1] }
  /** A deployment takes the config (one at a time). */
  | { type: 'HoldForDeployment'; data: Parameters<typeof decideStartDeployment>[1] }
  | { type: 'CompleteDeployment'; data: Parameters<typeof decideCompleteDeployment>[1] }
  | { type: 'AbortDeployment'; data: Parameters<typeof decideAbortDeployment>[1] }
  | { type: 'RevertDeployment'; data: Parameters<typeof decideRevertDeployment>[1] };

export function decideConfig(
  command: ConfigCommand,
  state: ConfigurationState,
): ConfigurationEvent[] {
  switch (command.type) {
    case 'CreateConfig':
      return decideCreateConfig(state, command.data);
    case 'UpdateConfig':
      return decideUpdateConfig(state, command.data);
    case 'RollbackConfig':
      return decideRollbackConfig(state, command.data);
    case 'DeleteConfig':
      return decideDeleteConfig(state, command.data);
    case 'RestoreConfig':
      return decideRestoreConfig(state, command.data);
    case 'HoldForDeployment':
      return decideStartDeployment(state, command.data).events;
    case 'CompleteDeployment':
      return decideCompleteDeployment(state, command.data);
    case 'AbortDeployment':
      return decideAbortDeployment(state, command.data);
    case 'RevertDeployment':
      return decideRevertDeployment(state, command.data);
  }
}

export const configDecider = {
  initialState: initialConfigurationState,
  evolve: evolveConfiguration,
  decide: decideConfig,
};
