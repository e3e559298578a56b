/**
 * An environment's configurations as a file: JSON, YAML, .env and Java .properties. Pure: text
 * in, entries out (each with the line it came from, for errors), and back. Types survive a round
 * trip in every format: JSON and YAML carry `{ type, value, … }` per key, .env and .properties
 * comment lines before the key (`# @type <Type>`, `# @description "…"`, `# @tags ["…"]`; a key
 * without @type keeps its type on import, or is a String if new). Secrets are exported masked and marked `@sensitive`.
 */
import { isMap, isScalar, LineCounter, parseDocument, stringify } from 'yaml';
import { CONFIG_TYPES, MASK, typedValue, type ConfigType } from '../configs/config-values.js';

export const FORMATS = ['json', 'yaml', 'env', 'properties'] as const;
export type Format = (typeof FORMATS)[number];

export interface Entry {
  key: string;
  /** A typed value (JSON/YAML) or text (.env/.properties). */
  value: unknown;
  type?: ConfigType;
  isSensitive?: boolean;
  description?: string | null;
  tags?: string[];
  /** 1-based line of the key in the file. */
  line: number;
}

/** What an export writes per key (values as stored; secrets already masked). */
export interface ExportedConfig {
  key: string;
  type: ConfigType;
  value: string;
  isSensitive: boolean;
  description: string | null;
  tags: string[];
}

/** A file that cannot be read: the line and why. */
export class FormatError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

const isType = (t: unknown): t is ConfigType =>
  typeof t === 'string' && (CONFIG_TYPES as readonly string[]).includes(t);

const TYPED_FIELDS = new Set(['type', 'value', 'isSensitive', 'description', 'tags']);

// ---------------------------------------------------------------- JSON and YAML

/** A key's entry: `{ type, value, … }` (what export writes) or a bare value (type inferred if new). */
function structuredEntry(key: string, raw: unknown, line: number): Entry {
  if (
    raw !== null &&
    typeof raw === 'object' &&
    !Array.isArray(raw) &&
    'type' in raw &&
    'value' in raw &&
    Object.keys(raw).every((k) => TYPED_FIELDS.has(k))
  ) {
    const r = raw as Record<string, unknown>;
    if (!isType(r.type)) {
      throw new FormatError(line, `'${key}': type must be one of ${CONFIG_TYPES.join(', ')}`);
    }
    if (r.isSensitive !== undefined && typeof r.isSensitive !== 'boolean') {
      throw new FormatError(line, `'${key}': isSensitive must be true or false`);
    }
    if (
      r.tags !== undefined &&
      !(Array.isArray(r.tags) && r.tags.every((t) => typeof t === 'string'))
    ) {
      throw new FormatError(line, `'${key}': tags must be a list of strings`);
    }
    if (
      r.description !== undefined &&
      r.description !== null &&
      typeof r.description !== 'string'
    ) {
      throw new FormatError(line, `'${key}': description must be text`);
    }
    return {
      key,
      value: r.value,
      type: r.type,
      line,
      ...(r.isSensitive !== undefined ? { isSensitive: r.isSensitive as boolean } : {}),
      ...(r.description !== undefined ? { description: r.description as string | null } : {}),
      ...(r.tags !== undefined ? { tags: r.tags as string[] } : {}),
    };
  }
  return { key, value: raw, ...inferredType(raw), line };
}

/** A bare value's type, used only for a key the environment does not have yet. */
function inferredType(raw: unknown): { type?: ConfigType } {
  if (typeof raw === 'string') return { type: 'String' };
  if (typeof raw === 'boolean') return { type: 'Boolean' };
  if (typeof raw === 'number') return { type: Number.isInteger(raw) ? 'Integer' : 'Number' };
  if (raw !== null && typeof raw === 'object') return { type: 'JSON' };
  return {};
}

/**
 * The line of the first character JSON.parse refuses (its messages do not always say where):
 * a prefix that is only cut short fails as "end of input", one that holds the fault otherwise,
 * so the shortest faulty prefix is found by bisection.
 */
function jsonErrorLine(content: string): number {
  const faulty = (n: number) => {
    try {
      JSON.parse(content.slice(0, n));
      return false;
    } catch (error) {
      const message = String(error);
      const at = /at position (\d+)/.exec(message);
      // "Expected … at position n" for a prefix of length n is also only the end of input.
      return !/end of (JSON )?input/i.test(message) && !(at && Number(at[1]) >= n);
    }
  };
  let lo = 0;
  let hi = content.length;
  if (!faulty(hi)) return content.split('\n').length;
  while (lo + 1 < hi) {
    const mid = (lo + hi) >> 1;
    if (faulty(mid)) hi = mid;
    else lo = mid;
  }
  return content.slice(0, hi - 1).split('\n').length;
}

function parseStructured(content: string, format: 'json' | 'yaml'): Entry[] {
  if (format === 'json') {
    try {
      JSON.parse(content);
    } catch (error) {
      const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
      throw new FormatError(jsonErrorLine(content), `not valid JSON (${message})`);
    }
  }
  const lines = new LineCounter();
  const doc = parseDocument(content, { lineCounter: lines, uniqueKeys: true });
  const error = doc.errors[0];
  if (error) {
    throw new FormatError(error.linePos?.[0].line ?? 1, error.message.split('\n')[0]!);
  }
  if (doc.contents === null) return [];
  if (!isMap(doc.contents)) {
    throw new FormatError(1, 'the file must be a mapping of keys to values');
  }
  return doc.contents.items.map((pair) => {
    const line =
      pair.key && isScalar(pair.key) && pair.key.range ? lines.linePos(pair.key.range[0]).line : 1;
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof key !== 'string') throw new FormatError(line, 'keys must be text');
    const raw = pair.value === null ? null : (pair.value as { toJSON(): unknown }).toJSON();
    if (raw === null || raw === undefined) throw new FormatError(line, `'${key}' has no value`);
    return structuredEntry(key, raw, line);
  });
}

function renderStructured(configs: ExportedConfig[], format: 'json' | 'yaml'): string {
  const out: Record<string, unknown> = {};
  for (const c of configs) {
    out[c.key] = {
      type: c.type,
      // Secrets are masked text whatever their type.
      value: c.isSensitive && c.value === MASK ? MASK : typedValue(c.type, c.value),
      ...(c.isSensitive ? { isSensitive: true } : {}),
      ...(c.description !== null ? { description: c.description } : {}),
      ...(c.tags.length ? { tags: c.tags } : {}),
    };
  }
  return format === 'json' ? `${JSON.stringify(out, null, 2)}\n` : stringify(out);
}

// ---------------------------------------------------------------- .env and .properties

/** `# @type Integer`, `# @sensitive`, `# @description "…"`, `# @tags […]`: about the next key. */
function directive(comment: string, line: number, pending: Partial<Entry>): boolean {
  const m = /^\s*[#!]\s*@(type|sensitive|description|tags)\b\s*(.*)$/.exec(comment);
  if (!m) return false;
  const arg = m[2]!.trim();
  const json = (what: string, ok: (v: unknown) => boolean) => {
    let v: unknown;
    try {
      v = JSON.parse(arg);
    } catch {
      v = undefined;
    }
    if (!ok(v)) throw new FormatError(line, `@${m[1]} must be followed by ${what}`);
    return v;
  };
  switch (m[1]) {
    case 'sensitive':
      pending.isSensitive = true;
      break;
    case 'type':
      if (!isType(arg))
        throw new FormatError(line, `@type must be one of ${CONFIG_TYPES.join(', ')}`);
      pending.type = arg;
      break;
    case 'description':
      pending.description = json('a JSON string', (v) => typeof v === 'string') as string;
      break;
    case 'tags':
      pending.tags = json(
        'a JSON list of strings',
        (v) => Array.isArray(v) && v.every((t) => typeof t === 'string'),
      ) as string[];
      break;
  }
  return true;
}

/** Reads a file line by line (.env and .properties): big files need not be held whole. */
export interface LineParser {
  /** The next line (without its line break). */
  line(text: string): void;
  /** The entries, once every line was given. */
  end(): Entry[];
}

function envParser(): LineParser {
  const entries: Entry[] = [];
  let pending: Partial<Entry> = {};
  let line = 0;
  return {
    line(raw) {
      line++;
      const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (/^\s*$/.test(text)) return;
      if (/^\s*#/.test(text)) {
        directive(text, line, pending);
        return;
      }
      const m = /^\s*(?:export\s+)?([^=\s]+)\s*=(.*)$/.exec(text);
      if (!m) throw new FormatError(line, 'expected KEY=value');
      const key = m[1]!;
      let value = m[2]!.trim();
      if (value.startsWith('"')) {
        try {
          value = JSON.parse(value) as string;
        } catch {
          throw new FormatError(
            line,
            `'${key}': a quoted value must end with " (escapes as in JSON)`,
          );
        }
      } else if (value.startsWith("'")) {
        if (!value.endsWith("'") || value.length < 2) {
          throw new FormatError(line, `'${key}': a single-quoted value must end with '`);
        }
        value = value.slice(1, -1);
      } else {
        // An unquoted value ends at a comment.
        value = value.replace(/\s+#.*$/, '');
      }
      entries.push({ ...pending, key, value, line });
      pending = {};
    },
    end: () => entries,
  };
}
/** Quoted (JSON escapes) unless plain: so any text, newlines included, survives. */
const envValue = (v: string) =>
  /^[A-Za-z0-9_./:@%+,-]*$/.test(v) && v !== '' ? v : JSON.stringify(v);

function renderLines(
  configs: ExportedConfig[],
  line: (c: ExportedConfig) => string,
  header: string,
) {
  const out = [header];
  for (const c of configs) {
    out.push(`# @type ${c.type}`);
    if (c.isSensitive) out.push('# @sensitive');
    if (c.description !== null) out.push(`# @description ${JSON.stringify(c.description)}`);
    if (c.tags.length) out.push(`# @tags ${JSON.stringify(c.tags)}`);
    out.push(line(c));
  }
  return `${out.join('\n')}\n`;
}

const escapeProperties = (s: string, isKey: boolean) =>
  s
    .replace(/\\/g, '\\\\')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t')
    .replace(/\f/g, '\\f')
    .replace(isKey ? /([=: #!])/g : /^([ #!])/g, '\\$1')
    .replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);

function unescapeProperties(s: string, line: number): string {
  return s.replace(/\\(u([0-9a-fA-F]{0,4})|.)/g, (all, what: string, hex: string | undefined) => {
    if (what[0] === 'u') {
      if (hex?.length !== 4) throw new FormatError(line, 'a \\u escape needs four hex digits');
      return String.fromCharCode(parseInt(hex, 16));
    }
    return { n: '\n', r: '\r', t: '\t', f: '\f' }[what] ?? what;
  });
}

function propertiesParser(): LineParser {
  const entries: Entry[] = [];
  let pending: Partial<Entry> = {};
  let line = 0;
  // A logical line continued on the next (it ends in an odd number of backslashes).
  let continued: { text: string; line: number } | undefined;
  const entry = (text: string, at: number) => {
    const m =
      /^((?:\\.|[^\\=:\s])+)\s*[=:\s]\s*(.*)$/s.exec(text) ?? /^((?:\\.|[^\\=:\s])+)$/.exec(text);
    if (!m) throw new FormatError(at, 'expected key=value');
    const key = unescapeProperties(m[1]!, at);
    entries.push({ ...pending, key, value: unescapeProperties(m[2] ?? '', at), line: at });
    pending = {};
  };
  return {
    line(raw) {
      line++;
      const stripped = (raw.endsWith('\r') ? raw.slice(0, -1) : raw).replace(/^\s+/, '');
      let text: string;
      let at: number;
      if (continued) {
        text = continued.text.slice(0, -1) + stripped;
        at = continued.line;
        continued = undefined;
      } else {
        text = stripped;
        at = line;
        if (text === '') return;
        if (text[0] === '#' || text[0] === '!') {
          directive(text, line, pending);
          return;
        }
      }
      if (/(^|[^\\])(\\\\)*\\$/.test(text)) {
        continued = { text, line: at };
        return;
      }
      entry(text, at);
    },
    end() {
      // The last line may end in a backslash: nothing follows to continue it.
      if (continued) entry(continued.text, continued.line);
      continued = undefined;
      return entries;
    },
  };
}

// ---------------------------------------------------------------- the two directions

/** A parser fed line by line (.env, .properties). */
export const lineParser = (format: 'env' | 'properties'): LineParser =>
  format === 'env' ? envParser() : propertiesParser();

export function parseConfigFile(format: Format, content: string): Entry[] {
  let entries: Entry[];
  if (format === 'json' || format === 'yaml') entries = parseStructured(content, format);
  else {
    const parser = lineParser(format);
    for (const text of content.split('\n')) parser.line(text);
    entries = parser.end();
  }
  return withoutDuplicates(entries);
}

/** A key given twice is refused, naming both lines. */
export function withoutDuplicates(entries: Entry[]): Entry[] {
  const seen = new Map<string, number>();
  for (const e of entries) {
    const first = seen.get(e.key);
    if (first !== undefined) {
      throw new FormatError(e.line, `'${e.key}' is given again (first on line ${first})`);
    }
    seen.set(e.key, e.line);
  }
  return entries;
}

export function renderConfigFile(format: Format, configs: ExportedConfig[]): string {
  const sorted = [...configs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  switch (format) {
    case 'json':
    case 'yaml':
      return renderStructured(sorted, format);
    case 'env':
      return renderLines(sorted, (c) => `${c.key}=${envValue(c.value)}`, '# config-service export');
    case 'properties':
      return renderLines(
        sorted,
        (c) => `${escapeProperties(c.key, true)}=${escapeProperties(c.value, false)}`,
        '# config-service export',
      );
  }
}
