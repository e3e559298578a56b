export { ConfigClient, createClient } from './client.js';
export {
  ConfigServiceError,
  ConfigTimeoutError,
  ConfigTypeError,
  isKind,
  kindOf,
} from './errors.js';
export { FileSnapshotStore } from './storage.js';
export type {
  ClientEvent,
  ClientEvents,
  ClientOptions,
  ClientStatus,
  ConfigEntry,
  ConfigSnapshot,
  DeploymentSide,
  SnapshotSource,
  SnapshotStore,
  StoredSnapshot,
  TokenSource,
  ValueKind,
} from './types.js';
