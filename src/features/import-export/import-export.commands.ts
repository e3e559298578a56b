/**
 * Importing a file into an environment: parsed (a file that cannot be read names its line),
 * planned against the environment's keys and applied as one change set, or one change request
 * where approval is needed. Refusals name the key and its line; nothing is written on any.
 */
import { DomainError } from '../../core/domain-error.js';
import type { CommandContext } from '../../core/commands/command-handling.js';
import { configKey } from '../configs/configs.schemas.js';
import type { ChangeSetCommands, ProposeOutcome } from '../change-sets/change-sets.commands.js';
import { StringDecoder } from 'node:string_decoder';
import { HttpProblem } from '../../core/http/problem.js';
import type { RawBody } from '../../core/http/route.js';
import { MAX_JSON_DEPTH, unstorablePath } from '../configs/config-values.js';
import {
  FormatError,
  lineParser,
  parseConfigFile,
  withoutDuplicates,
  type Entry,
  type Format,
} from './config-formats.js';

export interface ImportInput {
  tenantId: string;
  environment: string;
  format: Format;
  content: string;
  dryRun: boolean;
  description: string | null;
}

/** One NDJSON progress line (does nothing unless the client asked for progress). */
export type Progress = (line: Record<string, unknown>) => void;

/** How often parsing reports: every this many bytes read. */
const PARSING_EVERY = 1 << 20;
/** How often validating reports: every this many keys. */
const VALIDATING_EVERY = 1000;

export async function importFile(
  changeSets: ChangeSetCommands,
  input: ImportInput,
  ctx: CommandContext,
): Promise<ProposeOutcome> {
  return importEntries(
    changeSets,
    input,
    parsed(() => parseConfigFile(input.format, input.content)),
    ctx,
  );
}

/** A file that cannot be read is refused naming its line (field `content`). */
function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof FormatError) {
      throw new DomainError('validation', error.message, 'content', { line: error.line });
    }
    throw error;
  }
}

/**
 * Reads a file sent as the raw body: .env and .properties line by line as it arrives, JSON and
 * YAML whole (their parsers need all of it). More than `maxBytes` is refused with 413 naming the
 * limit (ConfigService__Import__MaxBytes), before reading when Content-Length says so.
 */
export async function readFile(
  body: RawBody,
  format: Format,
  maxBytes: number,
  progress: Progress,
): Promise<Entry[]> {
  const tooLarge = (length: number | undefined) =>
    new HttpProblem(
      413,
      'Payload too large',
      `The file${length !== undefined ? ` (${length} bytes)` : ''} is larger than the import limit of ${maxBytes} bytes (ConfigService__Import__MaxBytes)`,
      { field: '(body)', limit: maxBytes },
    );
  if (body.length !== undefined && body.length > maxBytes) throw tooLarge(body.length);
  const lines = format === 'env' || format === 'properties' ? lineParser(format) : undefined;
  const whole: Buffer[] = [];
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let bytes = 0;
  let lineCount = 0;
  let reported = 0;
  const feed = (text: string) => {
    const parts = (rest + text).split('\n');
    rest = parts.pop()!;
    for (const part of parts) lines!.line(part);
    lineCount += parts.length;
  };
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (error: unknown) => {
      // The rest of the body is read and dropped (not the connection cut), so the client
      // gets the answer.
      failed = true;
      reject(error);
    };
    body.stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      try {
        bytes += chunk.length;
        if (bytes > maxBytes) throw tooLarge(undefined);
        if (lines) feed(decoder.write(chunk));
        else whole.push(chunk);
        if (bytes - reported >= PARSING_EVERY) {
          reported = bytes;
          progress({ phase: 'parsing', bytes, ...(lines ? { lines: lineCount } : {}) });
        }
      } catch (error) {
        fail(error);
      }
    });
    body.stream.on('end', () => {
      if (!failed) resolve();
    });
    body.stream.on('error', (error) => {
      if (!failed) fail(error);
    });
  });
  if (!lines) {
    const text = Buffer.concat(whole).toString('utf8');
    const entries = parseConfigFile(format, text);
    progress({ phase: 'parsing', bytes, lines: text.split('\n').length, done: true });
    return entries;
  }
  feed(decoder.end());
  lines.line(rest);
  lineCount++;
  const entries = withoutDuplicates(lines.end());
  progress({ phase: 'parsing', bytes, lines: lineCount, done: true });
  return entries;
}

/** Imports a file sent as the raw body (see readFile), reporting progress. */
export async function importRawFile(
  changeSets: ChangeSetCommands,
  input: Omit<ImportInput, 'content'> & { body: RawBody; maxBytes: number },
  ctx: CommandContext,
  progress: Progress,
): Promise<ProposeOutcome> {
  const entries = await parsedAsync(() =>
    readFile(input.body, input.format, input.maxBytes, progress),
  );
  return importEntries(changeSets, input, entries, ctx, progress);
}

async function parsedAsync<T>(parse: () => Promise<T>): Promise<T> {
  try {
    return await parse();
  } catch (error) {
    return parsed(() => {
      throw error;
    });
  }
}

async function importEntries(
  changeSets: ChangeSetCommands,
  input: Omit<ImportInput, 'content'>,
  entries: Entry[],
  ctx: CommandContext,
  progress: Progress = () => {},
): Promise<ProposeOutcome> {
  const lineOf = new Map(entries.map((e) => [e.key, e.line]));
  const badKeys: Entry[] = [];
  entries.forEach((e, i) => {
    if (!configKey.safeParse(e.key).success) badKeys.push(e);
    // Text PostgreSQL cannot keep (a JSON body is checked on arrival; a raw one here).
    const bad = unstorablePath({ value: e.value, description: e.description, tags: e.tags });
    if (bad) {
      throw new DomainError(
        'validation',
        `line ${e.line}: '${e.key}' ${bad.why === 'text' ? 'contains a NUL or an unpaired surrogate character, which cannot be stored' : `is nested more than ${MAX_JSON_DEPTH} levels deep`}`,
        `keys.${e.key}`,
        { line: e.line },
      );
    }
    if ((i + 1) % VALIDATING_EVERY === 0) {
      progress({ phase: 'validating', keys: i + 1, of: entries.length });
    }
  });
  progress({ phase: 'validating', keys: entries.length, of: entries.length });
  if (badKeys.length > 0) {
    const errors = badKeys.map((e) => ({
      field: `keys.${e.key}`,
      message: `line ${e.line}: '${e.key}' is not a valid key (letters, digits and . _ : / -)`,
    }));
    throw new DomainError('validation', errors.map((e) => e.message).join('; '), errors[0]!.field, {
      errors,
      line: badKeys[0]!.line,
    });
  }
  // One change set: planned against the environment's keys and written in one append.
  progress({ phase: input.dryRun ? 'planning' : 'applying', keys: entries.length });
  try {
    return await changeSets.propose(
      {
        tenantId: input.tenantId,
        environment: input.environment,
        source: 'Import',
        fromEnvironment: null,
        description: input.description,
        proposals: entries.map((e) => ({
          key: e.key,
          value: e.value,
          ...(e.type ? { type: e.type } : {}),
          // .env and .properties carry text: a new key without @type is a String.
          ...(input.format === 'env' || input.format === 'properties'
            ? { typeIfNew: 'String' as const }
            : {}),
          ...(e.isSensitive !== undefined ? { isSensitive: e.isSensitive } : {}),
          ...(e.description !== undefined ? { description: e.description } : {}),
          ...(e.tags ? { tags: e.tags } : {}),
        })),
        dryRun: input.dryRun,
      },
      ctx,
    );
  } catch (error) {
    throw withLines(error, lineOf);
  }
}

/** A refusal naming keys (`keys.<key>`) also names their lines in the file. */
function withLines(error: unknown, lineOf: Map<string, number>): unknown {
  if (!(error instanceof DomainError) || !error.field?.startsWith('keys.')) return error;
  const lineFor = (field: string) => lineOf.get(field.slice('keys.'.length));
  const prefix = (field: string, message: string) => {
    const line = lineFor(field);
    return line === undefined ? message : `line ${line}: ${message}`;
  };
  const given = (error.details?.errors as { field: string; message: string }[] | undefined) ?? [
    { field: error.field, message: error.message },
  ];
  const errors = given.map((e) => ({ field: e.field, message: prefix(e.field, e.message) }));
  return new DomainError(error.code, errors.map((e) => e.message).join('; '), error.field, {
    ...error.details,
    errors,
    ...(lineFor(error.field) !== undefined ? { line: lineFor(error.field) } : {}),
  });
}
