import type { ValueKind } from './types.js';

/** The service answered with an error status. */
export class ConfigServiceError extends Error {
  override readonly name = 'ConfigServiceError';
  constructor(
    readonly status: number,
    message: string,
    /** Seconds the service asked to wait (Retry-After), if it did. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** `ready()` gave up waiting for the service (and had no fallback values to serve). */
export class ConfigTimeoutError extends Error {
  override readonly name = 'ConfigTimeoutError';
  constructor(
    readonly timeoutMs: number,
    /** The last failed attempt, if any. */
    override readonly cause?: unknown,
  ) {
    super(
      `config service did not answer within ${timeoutMs} ms` +
        (cause instanceof Error ? ` (last error: ${cause.message})` : ''),
    );
  }
}

/** A typed getter found a value of another kind; it returned the fallback. */
export class ConfigTypeError extends Error {
  override readonly name = 'ConfigTypeError';
  constructor(
    readonly key: string,
    readonly expected: ValueKind,
    readonly actual: string,
  ) {
    super(`config '${key}' is ${actual}, not ${expected}: the fallback was used`);
  }
}

/** The kind of a value as the typed getters name it (`null`, `array` and `object` for JSON). */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Whether `value` is of `kind`: JSON is an object or array; numbers are finite. */
export function isKind(value: unknown, kind: ValueKind): boolean {
  switch (kind) {
    case 'boolean':
      return typeof value === 'boolean';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'string':
      return typeof value === 'string';
    case 'json':
      return typeof value === 'object' && value !== null;
  }
}
