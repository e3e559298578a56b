/**
 * Checks every answer a test server sends against the route declarations (src/routes.ts): a
 * declared status with a body of its schema, or a problem status the route declares (or every
 * route may answer) with a Problem body. Express routes and the hot read path alike, problems
 * included; event streams snapshot by snapshot. Violations are collected; the root hook
 * (test/hooks.ts) fails the run with them, naming the test, the route, the status and the issue.
 */
import type http from 'node:http';
import { z } from 'zod';
import { API_ROUTES } from '../../src/routes.js';
import { problemSchema } from '../../src/core/http/problem.js';
import { problemStatuses, type AnyRoute } from '../../src/core/http/route.js';
import { matchHotRead } from '../../src/features/live-read/hot-read.request.js';
import {
  getConfigValue,
  getEnvironmentConfigs,
} from '../../src/features/live-read/hot-read.routes.js';
import { SPEC_ALIAS, UI_PATH } from '../../src/core/http/swagger-ui.js';
import { ADMIN_QUEUES_PATH } from '../../src/features/operations/queue-dashboard.js';
import { CONSOLE_PATH } from '../../src/features/console/console.assets.js';
import type { ApiServer } from '../../src/composition.js';

export interface Violation {
  test: string;
  route: string;
  status: number;
  problem: string;
}

const collected: Violation[] = [];
let current = '(no test running: a before or after hook)';

/** The test whose requests are being answered (root hooks set it). */
export function setCurrentTest(title: string | undefined): void {
  current = title ?? '(no test running: a before or after hook)';
}

/** The violations so far (and forgets them). */
export function takeViolations(): Violation[] {
  return collected.splice(0);
}

/**
 * Served, but not part of the API document: Swagger UI and the document, the queue dashboard,
 * the console's page and assets.
 */
const undocumented = (path: string) =>
  path === SPEC_ALIAS ||
  path === CONSOLE_PATH ||
  path.startsWith(`${CONSOLE_PATH}/`) ||
  path === UI_PATH ||
  path.startsWith(`${UI_PATH}/`) ||
  path === ADMIN_QUEUES_PATH ||
  path.startsWith(`${ADMIN_QUEUES_PATH}/`);

/** Finds the declaration that answers a request, as the server does: hot read path first. */
export function routeMatcher(routes: readonly AnyRoute[]) {
  const patterns = routes.map((r) => ({
    r,
    // Express matches case-insensitively and allows a trailing slash.
    regex: new RegExp(`^${r.path.replace(/:[A-Za-z_]\w*/g, '[^/]+')}/?$`, 'i'),
  }));
  const hot = routes.includes(getConfigValue as AnyRoute);
  return (method: string, url: string): AnyRoute | undefined => {
    const get = method === 'GET' || method === 'HEAD';
    if (hot && get) {
      const found = matchHotRead(url);
      if (found)
        return (found.key === undefined ? getEnvironmentConfigs : getConfigValue) as AnyRoute;
    }
    const path = url.split('?')[0]!;
    const wanted = get ? 'get' : method.toLowerCase();
    return patterns.find((p) => p.r.method === wanted && p.regex.test(path))?.r;
  };
}

const describeIssues = (error: z.ZodError) =>
  error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
    .join('; ');

function problemsOf(
  r: AnyRoute | undefined,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  type: string,
  body: Buffer,
  finished: boolean,
): string[] {
  const status = res.statusCode;
  const json = (schema: z.ZodType, what: string): string[] => {
    if (!finished) return []; // the client went away mid-answer: nothing whole to check
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      return [`${what}: the body is not JSON`];
    }
    const parsed = schema.safeParse(value);
    return parsed.success ? [] : [`${what}: ${describeIssues(parsed.error)}`];
  };
  const problem = (): string[] =>
    type.startsWith('application/problem+json')
      ? json(problemSchema, 'Problem')
      : [`a problem answered as ${type || 'no content type'}`];

  if (!r) return status >= 400 ? problem() : ['no route declares this request'];
  const declared = r.responses[status];
  if (!declared) {
    return problemStatuses(r).includes(status as never)
      ? problem()
      : [`status ${status} is not declared`];
  }
  if (!declared.schema || req.method === 'HEAD') {
    return body.length ? [`a body where none is declared (${body.length} bytes)`] : [];
  }
  if (r.live && type.startsWith('text/event-stream')) {
    const snapshots = [...body.toString('utf8').matchAll(/event: snapshot\ndata: (.*)\n/g)];
    return snapshots.flatMap((m) => {
      const parsed = declared.schema!.safeParse(JSON.parse(m[1]!));
      return parsed.success ? [] : [`snapshot event: ${describeIssues(parsed.error)}`];
    });
  }
  if (r.progress && type.startsWith('application/x-ndjson')) {
    if (!finished) return [];
    // Progress lines, then the body or (refused after the first line) a problem.
    const lines = body.toString('utf8').split('\n');
    if (lines.pop() !== '') return ['the NDJSON answer does not end with a line break'];
    return lines.flatMap((text, i) => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return [`NDJSON line ${i + 1} is not JSON`];
      }
      const last = i === lines.length - 1;
      const fits = (last ? [declared.schema!, problemSchema] : [r.progress!]).some(
        (schema) => schema.safeParse(value).success,
      );
      return fits ? [] : [`NDJSON line ${i + 1} fits no declared schema: ${text.slice(0, 200)}`];
    });
  }
  const expected = declared.contentType ?? 'application/json';
  if (!type.startsWith(expected.split(';')[0]!))
    return [`answered as ${type}, declared ${expected}`];
  if (expected.startsWith('application/json')) return json(declared.schema, 'body');
  const parsed = declared.schema.safeParse(body.toString('utf8'));
  return parsed.success ? [] : [`body: ${describeIssues(parsed.error)}`];
}

/**
 * Checks every answer `server` sends from now on against `routes`, into `sink` (by default the
 * run's list, which the root hook reports).
 */
export function checkResponses(
  server: http.Server,
  routes: readonly AnyRoute[] = API_ROUTES,
  sink: Violation[] = collected,
): void {
  const find = routeMatcher(routes);
  // Wrapped around the server's own emit, which answers hot reads before any 'request'
  // listener (core/http/server.ts). The fast lane's answers never come here: see checkLane.
  const inner = server.emit;
  server.emit = function emit(this: http.Server, event: string | symbol, ...args: unknown[]) {
    if (event === 'request') watch(args[0] as http.IncomingMessage, args[1] as http.ServerResponse);
    return Reflect.apply(inner, this, [event, ...args]) as boolean;
  } as typeof server.emit;
  function watch(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    const keep = (chunk: unknown, encoding: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
      chunks.push(
        Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(
              chunk as string,
              typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8',
            ),
      );
    };
    // The hot read path sends its headers with writeHead (a flat list): keep its Content-Type.
    let writtenType: string | undefined;
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => http.ServerResponse;
    res.writeHead = ((...args: unknown[]) => {
      const headers = args.find((a) => typeof a === 'object' && a !== null);
      const pairs = Array.isArray(headers)
        ? headers.flatMap((v, i) => (i % 2 ? [] : [[v, headers[i + 1]]]))
        : Object.entries(headers ?? {});
      const type = pairs.find(([name]) => String(name).toLowerCase() === 'content-type');
      if (type) writtenType = String(type[1]);
      return writeHead(...args);
    }) as typeof res.writeHead;
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      keep(chunk, rest[0]);
      return write(chunk, ...rest);
    }) as typeof res.write;
    const end = res.end.bind(res) as (...args: unknown[]) => http.ServerResponse;
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      keep(chunk, rest[0]);
      return end(chunk, ...rest);
    }) as typeof res.end;
    const test = current;
    let checked = false;
    const check = () => {
      if (checked || !res.headersSent) return;
      checked = true;
      // Express rewrites req.url inside a mounted app (the dashboard): the original is the path.
      const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
      const path = url.split('?')[0]!;
      if (undocumented(path)) return;
      const r = find(req.method ?? 'GET', url);
      const route = r ? `${r.method.toUpperCase()} ${r.path}` : `${req.method} ${path}`;
      const type = String(res.getHeader('content-type') ?? writtenType ?? '');
      const body = Buffer.concat(chunks);
      for (const problem of problemsOf(r, req, res, type, body, res.writableFinished)) {
        sink.push({ test, route, status: res.statusCode, problem });
      }
    };
    res.on('finish', check);
    res.on('close', check);
  }
}

/**
 * Checks every answer the fast lane writes (core/http/fast-lane.ts) from now on, as above: its
 * status line and headers are bytes, the body is sent unless the request was a HEAD.
 */
export function checkLane(
  observeLane: ApiServer['observeLane'],
  routes: readonly AnyRoute[] = API_ROUTES,
  sink: Violation[] = collected,
): void {
  const find = routeMatcher(routes);
  observeLane((req, answer) => {
    const path = req.url.split('?')[0]!;
    if (undocumented(path)) return;
    const r = find(req.method, req.url);
    const route = r ? `${r.method.toUpperCase()} ${r.path}` : `${req.method} ${path}`;
    const type = /\r\ncontent-type: *([^\r]*)/i.exec(answer.head.toString('latin1'))?.[1] ?? '';
    const body = req.method === 'HEAD' ? Buffer.alloc(0) : (answer.body ?? Buffer.alloc(0));
    const res = { statusCode: answer.status } as http.ServerResponse;
    for (const problem of problemsOf(
      r,
      req as unknown as http.IncomingMessage,
      res,
      type,
      body,
      true,
    )) {
      sink.push({ test: current, route, status: answer.status, problem });
    }
  });
}

/** The report the root hook fails the run with. */
export function report(violations: Violation[]): string {
  const lines = violations.map(
    (v) => `  ${v.route} answered ${v.status}: ${v.problem}\n    in: ${v.test}`,
  );
  return `${violations.length} answer(s) did not match their route's declaration:\n${lines.join('\n')}`;
}
