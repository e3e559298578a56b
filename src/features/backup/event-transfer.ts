/**
 * Backup and restore of the event log, which is the source of truth: every read table, cache and
 * audit row is derived from it. A backup is the log exported as NDJSON; a restore imports it into
 * an empty store and rebuilds the projections (`npm run events:export` / `events:import`).
 *
 * File format: one event per line, in global order, as
 *   {"position":"42","streamId":"config-…","revision":"3","id":"<uuid>","type":"…",
 *    "data":{…},"metadata":{…},"recordedAt":"<ISO-8601>","hash":"<hex>"}
 * `hash` is the event's hash-chain link (absent for events from before chaining began);
 * `npm run audit:verify -- --file` checks an export offline. The importing store chains anew.
 * Positions and revisions are decimal strings (they are bigints). `position` and `recordedAt` are
 * informational: the importing store assigns both anew. For a whole-log export imported into an
 * empty store, positions come out the same (the PostgreSQL store's positions are gapless);
 * `recordedAt` becomes the time of the import. `metadata.timestamp` (when the command was decided)
 * is preserved.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import {
  IdempotencyConflictError,
  WrongExpectedVersionError,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type RecordedEvent,
} from '../../core/event-store/event-store.js';
import { tenantStream } from '../../core/streams.js';

/** One line of an export file. */
export interface ExportedEvent {
  position: string;
  streamId: string;
  revision: string;
  id: string;
  type: string;
  data: unknown;
  metadata: NewEvent['metadata'];
  recordedAt: string;
  /** The event's hash-chain link (hex; docs/architecture.md), when the store keeps one. */
  hash?: string;
}

export function toExportedEvent(e: RecordedEvent): ExportedEvent {
  return {
    position: e.position.toString(),
    streamId: e.streamId,
    revision: e.revision.toString(),
    id: e.id,
    type: e.type,
    data: e.data,
    metadata: e.metadata,
    recordedAt: e.recordedAt.toISOString(),
    ...(e.hash ? { hash: e.hash } : {}),
  };
}

/** True for the events of one tenant: its own stream, and every event whose data names it. */
export function belongsToTenant(
  e: Pick<RecordedEvent, 'streamId' | 'data'>,
  tenantId: string,
): boolean {
  if (e.streamId === tenantStream(tenantId)) return true;
  const data = e.data as { tenantId?: unknown } | null;
  return typeof data === 'object' && data !== null && data.tenantId === tenantId;
}

// ---------------------------------------------------------------------------------------------
// Export

export interface ExportProgress {
  /** Events written to the output so far. */
  written: number;
  /** Events read from the log so far (all of them are written unless a tenant is chosen). */
  read: number;
  /** Global position reached. */
  position: bigint;
  /** Head of the whole log when the export started: the export ends there. */
  head: bigint;
}

export interface ExportOptions {
  /** Only this tenant's events: stream `tenant-{id}` and every event with `data.tenantId === id`. */
  tenantId?: string;
  /**
   * Where the NDJSON goes. Not ended: the caller owns it (and should listen for 'error'; a failed
   * write also rejects the export).
   */
  out: Writable;
  /** Called after every page (and once at the end). */
  onProgress?: (progress: ExportProgress) => void | Promise<void>;
  /** Events read per page; 1000 by default. */
  pageSize?: number;
}

export interface ExportResult {
  written: number;
  head: bigint;
}

/**
 * Writes the log (or one tenant's part of it) as NDJSON in global order, up to the head as it was
 * when the export started: events appended meanwhile are left for the next backup, so the file is
 * always a consistent prefix of the log (positions are assigned in commit order).
 */
export async function exportEvents(
  store: EventStore,
  options: ExportOptions,
): Promise<ExportResult> {
  const { tenantId, out, onProgress } = options;
  const pageSize = options.pageSize ?? 1000;
  const head = await store.headPosition();
  let after = 0n;
  let written = 0;
  let read = 0;
  while (after < head) {
    const page = await store.readAll({ after, limit: pageSize });
    if (page.length === 0) break;
    let chunk = '';
    let reachedHead = false;
    for (const e of page) {
      if (e.position > head) {
        reachedHead = true;
        break;
      }
      read += 1;
      after = e.position;
      if (tenantId !== undefined && !belongsToTenant(e, tenantId)) continue;
      chunk += `${JSON.stringify(toExportedEvent(e))}\n`;
      written += 1;
    }
    if (chunk) await write(out, chunk);
    await onProgress?.({ written, read, position: after, head });
    if (reachedHead || page.length < pageSize) break;
  }
  if (read === 0) await onProgress?.({ written, read, position: after, head });
  return { written, head };
}

/** Resolves once the chunk is handed on (so memory stays bounded), rejects on a write error. */
function write(out: Writable, chunk: string): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}

// ---------------------------------------------------------------------------------------------
// Import

/** A line of the input that cannot be imported; `line` is 1-based. */
export class EventImportError extends Error {
  override readonly name = 'EventImportError';
  constructor(
    readonly line: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`line ${line}: ${message}`, options);
  }
}

export interface ImportProgress {
  /** Line of the last event imported. */
  lines: number;
  /** Events imported so far (appended, or found already there by their ids). */
  events: number;
}

export interface ImportOptions {
  /** NDJSON as written by `exportEvents`. Read line by line, never whole. */
  input: Readable;
  /** Called after every append (and once at the end). */
  onProgress?: (progress: ImportProgress) => void | Promise<void>;
  /** Only parse and validate every line; append nothing. */
  dryRun?: boolean;
  /** Most events per append (a run of consecutive events of one stream); 500 by default. */
  maxBatchEvents?: number;
}

export interface ImportResult {
  lines: number;
  events: number;
}

const MAX_BATCH_CHARS = 4 * 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Parsed {
  line: number;
  position: bigint;
  streamId: string;
  revision: bigint;
  event: NewEvent;
}

interface Batch {
  streamId: string;
  firstRevision: bigint;
  lastRevision: bigint;
  chars: number;
  items: Parsed[];
}

/**
 * Appends the events of an export file in file order, each to its stream at the revision it had
 * (expected revision = revision - 1, `no_stream` for revision 0), keeping ids, types, data and
 * metadata. Consecutive events of one stream go in one append.
 *
 * - Meant for an empty store (a restore). Importing into a non-empty store works only where stream
 *   revisions line up (a stream in the file continues exactly where the store's stream ends, or is
 *   new); otherwise it stops with an error naming the line and the stream.
 * - Idempotent by event id: events already in the store (in the same stream) are skipped, so
 *   importing a file twice appends nothing the second time, and an interrupted import can simply
 *   be run again.
 * - Not atomic. Lines are validated as they are read; at a malformed line (bad JSON, missing or
 *   ill-typed field) it stops with an error naming the line: every event before that line has been
 *   imported, nothing from it on. Run with `dryRun` first to check a whole file.
 */
export async function importEvents(
  store: EventStore,
  options: ImportOptions,
): Promise<ImportResult> {
  const maxBatchEvents = options.maxBatchEvents ?? 500;
  const lines = createInterface({ input: options.input, crlfDelay: Infinity });
  let lineNo = 0;
  let events = 0;
  let batch: Batch | undefined;
  // An export is the log in order: positions rise line by line, and each stream's revisions
  // follow on without gaps. Checked before anything is appended (also in a dry run).
  let lastPosition = -1n;
  const nextRevision = new Map<string, bigint>();

  const flush = async () => {
    if (!batch) return;
    const b = batch;
    batch = undefined;
    if (!options.dryRun) await appendBatch(store, b);
    events += b.items.length;
    await options.onProgress?.({ lines: b.items[b.items.length - 1]!.line, events });
  };

  try {
    for await (const raw of lines) {
      lineNo += 1;
      const text = lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (text.trim() === '') continue;
      let parsed: Parsed;
      try {
        parsed = parseLine(text, lineNo);
        if (parsed.position <= lastPosition) {
          throw new EventImportError(
            lineNo,
            `position ${parsed.position} does not follow ${lastPosition}: an export lists the ` +
              'log in order',
          );
        }
        const expected = nextRevision.get(parsed.streamId);
        if (expected !== undefined && parsed.revision !== expected) {
          throw new EventImportError(
            lineNo,
            `stream '${parsed.streamId}' continues at revision ${parsed.revision}, not ` +
              `${expected}: the file is missing or repeating events of it`,
          );
        }
        lastPosition = parsed.position;
        nextRevision.set(parsed.streamId, parsed.revision + 1n);
      } catch (error) {
        // Everything before the bad line goes in; nothing from it on.
        await flush();
        throw error;
      }
      const fits =
        batch !== undefined &&
        batch.streamId === parsed.streamId &&
        parsed.revision === batch.lastRevision + 1n &&
        batch.items.length < maxBatchEvents &&
        batch.chars + text.length <= MAX_BATCH_CHARS;
      if (!fits) {
        await flush();
        batch = {
          streamId: parsed.streamId,
          firstRevision: parsed.revision,
          lastRevision: parsed.revision,
          chars: 0,
          items: [],
        };
      }
      batch!.items.push(parsed);
      batch!.lastRevision = parsed.revision;
      batch!.chars += text.length;
    }
    await flush();
  } finally {
    lines.close();
  }
  await options.onProgress?.({ lines: lineNo, events });
  return { lines: lineNo, events };
}

async function appendBatch(store: EventStore, b: Batch): Promise<void> {
  try {
    await appendRun(store, b.streamId, b.firstRevision, b.items);
  } catch (error) {
    if (!(error instanceof IdempotencyConflictError)) throw explain(error, b.items[0]!, b.streamId);
    // Some (not all) of these ids are in the store already, e.g. a file overlapping an earlier
    // import: go event by event, so each one is either found (idempotent) or appended.
    for (const item of b.items) {
      try {
        await appendRun(store, b.streamId, item.revision, [item]);
      } catch (inner) {
        throw explain(inner, item, b.streamId);
      }
    }
  }
}

async function appendRun(store: EventStore, streamId: string, first: bigint, items: Parsed[]) {
  const expected: ExpectedRevision = first === 0n ? 'no_stream' : first - 1n;
  const result = await store.append([{ streamId, expected, events: items.map((i) => i.event) }]);
  const last = items[items.length - 1]!.revision;
  if (result.streams[0]?.nextExpectedRevision !== last) {
    // Answered as already stored (idempotent by id): the ids must be where the file says.
    const stored = new Map(
      (await store.readStream(streamId)).events.map((e) => [e.id, e.revision] as const),
    );
    for (const item of items) {
      if (stored.get(item.event.id) !== item.revision) {
        throw new EventImportError(
          item.line,
          `event ${item.event.id} is in stream '${streamId}' at revision ` +
            `${stored.get(item.event.id) ?? 'none'}, not ${item.revision}: not the same log`,
        );
      }
    }
  }
  return result;
}

function explain(error: unknown, item: Parsed, streamId: string): unknown {
  if (error instanceof EventImportError) return error;
  if (error instanceof WrongExpectedVersionError) {
    const actual =
      error.actual === undefined
        ? 'a different revision'
        : error.actual < 0n
          ? 'missing'
          : `at revision ${error.actual}`;
    return new EventImportError(
      item.line,
      `stream '${streamId}' is ${actual}, but the file continues it with revision ${item.revision} ` +
        `(event ${item.event.id}); an import into a non-empty store works only where stream ` +
        'revisions line up',
      { cause: error },
    );
  }
  if (error instanceof IdempotencyConflictError) {
    return new EventImportError(
      item.line,
      `event id ${item.event.id} is already in the store, but not in stream '${streamId}'`,
      { cause: error },
    );
  }
  if (error instanceof Error) {
    return new EventImportError(
      item.line,
      `appending to stream '${streamId}' failed: ${error.message}`,
      {
        cause: error,
      },
    );
  }
  return error;
}

const FIELDS = [
  'position',
  'streamId',
  'revision',
  'id',
  'type',
  'data',
  'metadata',
  'recordedAt',
] as const;

/** Parses and validates one line of an export file. */
export function parseLine(text: string, line: number): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new EventImportError(line, `not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EventImportError(line, 'expected a JSON object (one event per line)');
  }
  const o = value as Record<string, unknown>;
  const missing = FIELDS.filter((f) => o[f] === undefined);
  if (missing.length) {
    throw new EventImportError(
      line,
      `missing field${missing.length > 1 ? 's' : ''} ${missing.map((f) => `'${f}'`).join(', ')}`,
    );
  }
  const bad = (field: string, what: string) =>
    new EventImportError(line, `'${field}' must be ${what}`);
  const integer = (field: 'position' | 'revision') => {
    const v = o[field];
    if (typeof v === 'string' && /^\d+$/.test(v)) return BigInt(v);
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
    throw bad(field, 'a non-negative integer (as a decimal string)');
  };
  const position = integer('position');
  const revision = integer('revision');
  if (typeof o.streamId !== 'string' || o.streamId === '')
    throw bad('streamId', 'a non-empty string');
  if (typeof o.id !== 'string' || !UUID.test(o.id)) throw bad('id', 'a UUID');
  if (typeof o.type !== 'string' || o.type === '') throw bad('type', 'a non-empty string');
  if (typeof o.recordedAt !== 'string') throw bad('recordedAt', 'an ISO-8601 string');
  const metadata = o.metadata as Record<string, unknown>;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw bad('metadata', 'an object');
  }
  if (typeof metadata.timestamp !== 'string') throw bad('metadata.timestamp', 'a string');
  if (typeof metadata.schemaVersion !== 'number') throw bad('metadata.schemaVersion', 'a number');
  return {
    line,
    position,
    streamId: o.streamId,
    revision,
    event: {
      id: o.id,
      type: o.type,
      data: o.data,
      metadata: metadata as NewEvent['metadata'],
    },
  };
}
