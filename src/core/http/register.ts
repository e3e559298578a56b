/**
 * Mounts route declarations on Express: the rate limit they name, their request parsed with
 * their schemas (400 naming each field), the read-your-writes wait, then the handler, whose
 * reply is written as declared.
 */
import type { Request, RequestHandler, Response, Router } from 'express';
import type { z } from 'zod';
import type { Services } from '../../composition.js';
import type { Queues } from '../jobs/queues.js';
import { authorize, type Principal } from '../auth/auth.js';
import { HttpProblem, fromZod, problemBody, toProblem } from './problem.js';
import { commandContext, principalOf } from './request-context.js';
import { waitIfAsked } from './read-your-writes.js';
import { hidingGuard } from './resource-access.js';
import {
  ANSWERED,
  isRawRequest,
  type AnyRoute,
  type Method,
  type RawBody,
  type RequestSpec,
  type RouteContext,
} from './route.js';

function parse(schema: z.ZodType | undefined, input: unknown): unknown {
  if (!schema) return undefined;
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) throw fromZod(parsed.error);
  return parsed.data;
}

/**
 * Headers by their declared names (read case-insensitively). A bad header is a problem about that
 * header alone (no `errors` list), like every problem about a header.
 */
function parseHeaders(schema: z.ZodObject | undefined, req: Request): unknown {
  if (!schema) return undefined;
  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(schema.shape)) raw[name] = req.headers[name.toLowerCase()];
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = String(issue.path[0] ?? '(headers)');
  throw new HttpProblem(400, 'Invalid request', `${field} ${issue.message}`, { field });
}

function parseRequest(spec: RequestSpec | undefined, req: Request) {
  const rawType = spec?.raw ? isRawRequest(spec.raw, req) : undefined;
  const length = req.headers['content-length'];
  const raw: RawBody | undefined = rawType
    ? { mediaType: rawType, length: length === undefined ? undefined : Number(length), stream: req }
    : undefined;
  return {
    params: parse(spec?.params, req.params),
    query: parse(spec?.query, req.query),
    body: raw ? undefined : parse(spec?.body, req.body),
    headers: parseHeaders(spec?.headers, req),
    raw,
  };
}

/** NDJSON progress (routes declaring `progress`, clients accepting application/x-ndjson). */
const NDJSON = 'application/x-ndjson';
const wantsProgress = (r: AnyRoute, req: Request) =>
  r.progress !== undefined && (req.headers.accept ?? '').includes(NDJSON);

function progressWriter(r: AnyRoute, req: Request, res: Response) {
  if (!wantsProgress(r, req)) return () => {};
  return (line: Record<string, unknown>) => {
    if (!res.headersSent) {
      res.status(200).type(`${NDJSON}; charset=utf-8`);
      res.setHeader('Cache-Control', 'no-store');
    }
    res.write(`${JSON.stringify(line)}\n`);
  };
}

function contextFor(
  r: AnyRoute,
  deps: { s: Services; queues: Queues },
  req: Request,
  res: Response,
): RouteContext {
  const capability = r.access === 'public' ? 'read' : r.access;
  return {
    ...deps,
    req,
    res,
    get principal(): Principal {
      return principalOf(res);
    },
    allow: (tenantId, environment) =>
      authorize(principalOf(res), capability, tenantId, environment),
    guard: (what, id, field) => hidingGuard(principalOf(res), capability, what, id, field),
    command: () => commandContext(req, res),
    progress: progressWriter(r, req, res),
  };
}

interface Sent {
  status: number;
  body: unknown;
  headers?: Record<string, string | undefined>;
}

function send(r: AnyRoute, res: Response, reply: Sent): void {
  // Progress lines went out already (a 200 NDJSON answer): the reply is the last line.
  if (res.headersSent) {
    res.end(`${JSON.stringify(reply.body)}\n`);
    return;
  }
  for (const [name, value] of Object.entries(reply.headers ?? {})) {
    if (value !== undefined) res.setHeader(name, value);
  }
  res.status(reply.status);
  const contentType = r.responses[reply.status]?.contentType;
  if (contentType) res.type(contentType).send(reply.body);
  else res.json(reply.body);
}

/** API keys are for apps: routes that do not say they take them refuse them. */
const refuseApiKeys: RequestHandler = (_req, res, next) => {
  if ((res.locals.principal as Principal | undefined)?.kind !== 'api-key') return next();
  next(
    new HttpProblem(
      403,
      'Forbidden',
      'API keys are for the app routes (reads, watches, metrics); use a token here',
      { field: 'Authorization' },
    ),
  );
};

/** Registers every declaration that has a handler (the others are answered before Express). */
export function mountRoutes(
  router: Pick<Router, Method>,
  routes: readonly AnyRoute[],
  deps: { s: Services; queues: Queues },
): void {
  for (const r of routes) {
    const handle = r.handle;
    if (!handle) continue;
    const chain: RequestHandler[] = [];
    if (!r.apiKeys) chain.push(refuseApiKeys);
    if (r.rateLimit) chain.push(deps.s.rateLimits.middleware(r.rateLimit));
    chain.push(async (req, res) => {
      try {
        const input = parseRequest(r.request, req);
        if (r.readYourWrites) await waitIfAsked(deps.s.progress, req, r.readYourWrites);
        const reply = await handle(input, contextFor(r, deps, req, res));
        if (reply !== ANSWERED) send(r, res, reply as Sent);
      } catch (error) {
        if (!res.headersSent || !wantsProgress(r, req)) throw error;
        // The 200 went out with the first progress line: the problem is the last line.
        const problem = toProblem(error);
        if (problem.status >= 500 && problem.status !== 503) {
          deps.s.logger.error({ err: error }, 'request failed');
        }
        res.locals.problem = problem.message;
        res.end(`${JSON.stringify(problemBody(problem, req.originalUrl))}\n`);
      }
    });
    router[r.method](r.path, ...chain);
  }
}
