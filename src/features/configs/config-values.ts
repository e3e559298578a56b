import { DomainError } from '../../core/domain-error.js';

export const CONFIG_TYPES = ['String', 'Boolean', 'Integer', 'Number', 'JSON'] as const;
export type ConfigType = (typeof CONFIG_TYPES)[number];

/**
 * Text the event store cannot keep: NUL (PostgreSQL's jsonb refuses it) and UTF-16 surrogates
 * without their pair (not Unicode text at all).
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const isStorableText = (text: string): boolean => !UNSTORABLE.test(text);

/** Deeper JSON than this is refused: nothing needs it, and deep recursion can exhaust the stack. */
export const MAX_JSON_DEPTH = 64;

/**
 * The first string or key under `value` that cannot be stored (its path, `a.b[2]`; '' for
 * `value` itself), or the first value nested deeper than MAX_JSON_DEPTH; undefined when all of
 * it is fine. Iterative, so any depth is safe to inspect.
 */
export function unstorablePath(
  value: unknown,
): { path: string; why: 'text' | 'depth' } | undefined {
  const stack: [unknown, string, number][] = [[value, '', 0]];
  while (stack.length) {
    const [v, path, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (!isStorableText(v)) return { path, why: 'text' };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return { path, why: 'depth' };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`, depth + 1]);
    } else {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, child] = entries[i]!;
        const at = path ? `${path}.${k}` : k;
        if (!isStorableText(k)) return { path: at, why: 'text' };
        stack.push([child, at, depth + 1]);
      }
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
