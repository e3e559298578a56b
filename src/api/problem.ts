/**
 * Errors as RFC 9457 problem+json. Every 4xx names the field it is about (`field`, and `errors`
 * for validation failures with several).
 */
import type { ErrorRequestHandler, Response } from 'express';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { DomainError, type DomainErrorCode } from '../domain/errors.js';

export interface FieldError {
  field: string;
  message: string;
}

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

const DOMAIN_STATUS: Record<DomainErrorCode, [number, string]> = {
  validation: [422, 'Validation failed'],
  not_found: [404, 'Not found'],
  already_exists: [409, 'Already exists'],
  version_conflict: [409, 'Version conflict'],
  precondition_required: [428, 'Precondition required'],
  quota_exceeded: [409, 'Quota exceeded'],
  invalid_state: [409, 'Invalid state'],
  approval_required: [409, 'Approval required'],
  stale: [409, 'Stale change request'],
  forbidden: [403, 'Forbidden'],
};

export function badRequest(errors: FieldError[]): HttpProblem {
  return new HttpProblem(
    400,
    'Invalid request',
    errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    { field: errors[0]?.field, errors },
  );
}

export function fromZod(error: z.ZodError, root?: string): HttpProblem {
  const name = (...parts: unknown[]) =>
    [root, ...parts.map(String)].filter(Boolean).join('.') || '(body)';
  return badRequest(
    error.issues.flatMap((i) =>
      // Unknown properties: name each one, not the object that holds them.
      i.code === 'unrecognized_keys'
        ? i.keys.map((key) => ({ field: name(...i.path, key), message: 'is not a known property' }))
        : [{ field: name(...i.path), message: i.message }],
    ),
  );
}

/** Validates `input` (a body or query) with `schema`, or throws a 400 naming each field. */
export function parseInput<T extends z.ZodType>(
  schema: T,
  input: unknown,
  root?: string,
): z.infer<T> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) throw fromZod(parsed.error, root);
  return parsed.data;
}

export function toProblem(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error;
  if (error instanceof DomainError) {
    const [status, title] = DOMAIN_STATUS[error.code];
    return new HttpProblem(status, title, error.message, {
      code: error.code,
      ...(error.field
        ? { field: error.field, errors: [{ field: error.field, message: error.message }] }
        : {}),
      ...error.details,
    });
  }
  if (error instanceof z.ZodError) return fromZod(error);
  const e = error as {
    type?: string;
    status?: number;
    statusCode?: number;
    expose?: boolean;
    message?: string;
  };
  // A path that is not valid percent-encoding (Express decodes route parameters).
  if (error instanceof URIError) {
    return badRequest([{ field: '(path)', message: 'is not valid percent-encoding' }]);
  }
  // express.json() errors: malformed or oversized bodies.
  if (e.type === 'entity.parse.failed') {
    return badRequest([{ field: '(body)', message: 'is not valid JSON' }]);
  }
  if (e.type === 'entity.too.large') {
    return new HttpProblem(413, 'Payload too large', 'The request body is too large', {
      field: '(body)',
    });
  }
  // Other client errors raised by Express or body-parser (an unsupported charset or
  // Content-Encoding: 415, …) keep their status; only their own message is shown.
  const status = e.status ?? e.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500 && e.expose !== false) {
    return new HttpProblem(
      status,
      status === 415 ? 'Unsupported media type' : 'Bad request',
      e.message ?? 'Bad request',
      {
        field: '(body)',
      },
    );
  }
  return new HttpProblem(500, 'Internal error', 'An unexpected error occurred');
}

export function writeProblem(res: ServerResponse, problem: HttpProblem, instance?: string): void {
  const body = JSON.stringify({
    type: 'about:blank',
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    ...(instance ? { instance } : {}),
    ...problem.extra,
  });
  res.statusCode = problem.status;
  res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  for (const [k, v] of Object.entries(problem.extra)) {
    if (k === 'retryAfter') res.setHeader('Retry-After', String(v));
  }
  res.end(body);
}

export function errorHandler(log: (error: unknown) => void): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const problem = toProblem(error);
    // A 503 of our own (read-your-writes timed out, watchers full) is an answer, not a fault:
    // it says when to retry, and the lag metrics and alerts tell the story.
    if (problem.status >= 500 && !(error instanceof HttpProblem && problem.status === 503)) {
      log(error);
    }
    if ((res as Response).headersSent) return;
    if (problem.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    writeProblem(res, problem, req.originalUrl);
  };
}
