/**
 * The configuration aggregate's events and the state they fold into (stream `config-{configId}`);
 * its decisions are in `config.decider.ts`.
 */
import { createHash } from 'node:crypto';
import type { ConfigType } from './config-values.js';

export function configIdFor(tenantId: string, environment: string, key: string): string {
  const digest = createHash('sha256').update(`${tenantId}\n${environment}\n${key}`).digest('hex');
  return `cfg_${digest.slice(0, 32)}`;
}

export type ChangeType = 'Created' | 'Updated' | 'RolledBack' | 'Deleted' | 'Restored';

export interface Identity {
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
  /**
   * Its values are encrypted at rest (events, read tables, Redis) with the tenant's data key;
   * an encrypted config is always sensitive, and stays encrypted for life.
   */
  isEncrypted: boolean;
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
  /** Absent on events of configs that were never encrypted. */
  isEncrypted?: boolean;
}

export type ConfigurationEvent =
  | { type: 'ConfigurationCreated'; data: Versioned & Omit<ConfigAttributes, 'isEncrypted'> }
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
      data: Identity & {
        type: ConfigType;
        deploymentId: string;
        value: string;
        isEncrypted?: boolean;
      };
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
        isEncrypted: c.isEncrypted ?? false,
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
