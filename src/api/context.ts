import type { Request, Response } from 'express';
import type { IncomingMessage } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { CommandContext } from '../application/command-handling.js';
import type { Principal } from './auth.js';
import { HttpProblem } from './problem.js';
import { activeSpanContext } from '../infrastructure/trace-context.js';

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

/** Reads the expected version from `If-Match` ("3", W/"3" or 3) or the body's expectedVersion. */
export function expectedVersionOf(
  req: Request,
  bodyVersion: number | undefined,
): number | undefined {
  const header = req.headers['if-match'];
  if (header === undefined) return bodyVersion;
  const m = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(header);
  if (!m) {
    throw new HttpProblem(400, 'Invalid request', 'If-Match must be a version such as "3"', {
      field: 'If-Match',
    });
  }
  const version = Number(m[1]);
  if (bodyVersion !== undefined && bodyVersion !== version) {
    throw new HttpProblem(400, 'Invalid request', 'If-Match and expectedVersion disagree', {
      field: 'expectedVersion',
    });
  }
  return version;
}

/** Writes a command's outcome: the body, its ETag and the position for read-your-writes. */
export function sendCommandResult(
  res: Response,
  status: number,
  body: Record<string, unknown>,
  position: bigint | undefined,
  etag?: string,
) {
  if (position !== undefined) res.setHeader('X-Event-Position', position.toString());
  if (etag) res.setHeader('ETag', etag);
  res.status(status).json({ ...body, position: position?.toString() ?? null });
}
