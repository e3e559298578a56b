import type { Request, Response } from 'express';
import { z } from 'zod';
import type { IncomingMessage } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { CommandContext } from '../commands/command-handling.js';
import type { Principal } from '../auth/auth.js';
import { HttpProblem } from './problem.js';
import { activeSpanContext } from '../observability/trace-context.js';

/**
 * The trace id of the request: the active span's when tracing is on (it continues an incoming
 * `traceparent`), else the `traceparent` header's, else a new one.
 */
export function traceIdOf(req: IncomingMessage): string {
  const active = activeSpanContext();
  if (active) return active.traceId;
  const header = req.headers.traceparent;
  const match =
    typeof header === 'string'
      ? /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(header)
      : null;
  return match && !/^0+$/.test(match[1]!) ? match[1]! : randomBytes(16).toString('hex');
}

export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}

export function commandContext(req: Request, res: Response): CommandContext {
  const principal = principalOf(res);
  return {
    userId: principal.userId,
    ipAddress: clientIp(req),
    traceId: res.locals.traceId as string,
    spanId: activeSpanContext()?.spanId,
    correlationId: res.locals.correlationId as string,
  };
}

/**
 * The client's address: Express's (X-Forwarded-For from a trusted proxy) when it is an IP address
 * at all, else the socket's; never arbitrary header text in the audit trail.
 */
function clientIp(req: Request): string | undefined {
  for (const candidate of [req.ip, req.socket.remoteAddress]) {
    // IPv4 clients of a dual-stack socket appear as ::ffff:a.b.c.d; record the plain address.
    const ip = candidate?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
    if (ip && isIP(ip)) return ip;
  }
  return undefined;
}

export function correlationIdOf(req: IncomingMessage): string {
  const header = req.headers['x-correlation-id'];
  return typeof header === 'string' && /^[\w.:-]{1,100}$/.test(header) ? header : randomUUID();
}

/** A header naming the version a write expects: "3", W/"3" or 3 (If-Match). */
export const ifMatchHeader = z
  .string()
  .regex(/^\s*(?:W\/)?"?\d{1,9}"?\s*$/, 'must be a version such as "3"')
  .describe(
    'The version being changed ("3", W/"3" or 3); the same as the body\'s expectedVersion. ' +
      'A stale one answers 409 with currentVersion.',
  )
  .meta({ examples: ['"1"'] })
  .transform((v) => Number(/\d+/.exec(v)![0]));

/** The expected version: `If-Match` or the body's expectedVersion, which must agree. */
export function expectedVersionOf(
  ifMatch: number | undefined,
  bodyVersion: number | undefined,
): number | undefined {
  if (ifMatch === undefined) return bodyVersion;
  if (bodyVersion !== undefined && bodyVersion !== ifMatch) {
    throw new HttpProblem(400, 'Invalid request', 'If-Match and expectedVersion disagree', {
      field: 'expectedVersion',
    });
  }
  return ifMatch;
}

/**
 * A command's answer: its resource's view with the position of its last event (null when nothing
 * changed), also in X-Event-Position for read-your-writes, and the ETag when it has a version.
 */
export function commandReply<S extends number, B extends object>(
  status: S,
  body: B,
  position: bigint | undefined,
  headers: { ETag?: string; Location?: string } = {},
) {
  return {
    status,
    body: { ...body, position: position?.toString() ?? null },
    headers: {
      ...headers,
      ...(position !== undefined ? { 'X-Event-Position': position.toString() } : {}),
    },
  };
}
