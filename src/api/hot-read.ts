/**
 * The apps' hot read path, served before Express sees the request:
 *   GET /api/v1/tenants/{tenantId}/environments/{env}/configs        (the whole environment)
 *   GET /api/v1/tenants/{tenantId}/environments/{env}/configs/{key}  (one key)
 * A cached token and an in-process snapshot make a hit a handful of Map lookups and one write of
 * a pre-rendered buffer. Everything else (misses, read-your-writes waits) goes async. The same
 * routes follow changes live: `?wait=N` long polls, `Accept: text/event-stream` streams
 * (src/api/watch.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authorize, type Authenticator, type Principal } from './auth.js';
import { HttpProblem, toProblem, writeProblem } from './problem.js';
import {
  envBody,
  keyBody,
  type CacheSource,
  type EnvSnapshot,
  type HotReadCache,
  type Rendered,
} from '../queries/hot-read-cache.js';
import { minPositionOf, type ProjectionProgress } from '../queries/projection-progress.js';
import { REDIS_CACHE_PROJECTION } from '../../projections/redis-cache.js';
import { RateLimits } from './rate-limits.js';
import { HOT_ROUTES } from '../infrastructure/metrics.js';
import {
  MAX_WAIT_SECONDS,
  WatchSlots,
  longPoll,
  stream,
  viewOf,
  type WatchObserver,
  type WatchTarget,
} from './watch.js';

const PREFIX = '/api/v1/tenants/';
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$/;
const MAX_ROUTES = 10_000;

export const HOT_KEY_ROUTE = HOT_ROUTES.key;
export const HOT_ENV_ROUTE = HOT_ROUTES.environment;

export interface HotReadObserver {
  /** Called once per answered read, with the time spent and where the data came from. */
  served(
    durationMs: number,
    source: CacheSource | 'error',
    status: number,
    route: 'key' | 'environment',
  ): void;
}

interface Route {
  tenantId: string;
  environment: string;
  key: string | undefined;
  query: string;
  /** `?wait=` in ms: how long a conditional GET may wait for a change. */
  waitMs?: number;
}

const kind = (route: Route | undefined): 'key' | 'environment' =>
  route?.key === undefined ? 'environment' : 'key';

/** Parses the two hot-read routes; undefined for anything else. */
export function matchHotRead(url: string): Route | undefined {
  if (!url.startsWith(PREFIX)) return undefined;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const t = path.indexOf('/', PREFIX.length);
  if (t < 0 || !path.startsWith('/environments/', t)) return undefined;
  const envStart = t + '/environments/'.length;
  const e = path.indexOf('/', envStart);
  if (e < 0 || !path.startsWith('/configs', e)) return undefined;
  const rest = path.slice(e + '/configs'.length);
  let key: string | undefined;
  if (rest === '' || rest === '/') key = undefined;
  else if (rest[0] === '/') key = rest.slice(1);
  else return undefined;
  try {
    return {
      tenantId: decodeURIComponent(path.slice(PREFIX.length, t)),
      environment: decodeURIComponent(path.slice(envStart, e)),
      key: key === undefined ? undefined : decodeURIComponent(key),
      query: q < 0 ? '' : url.slice(q + 1),
    };
  } catch {
    return undefined;
  }
}

/** `X-Client-Id` or `?clientId=`: which side of a canary a client is on. Only read when needed. */
function clientIdOf(req: IncomingMessage, route: Route): string | undefined {
  const header = req.headers['x-client-id'];
  if (typeof header === 'string' && header) return utf8Header(header).slice(0, 200);
  if (!route.query.includes('clientId=')) return undefined;
  return new URLSearchParams(route.query).get('clientId')?.slice(0, 200) || undefined;
}

/**
 * Node reads header bytes as Latin-1; clients send UTF-8. Decoded, `X-Client-Id: pod-é` is the
 * same id as `?clientId=pod-%C3%A9` (and so on the same canary side). Bytes that are not UTF-8
 * are kept as they came.
 */
function utf8Header(value: string): string {
  if (/^[\x00-\x7f]*$/.test(value)) return value;
  const decoded = Buffer.from(value, 'latin1').toString('utf8');
  return decoded.includes('\ufffd') ? value : decoded;
}

/** `?wait=N` (whole seconds, 1..60); undefined when absent. */
function waitOf(query: string): number | undefined {
  if (!query.includes('wait=')) return undefined;
  const raw = new URLSearchParams(query).get('wait');
  if (raw === null) return undefined;
  const seconds = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(seconds >= 1 && seconds <= MAX_WAIT_SECONDS)) {
    throw new HttpProblem(
      400,
      'Invalid request',
      `wait must be a whole number of seconds from 1 to ${MAX_WAIT_SECONDS}`,
      { field: 'wait' },
    );
  }
  return seconds * 1000;
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header === etag || header === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

export function createHotReadHandler(deps: {
  auth: Authenticator;
  cache: HotReadCache;
  progress: ProjectionProgress;
  rateLimits?: RateLimits;
  observer?: HotReadObserver;
  /** Open long polls and streams per process (default 10,000). */
  maxWatchers?: number;
  watchObserver?: WatchObserver;
}) {
  const { auth, cache, progress, observer, rateLimits, watchObserver } = deps;
  const slots = new WatchSlots(deps.maxWatchers ?? 10_000);
  /** How to end each open long poll and stream at shutdown. */
  const open = new Set<() => void>();
  let closing = false;

  function target(req: IncomingMessage, route: Route): WatchTarget {
    return {
      tenantId: route.tenantId,
      environment: route.environment,
      key: route.key,
      clientId: clientIdOf(req, route),
    };
  }

  function write(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    rendered: Rendered | undefined,
  ): number {
    if (!rendered) {
      writeProblem(
        res,
        toProblem(
          new HttpProblem(
            404,
            'Not found',
            `No configuration '${route.key}' in ${route.environment}`,
            {
              field: 'key',
            },
          ),
        ),
      );
      return 404;
    }
    // Headers are built once per rendered body (flat [name, value, …] form).
    rendered.headers ??= [
      'Content-Type',
      'application/json; charset=utf-8',
      'Content-Length',
      String(rendered.body.length),
      'ETag',
      rendered.etag,
      'Cache-Control',
      'no-cache',
    ];
    res.writeHead(200, rendered.headers);
    res.end(req.method === 'HEAD' ? undefined : rendered.body);
    return 200;
  }

  /** A conditional GET with `?wait=` whose ETag matches: answer when the view changes. */
  function park(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    etag: string,
    tokenExpiresAt: number,
  ): boolean {
    if (!route.waitMs) return false;
    // No room (or shutting down): answer now, and say when to ask again, so that a client
    // does not come straight back.
    if (closing || !slots.take()) {
      res.setHeader('Retry-After', '5');
      return false;
    }
    watchObserver?.opened('long_poll');
    // At shutdown: "not modified" now; the client polls again (another replica).
    const end = () => {
      if (res.headersSent) return;
      res.writeHead(304, { ETag: etag, 'Cache-Control': 'no-cache', Connection: 'close' });
      res.end();
    };
    open.add(end);
    res.on('close', () => open.delete(end));
    longPoll(
      res,
      cache,
      target(req, route),
      etag,
      // Never past the token's life: the next poll then meets the expiry (401).
      Math.max(0, Math.min(route.waitMs, tokenExpiresAt - Date.now())),
      (view) => {
        if (!res.headersSent) write(req, res, route, view);
      },
      (pushed) => {
        slots.release();
        watchObserver?.closed('long_poll');
        if (pushed) watchObserver?.pushed('long_poll');
      },
    );
    return true;
  }

  /** `Accept: text/event-stream`: the view now and after every change. */
  async function openStream(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    principal: Principal,
  ) {
    const t = target(req, route);
    const { snapshot } = await cache.get(route.tenantId, route.environment);
    // The client may have gone while we waited: nothing to follow, nothing to hold.
    if (res.destroyed || req.socket.destroyed) return;
    if (route.key !== undefined && !viewOf(snapshot, t)) {
      write(req, res, route, undefined);
      return;
    }
    if (closing || !slots.take()) {
      res.setHeader('Retry-After', '5');
      throw new HttpProblem(
        503,
        'Too many watchers',
        'This instance follows as many clients as it may; retry',
      );
    }
    watchObserver?.opened('stream');
    // At shutdown the stream ends; the client reconnects (to another replica).
    const end = () => {
      res.end();
      res.socket?.end(); // the response never ends by itself: neither should its connection
    };
    open.add(end);
    stream(req, res, cache, t, principal.expiresAt, watchObserver, () => {
      open.delete(end);
      slots.release();
      watchObserver?.closed('stream');
    });
  }

  function respond(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    snap: EnvSnapshot,
    source: CacheSource,
    started: number,
    tokenExpiresAt: number,
  ) {
    // Which side of a canary a client is on matters only while one runs in the environment.
    const clientId = snap.canaries.size > 0 ? clientIdOf(req, route) : undefined;
    const rendered =
      route.key === undefined ? envBody(snap, clientId) : keyBody(snap, route.key, clientId);
    const ifNoneMatch = req.headers['if-none-match'];
    if (rendered && ifNoneMatch !== undefined && etagMatches(ifNoneMatch, rendered.etag)) {
      // A long poll is not a read's latency: it is counted by the watch metrics instead.
      if (park(req, res, route, rendered.etag, tokenExpiresAt)) return;
      res.writeHead(304, { ETag: rendered.etag, 'Cache-Control': 'no-cache' });
      res.end();
      observer?.served(performance.now() - started, source, 304, kind(route));
      return;
    }
    const status = write(req, res, route, rendered);
    // A 404 is a problem answer, counted like the others (not in the read latency).
    observer?.served(
      performance.now() - started,
      status === 200 ? source : 'error',
      status,
      kind(route),
    );
  }

  function fail(res: ServerResponse, error: unknown, started: number, route?: Route) {
    const problem = toProblem(error);
    if (problem.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    writeProblem(res, problem);
    observer?.served(performance.now() - started, 'error', problem.status, kind(route));
  }

  const routes = new Map<string, Route>();

  /**
   * Keep-alive clients send the same Authorization header on every request: remember the last one
   * per connection, so a hit compares one string instead of hashing the token.
   */
  const lastAuth = new WeakMap<object, { header: string; principal: Principal }>();
  function principalFor(req: IncomingMessage): Principal {
    const header = req.headers.authorization;
    const memo = lastAuth.get(req.socket);
    if (memo && header === memo.header && memo.principal.expiresAt > Date.now()) {
      return memo.principal;
    }
    const principal = auth.authenticate(header);
    lastAuth.set(req.socket, { header: header!, principal });
    return principal;
  }

  /** Returns false when the request is not a hot read (Express takes it). */
  /** Ends every open long poll and stream; new ones are refused (shutdown). */
  function shutdown(): void {
    closing = true;
    for (const end of [...open]) end();
  }

  return Object.assign(handle, { shutdown });

  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !req.url) return false;
    const cached = routes.get(req.url);
    const route = cached ?? matchHotRead(req.url);
    if (!route) return false;
    const started = performance.now();
    try {
      if (!cached) {
        // Only valid routes are remembered, so a remembered one needs no more checks.
        if (!NAME.test(route.tenantId)) {
          throw new HttpProblem(400, 'Invalid request', 'tenantId is not a valid tenant id', {
            field: 'tenantId',
          });
        }
        if (!NAME.test(route.environment)) {
          throw new HttpProblem(400, 'Invalid request', 'environment is not a valid environment', {
            field: 'environment',
          });
        }
        route.waitMs = waitOf(route.query);
        if (routes.size >= MAX_ROUTES) routes.clear();
        routes.set(req.url, route);
      }
      const principal = principalFor(req);
      authorize(principal, 'read', route.tenantId, route.environment);
      const accept = req.headers.accept;
      if (accept !== undefined && accept.includes('text/event-stream') && req.method === 'GET') {
        void (async () => {
          await rateLimits?.take('configGet', RateLimits.key(principal, route.tenantId));
          await openStream(req, res, route, principal);
        })().catch((error) => fail(res, error, started, route));
        return true;
      }
      const minPosition =
        route.query.includes('minPosition') || req.headers['x-min-position'] !== undefined
          ? minPositionOf(
              Object.fromEntries(new URLSearchParams(route.query)),
              req.headers['x-min-position'],
            )
          : undefined;
      // Usually a local lease covers it (no I/O); every 1 % of the limit it asks Redis.
      const limited = rateLimits?.take('configGet', RateLimits.key(principal, route.tenantId));
      if (minPosition === undefined && limited === undefined) {
        const snap = cache.peek(route.tenantId, route.environment);
        if (snap) {
          respond(req, res, route, snap, 'local', started, principal.expiresAt);
          return true;
        }
      }
      void (async () => {
        await limited;
        if (minPosition !== undefined) {
          await progress.waitFor(minPosition, ['read-model'], [REDIS_CACHE_PROJECTION]);
        }
        const { snapshot, source } = await cache.get(route.tenantId, route.environment, {
          bypassLocal: minPosition !== undefined,
        });
        respond(req, res, route, snapshot, source, started, principal.expiresAt);
      })().catch((error) => fail(res, error, started, route));
    } catch (error) {
      fail(res, error, started, route);
    }
    return true;
  }
}
