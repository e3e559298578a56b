import { DomainError } from './errors.js';

export const CONFIG_TYPES = ['String', 'Boolean', 'Integer', 'Number', 'JSON'] as const;
export type ConfigType = (typeof CONFIG_TYPES)[number];

/**
 * Text the event store cannot keep: NUL (PostgreSQL's jsonb refuses it) and UTF-16 surrogates
 * without their pair (not Unicode text at all).
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const isStorableText = (text: string): boolean => !UNSTORABLE.test(text);

/**
 * The path (`a.b[2]`) of the first string or key under `value` that cannot be stored, '' for
 * `value` itself, or undefined when all of it can.
 */
export function unstorablePath(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return isStorableText(value) ? undefined : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = unstorablePath(value[i], `${path}[${i}]`);
      if (bad !== undefined) return bad;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const at = path ? `${path}.${k}` : k;
      if (!isStorableText(k)) return at;
      const bad = unstorablePath(v, at);
      if (bad !== undefined) return bad;
    }
  }
  return undefined;
}

/** Largest stored value (characters). Config values are read on every request; keep them small. */
export const MAX_VALUE_LENGTH = 256 * 1024;

/**
 * Checks `input` against `type` and returns the canonical text stored in events and the `value`
 * column. Input may be the typed JSON value (`true`, `42`, `{...}`) or its text form (`"true"`).
 */
export function normaliseValue(type: ConfigType, input: unknown, field = 'value'): string {
  const fail = (why: string): never => {
    throw new DomainError('validation', `${field} ${why} for type ${type}`, field);
  };
  let text: string;
  switch (type) {
    case 'String':
      if (typeof input !== 'string') fail('must be a string');
      text = input as string;
      if (!isStorableText(text)) fail('must not contain NUL or unpaired surrogate characters');
      break;
    case 'Boolean':
      if (typeof input === 'boolean') text = String(input);
      else if (typeof input === 'string' && /^(true|false)$/i.test(input.trim()))
        text = input.trim().toLowerCase();
      else text = fail('must be true or false');
      break;
    case 'Integer': {
      const n = typeof input === 'string' && /^\s*-?\d+\s*$/.test(input) ? Number(input) : input;
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) fail('must be a whole number');
      text = String(n);
      break;
    }
    case 'Number': {
      // Decimal notation only: Number() would also take hex, octal and binary text.
      const n =
        typeof input === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(input)
          ? Number(input)
          : input;
      if (typeof n !== 'number' || !Number.isFinite(n)) fail('must be a finite number');
      text = String(n);
      break;
    }
    case 'JSON': {
      if (input === undefined) fail('is missing');
      let parsed: unknown = input;
      if (typeof input === 'string') {
        try {
          parsed = JSON.parse(input);
        } catch {
          fail('must be valid JSON');
        }
      }
      let serialised: string | undefined;
      try {
        serialised = JSON.stringify(parsed);
      } catch {
        serialised = undefined;
      }
      if (typeof serialised !== 'string') fail('must be a JSON value');
      text = serialised!;
      break;
    }
  }
  if (text.length > MAX_VALUE_LENGTH) fail(`must be at most ${MAX_VALUE_LENGTH} characters`);
  return text;
}

/** The typed value apps receive on the read path. */
export function typedValue(type: string, text: string): unknown {
  switch (type) {
    case 'Boolean':
      return text === 'true';
    case 'Integer':
    case 'Number':
      return Number(text);
    case 'JSON':
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    default:
      return text;
  }
}

export const MASK = '********';

/**
 * JSON with object keys sorted, for comparing documents: the event store (jsonb) gives objects
 * back with their keys in another order.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
