/**
 * Read-your-writes over HTTP: a query names the position of a command's answer
 * (`?minPosition=` or `X-Min-Position`) and waits until the projections it reads have reached it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ProjectionProgress } from '../projections/projection-progress.js';
import { HttpProblem } from './problem.js';

/** Reads `?minPosition=` or the `X-Min-Position` header; 400 when it is not a position. */
export function minPositionOf(
  query: unknown,
  header: string | string[] | undefined,
): bigint | undefined {
  const raw = (query as { minPosition?: unknown } | undefined)?.minPosition ?? header;
  if (raw === undefined) return undefined;
  const text = Array.isArray(raw) ? raw[0] : String(raw);
  if (!text || !/^\d{1,19}$/.test(text)) {
    throw new HttpProblem(400, 'Invalid request', 'minPosition must be a non-negative integer', {
      field: 'minPosition',
    });
  }
  return BigInt(text);
}

/** Waits for the position the request names, if it names one. */
export async function waitIfAsked(
  progress: ProjectionProgress,
  req: { query: unknown; headers: IncomingHttpHeaders },
  projections: readonly string[],
): Promise<void> {
  const min = minPositionOf(req.query, req.headers['x-min-position']);
  if (min !== undefined) await progress.waitFor(min, [...projections]);
}
