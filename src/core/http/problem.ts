/**
 * Errors as RFC 9457 problem+json. Every 4xx names the field it is about (`field`, and `errors`
 * for validation failures with several).
 */
import type { ErrorRequestHandler, Response } from 'express';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { DomainError, type DomainErrorCode } from '../domain-error.js';
import { ReadSideBehindError } from '../projections/projection-progress.js';
import { named } from './route.js';
import { MIGRATE_HINT } from '../postgres/migrate-hint.js';
import {
  EncryptionUnavailableError,
  KeyDestroyedError,
  KeyServiceError,
} from '../crypto/envelope.js';

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
  unknown_environment: [400, 'Unknown environment'],
};

const CODES = Object.keys(DOMAIN_STATUS) as [DomainErrorCode, ...DomainErrorCode[]];

const int = z.number().int();
const schemaError = z.strictObject({ path: z.string(), message: z.string().optional() });

/** Every problem answer, with the members a refusal may add (all named here: no others). */
export const problemSchema = named(
  'Problem',
  z
    .strictObject({
      type: z.literal('about:blank'),
      title: z.string(),
      status: int.describe('the HTTP status'),
      detail: z.string(),
      instance: z.string().optional().describe('the request path'),
      field: z.string().optional().describe('the field, header or parameter the problem is about'),
      errors: z
        .array(z.strictObject({ field: z.string(), message: z.string() }))
        .optional()
        .describe('each offending field (validation problems)'),
      code: z.enum(CODES).optional().describe('why the domain refused the command'),
      state: z
        .string()
        .optional()
        .describe(
          "invalid_state: the change request's state that refused it (Approved, Rejected, Expired, …)",
        ),
      currentVersion: int.optional().describe('409 version conflict, stale, and 428'),
      baseVersion: int.optional().describe('stale: the version the change request was made on'),
      limit: int.optional().describe('quota_exceeded: the quota'),
      used: int.optional().describe('quota_exceeded: how much of it is used'),
      configId: z.string().optional().describe('the configuration concerned'),
      activeDeploymentId: z.string().optional().describe('the deployment holding the config'),
      requiredApprovals: int.optional().describe('approval_required: approvals needed'),
      changeRequests: z.string().optional().describe('approval_required: where to ask'),
      schemaId: z.string().optional().describe('the config schema the value does not match'),
      schemaVersion: int.optional(),
      schemaErrors: z.array(schemaError).optional().describe("the schema's complaints"),
      violations: z
        .array(
          z.strictObject({
            configId: z.string(),
            key: z.string(),
            environment: z.string(),
            what: z.enum(['value', 'defaultValue', 'deployment']),
            deploymentId: z.string().optional(),
            errors: z.array(schemaError),
          }),
        )
        .optional()
        .describe('a schema version refused: the values in use it would not match'),
      line: int.optional().describe('an import: the line of the file the problem is on'),
      conflicts: z
        .array(z.strictObject({ key: z.string(), expectedVersion: int, currentVersion: int }))
        .optional()
        .describe('stale change set or promotion: each key that moved (0: absent)'),
      retryAfter: z.number().optional().describe('429 and 503: seconds (also in Retry-After)'),
      declaredEnvironments: z
        .array(z.string())
        .optional()
        .describe("an undeclared environment: the tenant's declared ones"),
    })
    .describe('RFC 9457 problem details (application/problem+json)'),
);

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
  if (error instanceof ReadSideBehindError) {
    return new HttpProblem(503, 'Projections lagging', error.message, {
      field: 'minPosition',
      retryAfter: 1,
    });
  }
  if (error instanceof z.ZodError) return fromZod(error);
  // Asked to encrypt where no key-encryption key is configured.
  if (error instanceof EncryptionUnavailableError) {
    return toProblem(new DomainError('validation', error.message, 'isEncrypted'));
  }
  // Vault refused or did not answer: nothing was written; the caller may retry.
  if (error instanceof KeyServiceError) {
    return new HttpProblem(503, 'Key service unavailable', error.message, { retryAfter: 5 });
  }
  // A purged tenant's values: shredded for good.
  if (error instanceof KeyDestroyedError) {
    return toProblem(new DomainError('invalid_state', error.message, 'tenantId'));
  }
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
  // PostgreSQL without this build's tables (started before `npm run migrate`), or not answering
  // (restarting, failing over): the service is unavailable, not broken; retry.
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === '42P01' || code === '42703') {
    return new HttpProblem(
      503,
      'Service unavailable',
      `The database schema is behind: ${MIGRATE_HINT}`,
      {
        retryAfter: 30,
      },
    );
  }
  if (isDatabaseUnavailable(error)) {
    return new HttpProblem(
      503,
      'Service unavailable',
      'The database is not answering; retry shortly',
      {
        retryAfter: 1,
      },
    );
  }
  // express.json() errors: malformed or oversized bodies.
  if (e.type === 'entity.parse.failed') {
    return badRequest([{ field: '(body)', message: 'is not valid JSON' }]);
  }
  if (e.type === 'entity.too.large') {
    const { limit, length } = error as { limit?: number; length?: number };
    const mb =
      limit !== undefined && limit % 1_048_576 === 0
        ? `${limit / 1_048_576} MB (${limit} bytes)`
        : `${limit} bytes`;
    return new HttpProblem(
      413,
      'Payload too large',
      limit === undefined
        ? 'The request body is too large'
        : `The request body${length !== undefined ? ` (${length} bytes)` : ''} is larger than the limit of ${mb}`,
      { field: '(body)', ...(limit !== undefined ? { limit } : {}) },
    );
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

/** node-postgres errors that mean the server is away (not that the statement was wrong). */
function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03'].includes(
      code,
    ) ||
    code.startsWith('08') ||
    (typeof e?.message === 'string' &&
      /^(Connection terminated|timeout exceeded when trying to connect)/.test(e.message))
  );
}

/** The problem+json body of a problem. */
export function problemBody(problem: HttpProblem, instance?: string): Record<string, unknown> {
  // The standard members are the problem's own: no detail of a refusal may replace them.
  const { type: _t, title: _ti, status: _s, detail: _d, instance: _i, ...extra } = problem.extra;
  return {
    type: 'about:blank',
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    ...(instance ? { instance } : {}),
    ...extra,
  };
}

/** A problem's response headers (besides what the caller set before), for a body of `body`. */
export function problemHeaders(problem: HttpProblem, body: string): [string, string][] {
  const headers: [string, string][] = [
    ['Content-Type', 'application/problem+json; charset=utf-8'],
    ['Content-Length', String(Buffer.byteLength(body))],
  ];
  const retryAfter = problem.extra.retryAfter;
  if (retryAfter !== undefined) headers.push(['Retry-After', String(retryAfter)]);
  return headers;
}

export function writeProblem(res: ServerResponse, problem: HttpProblem, instance?: string): void {
  const body = JSON.stringify(problemBody(problem, instance));
  res.statusCode = problem.status;
  for (const [name, value] of problemHeaders(problem, body)) res.setHeader(name, value);
  res.end(body);
}

export function errorHandler(log: (error: unknown) => void): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const problem = toProblem(error);
    // A 503 (read-your-writes timed out, watchers full, the database away or not migrated) is
    // an answer, not a fault: it says when to retry; readiness and the alerts tell the story.
    if (problem.status >= 500 && problem.status !== 503) log(error);
    // For the command log (access-log.ts): why a write was refused.
    (res as Response).locals.problem = problem.message;
    if ((res as Response).headersSent) return;
    if (problem.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    writeProblem(res, problem, req.originalUrl);
  };
}
