/**
 * Pure translations between the event store port and the KurrentDB client
 * (`@kurrent/kurrentdb-client`). Kept free of I/O so they can be tested without a server.
 */
import {
  ANY,
  ErrorType,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  jsonEvent,
  type AllStreamResolvedEvent,
  type AppendStreamState,
  type EventData,
  type JSONType,
  type Position,
  type ReadPosition,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import {
  EventStoreUnavailableError,
  WrongExpectedVersionError,
  type AppendRequest,
  type EventMetadata,
  type ExpectedRevision,
  type NewEvent,
  type RecordedEvent,
} from '../event-store.js';
import { KURRENTDB_SCHEMES, kurrentDbScheme } from './schemes.js';

/** Position the server reports for "no position" (ulong.MaxValue on the wire). */
export const NO_POSITION = 2n ** 64n - 1n;

/** Our position for an event whose commit position the server did not report. */
export const UNKNOWN_POSITION = -1n;

// ---------------------------------------------------------------------------------------------
// Connection strings

/**
 * Accepts `esdb://` and `kurrentdb://` (and the client's other spellings) and returns the form
 * the client parses without warnings. Never echoes the string back: it may hold a password.
 */
export function normaliseConnectionString(connectionString: string): string {
  const trimmed = connectionString.trim();
  const match = /^([a-z+]+):\/\//i.exec(trimmed);
  const scheme = kurrentDbScheme(trimmed);
  if (!match || !scheme) {
    throw new TypeError(
      `Unsupported KurrentDB connection string: expected one of ${[...KURRENTDB_SCHEMES.keys()]
        .map((s) => `${s}://`)
        .join(', ')}`,
    );
  }
  return `${scheme}://${trimmed.slice(match[0].length)}`;
}

// ---------------------------------------------------------------------------------------------
// Expected revisions

export function toStreamState(expected: ExpectedRevision): AppendStreamState {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      if (typeof expected !== 'bigint' || expected < 0n) {
        throw new RangeError(`Invalid expected revision: ${String(expected)}`);
      }
      return expected;
  }
}

export function fromStreamState(state: unknown): ExpectedRevision {
  if (typeof state === 'bigint') return state;
  if (state === NO_STREAM || state === STREAM_EXISTS) return state;
  return 'any';
}

/** The client's "current state" of a stream: 'no_stream' or a revision. -1n = no stream. */
export function fromCurrentState(state: unknown): bigint | undefined {
  if (state === NO_STREAM) return -1n;
  // Deleted (-5) and tombstoned (-6) streams have no events either.
  if (typeof state === 'bigint') return state < 0n ? -1n : state;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Errors

interface ClientWrongExpectedVersion {
  type: ErrorType.WRONG_EXPECTED_VERSION;
  streamName?: string;
  expectedState?: unknown;
  actualState?: unknown;
}

interface ClientConsistencyViolation {
  type: ErrorType.APPEND_CONSISTENCY_VIOLATION;
  violations: { streamName: string; expectedState: unknown; actualState: unknown }[];
}

const UNAVAILABLE_TYPES = new Set<string>([
  ErrorType.UNAVAILABLE,
  ErrorType.DEADLINE_EXCEEDED,
  ErrorType.TIMEOUT,
  ErrorType.CANCELLED,
  ErrorType.NOT_LEADER,
]);

// gRPC status codes CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE: some client paths (the server
// feature probe before every append) reject with the raw gRPC error, unconverted.
const UNAVAILABLE_GRPC_CODES = new Set([1, 4, 14]);

const UNAVAILABLE_SYSCALL_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

function errorType(error: unknown): string | undefined {
  const type = (error as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : undefined;
}

/** True for errors that mean "the store cannot be reached right now" (worth retrying later). */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof EventStoreUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const type = errorType(error);
  if (type !== undefined) return UNAVAILABLE_TYPES.has(type);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number' && 'details' in error) return UNAVAILABLE_GRPC_CODES.has(code);
  if (typeof code === 'string') return UNAVAILABLE_SYSCALL_CODES.has(code);
  // Cluster discovery gives up with a plain Error.
  return /^Failed to discover after \d+ attempts/.test(error.message);
}

/** Wraps connection-level failures into EventStoreUnavailableError; returns others unchanged. */
export function toUnavailable(error: unknown, operation: string): unknown {
  if (error instanceof EventStoreUnavailableError || !isConnectionError(error)) return error;
  const reason = error instanceof Error && error.message ? `: ${error.message}` : '';
  return new EventStoreUnavailableError(`KurrentDB ${operation} failed${reason}`, {
    cause: error,
  });
}

/**
 * Translates an error from `appendToStream` / `multiStreamAppend` into the port's errors:
 * wrong expected version (every shape the client produces) becomes WrongExpectedVersionError,
 * connection problems become EventStoreUnavailableError, anything else is returned unchanged.
 */
export function toAppendError(error: unknown, requests: readonly AppendRequest[]): unknown {
  const type = errorType(error);
  if (type === ErrorType.UNSUPPORTED) {
    return new Error(
      'The KurrentDB server does not support multi-stream appends: version 25.1 or later is needed',
      { cause: error },
    );
  }
  if (type === ErrorType.WRONG_EXPECTED_VERSION) {
    const e = error as ClientWrongExpectedVersion;
    return wrongExpectedVersion(requests, e.streamName, e.expectedState, e.actualState);
  }
  if (type === ErrorType.APPEND_CONSISTENCY_VIOLATION) {
    const violation = (error as ClientConsistencyViolation).violations[0];
    return wrongExpectedVersion(
      requests,
      violation?.streamName,
      violation?.expectedState,
      violation?.actualState,
    );
  }
  return toUnavailable(error, 'append');
}

function wrongExpectedVersion(
  requests: readonly AppendRequest[],
  streamName: string | undefined,
  expectedState: unknown,
  actualState: unknown,
): WrongExpectedVersionError {
  const request =
    requests.find((r) => r.streamId === streamName) ??
    (requests.length === 1 ? requests[0] : undefined);
  return new WrongExpectedVersionError(
    request?.streamId ?? streamName ?? '<unknown>',
    request?.expected ?? fromStreamState(expectedState),
    fromCurrentState(actualState),
  );
}

export function isStreamNotFound(error: unknown): boolean {
  return errorType(error) === ErrorType.STREAM_NOT_FOUND;
}

// ---------------------------------------------------------------------------------------------
// Events going in

/**
 * Property that marks metadata written through `multiStreamAppend` and lists the keys whose
 * values were JSON-encoded. That call only takes string-valued metadata (the client rejects
 * anything else); the server stores the strings as the event's JSON metadata and adds its own
 * `$schema.*` keys. Not `$`-prefixed: that namespace is reserved for the server.
 */
export const JSON_KEYS_PROPERTY = 'x-json-keys';

const SERVER_SCHEMA_PREFIX = '$schema.';

export function toEventData(event: NewEvent): EventData {
  return jsonEvent({
    id: event.id,
    type: event.type,
    data: (event.data ?? null) as JSONType,
    metadata: event.metadata as unknown as JSONType,
  });
}

/** Event data for `multiStreamAppend`: metadata flattened to string values, see above. */
export function toMultiAppendEventData(event: NewEvent): EventData {
  return jsonEvent({
    id: event.id,
    type: event.type,
    data: (event.data ?? null) as JSONType,
    metadata: encodeMultiAppendMetadata(event.metadata),
  });
}

export function encodeMultiAppendMetadata(metadata: EventMetadata): Record<string, string> {
  if (JSON_KEYS_PROPERTY in metadata) {
    throw new TypeError(`Event metadata must not use the reserved key '${JSON_KEYS_PROPERTY}'`);
  }
  const properties: Record<string, string> = {};
  const jsonKeys: string[] = [];
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value === 'string') {
      properties[key] = value;
      continue;
    }
    const encoded = JSON.stringify(value);
    if (encoded === undefined) continue; // undefined, functions: JSON drops them too
    properties[key] = encoded;
    jsonKeys.push(key);
  }
  properties[JSON_KEYS_PROPERTY] = JSON.stringify(jsonKeys);
  return properties;
}

// ---------------------------------------------------------------------------------------------
// Events coming out

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array)
  );
}

/** Turns stored metadata back into ours, undoing the `multiStreamAppend` encoding. */
export function decodeMetadata(raw: unknown, recordedAt: Date): EventMetadata {
  const decoded: Record<string, unknown> = {};
  if (isPlainObject(raw)) {
    const marker = raw[JSON_KEYS_PROPERTY];
    const jsonKeys = typeof marker === 'string' ? parseJsonKeys(marker) : undefined;
    for (const [key, value] of Object.entries(raw)) {
      if (jsonKeys) {
        if (key === JSON_KEYS_PROPERTY || key.startsWith(SERVER_SCHEMA_PREFIX)) continue;
        decoded[key] = jsonKeys.has(key) && typeof value === 'string' ? parseJson(value) : value;
      } else {
        decoded[key] = value;
      }
    }
  }
  // Events written by other tools may lack our envelope; keep the type's promise anyway.
  if (typeof decoded.timestamp !== 'string') decoded.timestamp = recordedAt.toISOString();
  if (typeof decoded.schemaVersion !== 'number') decoded.schemaVersion = 1;
  return decoded as EventMetadata;
}

function parseJsonKeys(marker: string): Set<string> | undefined {
  const keys = parseJson(marker);
  return Array.isArray(keys) ? new Set(keys.filter((k) => typeof k === 'string')) : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function isSystemEventType(type: string): boolean {
  return type.startsWith('$');
}

/** The server's own events: a `$` type, or any event in a `$` stream (e.g. projection results). */
export function isSystemEvent(event: { type: string; streamId: string }): boolean {
  return isSystemEventType(event.type) || event.streamId.startsWith('$');
}

/**
 * `defaultDeadline` (ms) for every call the client makes, unless the connection string sets one:
 * the adapter's own timeouts stop waiting, this makes the server call itself stop too.
 */
export function withDefaultDeadline(connectionString: string, ms: number): string {
  if (/[?&]defaultDeadline=/i.test(connectionString)) return connectionString;
  return `${connectionString}${connectionString.includes('?') ? '&' : '?'}defaultDeadline=${ms}`;
}

/** Commit position of a resolved event, or undefined when the server did not report one. */
export function commitPositionOf(
  resolved: ResolvedEvent | AllStreamResolvedEvent,
): bigint | undefined {
  const commit = resolved.event?.position?.commit;
  if (commit !== undefined && commit !== NO_POSITION && commit >= 0n) return commit;
  const fallback = resolved.commitPosition;
  if (fallback !== undefined && fallback !== NO_POSITION && fallback >= 0n) return fallback;
  return undefined;
}

/** Maps a read result to our RecordedEvent; undefined when it carries no event (broken link). */
export function toRecordedEvent(
  resolved: ResolvedEvent | AllStreamResolvedEvent,
): RecordedEvent | undefined {
  const event = resolved.event;
  if (!event) return undefined;
  const recordedAt = event.created;
  return {
    id: event.id,
    type: event.type,
    data: event.data,
    metadata: decodeMetadata(event.metadata, recordedAt),
    streamId: event.streamId,
    revision: event.revision,
    position: commitPositionOf(resolved) ?? UNKNOWN_POSITION,
    recordedAt,
  };
}

// ---------------------------------------------------------------------------------------------
// Positions

/** Where a forward read of `$all` must start to see events strictly after `after`. */
export function readAllFrom(after: bigint): ReadPosition {
  // Read positions are inclusive: the event at `after` comes back and must be dropped.
  return after > 0n ? { commit: after, prepare: after } : START;
}

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** The commit position an append reported, or undefined when it reported none (idempotent). */
export function appendedPosition(position: Position | bigint | undefined): bigint | undefined {
  const commit = typeof position === 'bigint' ? position : position?.commit;
  if (commit === undefined || commit < 0n || commit === NO_POSITION) return undefined;
  return commit;
}

export function matchesPrefixes(
  streamId: string,
  prefixes: readonly string[] | undefined,
): boolean {
  return !prefixes?.length || prefixes.some((p) => streamId.startsWith(p));
}
