/**
 * A route, declared once: method, path, access, request and response schemas, rate limit, the
 * problems it can answer and whether it reads your writes. register.ts mounts the declarations on
 * Express (parsing every request with the declared schemas), openapi.ts builds the OpenAPI
 * document from the same objects, and the e2e suite checks every answer against them
 * (test/support/response-check.ts). So what is documented is what is validated and answered.
 */
import type { Readable } from 'node:stream';
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../composition.js';
import type { Queues } from '../jobs/queues.js';
import type { CommandContext } from '../commands/command-handling.js';
import type { Capability, Principal } from '../auth/auth.js';
import type { LimitCategory } from './rate-limits.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Operation groups of the document, in its order. */
export const TAGS = {
  Tenants: undefined,
  Environments: 'Each tenant declares its environments; names match without regard to case',
  Configurations: undefined,
  'App reads': 'The hot read path for applications',
  'Change requests': 'Approvals before a change applies',
  Deployments: 'Direct and canary roll-outs',
  Audit: undefined,
  Replay: 'Answers from the event log itself: recorded events, state as of a point',
  Webhooks: 'Signed POSTs to your URLs when things change',
  'Across environments': 'Compare, promote, import and export, as change sets',
  'API keys': "Apps' credentials: scoped, per tenant, revocable",
  Operations: 'Health and metrics (public)',
  Session: 'Who the caller is (the web console asks)',
} as const satisfies Record<string, string | undefined>;
export type Tag = keyof typeof TAGS;

/** Problems a route can answer (application/problem+json, the Problem schema). */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 428 | 429 | 500 | 503;

export type ResponseHeader = 'ETag' | 'Location' | 'X-Event-Position' | 'Retry-After';

export interface ResponseSpec {
  description: string;
  /** The body's schema; none for an answer without a body (304). */
  schema?: z.ZodType;
  /** Default application/json. */
  contentType?: string;
  headers?: readonly ResponseHeader[];
}

export interface RequestSpec {
  /** Path parameters, by the names in `path`. */
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** The JSON body; a route without one ignores any body. */
  body?: z.ZodType;
  /** Request headers, by their canonical names (If-Match, …); read case-insensitively. */
  headers?: z.ZodObject;
  /**
   * Also takes the body unread, as a stream the handler reads (`input.raw`), in these media
   * types: big files, beyond the 1 MB JSON limit. `application/json` is taken raw only when the
   * query names `jsonRawWhen` (otherwise it is the JSON `body`).
   */
  raw?: RawBodySpec;
}

export interface RawBodySpec {
  /** Media type → what such a body is (for the document). */
  mediaTypes: Readonly<Record<string, string>>;
  jsonRawWhen?: string;
}

/** A body taken unread. */
export interface RawBody {
  mediaType: string;
  /** Content-Length, when the client sent one. */
  length: number | undefined;
  stream: Readable;
}

/** Whether the request's body is taken raw by a route declaring `raw`. */
export function isRawRequest(spec: RawBodySpec, req: Request): string | undefined {
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (!(mediaType in spec.mediaTypes)) return undefined;
  if (mediaType === 'application/json') {
    const query = new URLSearchParams(req.url.split('?')[1] ?? '');
    if (!spec.jsonRawWhen || !query.has(spec.jsonRawWhen)) return undefined;
  }
  return mediaType;
}

type Parsed<T> = T extends z.ZodType ? z.output<T> : undefined;

/** What the handler gets: the request, parsed with the declared schemas. */
export interface Input<R extends RequestSpec> {
  params: Parsed<R['params']>;
  query: Parsed<R['query']>;
  body: Parsed<R['body']>;
  headers: Parsed<R['headers']>;
  /** The body, unread, when the route takes raw bodies and this is one (the JSON `body` is then undefined). */
  raw: R extends { raw: RawBodySpec } ? RawBody | undefined : undefined;
}

type Responses = Record<number, ResponseSpec>;
type BodyOf<S> = S extends { schema: infer Z extends z.ZodType } ? z.input<Z> : undefined;

/** A handler's answer: one of the declared statuses with a body of its schema. */
export type Reply<Res extends Responses> = {
  [S in keyof Res & number]: {
    status: S;
    body: BodyOf<Res[S]>;
    headers?: Partial<Record<ResponseHeader, string>>;
  };
}[keyof Res & number];

/** What a handler works with besides its input. */
export interface RouteContext {
  s: Services;
  queues: Queues;
  req: Request;
  res: Response;
  /** The caller (routes under /api/v1; public routes have none). */
  principal: Principal;
  /** Checks the caller has the route's capability on the tenant (and environment). */
  allow(tenantId: string, environment?: string): void;
  /**
   * A command guard with the route's capability: another tenant's (or environment's) resource
   * answers as a missing one (`what` '`id`' not found, naming `field`).
   */
  guard(what: string, id: string, field: string): (tenantId: string, environment: string) => void;
  /** Who and what caused a command, for its events' metadata. */
  command(): CommandContext;
  /**
   * Routes declaring `progress`: when the client accepts application/x-ndjson, the first call
   * starts a 200 NDJSON answer and each call writes one line; the reply (or the problem) is
   * then the last line. Otherwise it does nothing.
   */
  progress(line: Record<string, unknown>): void;
}

export interface RouteSpec<R extends RequestSpec = RequestSpec, Res extends Responses = Responses> {
  operationId: string;
  method: Method;
  /** Express-style (`/api/v1/configs/:configId`). */
  path: string;
  tag: Tag;
  summary: string;
  description?: string;
  /** The capability the caller needs on the resource's tenant; 'public' needs no token. */
  access: Capability | 'public';
  /**
   * Apps may call it with an API key (`Authorization: Bearer cfgk_…` or `X-API-Key`) whose
   * scopes give the capability. Every other route refuses keys (403): they are for people.
   */
  apiKeys?: boolean;
  request?: R;
  /** Answers that are not problems, by status. */
  responses: Res;
  /**
   * Problems the route itself answers. 400 (any route: a NUL in the path or query), 401 (not
   * public), 413/415 (methods with a body), 429 (`rateLimit`), 503 (any route: the database
   * away or its schema behind; `readYourWrites` and `live` routes also when the read side lags)
   * and 500 are added.
   */
  errors: readonly ErrorStatus[];
  /** The per-minute limit it counts against (RateLimiting__*). */
  rateLimit?: LimitCategory;
  /**
   * The projections it reads: with `?minPosition=` / `X-Min-Position` it waits (bounded) until
   * they have reached that position, then 503.
   */
  readYourWrites?: readonly string[];
  /** Follows changes: `?wait=` long polls and `Accept: text/event-stream`. */
  live?: boolean;
  /**
   * Reports progress as NDJSON lines of this schema (`Accept: application/x-ndjson`), the
   * answer's body (or its problem) last.
   */
  progress?: z.ZodType;
}

export interface Route<
  R extends RequestSpec = RequestSpec,
  Res extends Responses = Responses,
> extends RouteSpec<R, Res> {
  /** Absent for routes answered before Express (the hot read path): documented and checked. */
  handle?: (
    input: Input<R>,
    ctx: RouteContext,
  ) => Promise<Reply<Res> | typeof ANSWERED> | Reply<Res> | typeof ANSWERED;
}

/**
 * What a handler returns when it answered by itself: an event stream (declared `live`) whose
 * `snapshot` events carry bodies of the 200 schema, written as they come.
 */
export const ANSWERED = Symbol('answered');

/** An answer (the status stays a literal, as the declaration's statuses are). */
export const reply = <S extends number, B>(
  status: S,
  body: B,
  headers?: Partial<Record<ResponseHeader, string>>,
) => ({ status, body, ...(headers ? { headers } : {}) });

/** A 200 answer. */
export const ok = <B>(body: B, headers?: Partial<Record<ResponseHeader, string>>) =>
  reply(200, body, headers);

/** Any declaration, for lists of them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = RouteSpec<RequestSpec, Responses> & { handle?: (...args: any[]) => unknown };

/** Declares a route; its handler's input and answers are typed by its schemas. */
export const route = <const R extends RequestSpec, const Res extends Responses>(
  declaration: Route<R, Res>,
): Route<R, Res> => declaration;

/** Component names of the schemas the document lists (request bodies, responses). */
export const schemaNames = z.registry<{ name: string }>();

/** Names a schema in the OpenAPI document's components. */
export function named<T extends z.ZodType>(name: string, schema: T): T {
  (schema as z.ZodType).register(schemaNames, { name });
  return schema;
}

/** `/configs/:configId` → `/configs/{configId}`. */
export const toOpenApiPath = (expressPath: string) =>
  expressPath.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');

/** The statuses a route can answer with a problem: its own and those every route can. */
export function problemStatuses(r: RouteSpec): ErrorStatus[] {
  // 503: any route may find PostgreSQL away (restarting, failing over) or its schema behind
  // the build (`npm run migrate`); the problem says when to retry.
  const all = new Set<ErrorStatus>([...r.errors, 400, 500, 503]);
  // 403: besides the route's own reasons, an API key on a route that is not for apps.
  if (r.access !== 'public') all.add(401).add(403);
  if (r.method !== 'get') all.add(413).add(415);
  if (r.rateLimit) all.add(429);
  return [...all].sort((a, b) => a - b);
}
