/**
 * The apps' hot read path, served before Express sees the request:
 *   GET /api/v1/tenants/{tenantId}/environments/{env}/configs        (the whole environment)
 *   GET /api/v1/tenants/{tenantId}/environments/{env}/configs/{key}  (one key)
 * A cached token and an in-process snapshot make a hit a handful of Map lookups and one write of
 * a pre-rendered buffer. Everything else (misses, read-your-writes waits) goes async. The same
 * routes follow changes live: `?wait=N` long polls, `Accept: text/event-stream` streams
 * (watch.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
// The module's binding, not the global: the global is a lazy accessor, a slow load per read.
import { performance } from 'node:perf_hooks';
import { authorize, canReveal, type Authenticator, type Principal } from '../../core/auth/auth.js';
import { HttpProblem, toProblem, writeProblem } from '../../core/http/problem.js';
import type { LaneAnswer, LaneRequest } from '../../core/http/fast-lane.js';
import { laneAnswer, laneProblem, notModifiedHeaders, okHeaders } from './hot-read.answers.js';
import {
  clientIdOf,
  etagMatches,
  matchHotRead,
  waitOf,
  type HotRequest,
  type Route,
} from './hot-read.request.js';
import type { HotReadCache } from './hot-read.cache.js';
import {
  envBody,
  keyBody,
  type CacheSource,
  type EnvSnapshot,
  type Rendered,
} from './env-snapshot.js';
import type { ProjectionProgress } from '../../core/projections/projection-progress.js';
import { minPositionOf } from '../../core/http/read-your-writes.js';
import { REDIS_CACHE_PROJECTION } from './redis-cache.projection.js';
import { RateLimits } from '../../core/http/rate-limits.js';
import { NAME_PATTERN } from '../tenants/tenants.schemas.js';
import { HOT_ROUTE_LABELS } from './hot-read.routes.js';
import { HOT_READ_LIMIT } from './hot-read.schemas.js';
import {
  WatchSlots,
  longPoll,
  stream,
  viewOf,
  type WatchObserver,
  type WatchTarget,
} from './watch.js';

const NAME = NAME_PATTERN;
const MAX_ROUTES = 10_000;

export const HOT_KEY_ROUTE = HOT_ROUTE_LABELS.key;
export const HOT_ENV_ROUTE = HOT_ROUTE_LABELS.environment;

export interface HotReadObserver {
  /** Called once per answered read, with the time spent and where the data came from. */
  served(
    durationMs: number,
    source: CacheSource | 'error',
    status: number,
    route: 'key' | 'environment',
  ): void;
}

/**
 * The caller of a connection's last hot read, with the route it was last allowed and its
 * rate-limit key, so that a hit re-checks and re-builds neither.
 */
interface Caller {
  header: string | undefined;
  apiKey: string | string[] | undefined;
  principal: Principal;
  /** The last route `authorize` let this caller read (routes are remembered objects). */
  allowed: Route | undefined;
  /** `RateLimits.key` for `limitTenant`. */
  limitKey: string;
  limitTenant: string | undefined;
}

const CALLER = Symbol('hot-read caller');
type CallerSocket = IncomingMessage['socket'] & { [CALLER]?: Caller };

/** What a read comes to, before it is written (through Node's response or the fast lane). */
type Answer =
  | { status: 200 | 304; route: Route; rendered: Rendered; source: CacheSource; problem?: never }
  | { status: 404; route: Route; problem: HttpProblem; rendered?: never; source?: never };

/** The 404 of a key that is not in the environment. */
const missing = (route: Route) =>
  new HttpProblem(404, 'Not found', `No configuration '${route.key}' in ${route.environment}`, {
    field: 'key',
  });

const kind = (route: Route | undefined): 'key' | 'environment' =>
  route?.key === undefined ? 'environment' : 'key';

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
  /**
   * The same, by the API key they were opened with: a revoked key's streams and long polls end
   * as soon as this replica hears of it (the client comes back and meets a 401).
   */
  const byKey = new Map<string, Set<() => void>>();
  auth.onApiKeyRevoked((keyId) => {
    for (const end of byKey.get(keyId) ?? []) end();
    byKey.delete(keyId);
  });
  /** Registers how to end a watch for shutdown (and revocation); returns its unregistration. */
  function watching(principal: Principal, end: () => void): () => void {
    open.add(end);
    const keyId = principal.keyId;
    if (keyId !== undefined) {
      let ends = byKey.get(keyId);
      if (!ends) byKey.set(keyId, (ends = new Set()));
      ends.add(end);
    }
    return () => {
      open.delete(end);
      if (keyId === undefined) return;
      const ends = byKey.get(keyId);
      ends?.delete(end);
      if (ends?.size === 0) byKey.delete(keyId);
    };
  }

  function target(req: IncomingMessage, route: Route, principal: Principal): WatchTarget {
    return {
      tenantId: route.tenantId,
      environment: route.environment,
      key: route.key,
      clientId: clientIdOf(req, route),
      reveal: canReveal(principal, route.tenantId, route.environment),
    };
  }

  /**
   * The snapshot this caller sees: the cached one, unless it holds encrypted values and the
   * caller may reveal them (then its decrypted twin; undefined while that is not built yet).
   * Environments without encrypted values pay one property check.
   */
  function shownNow(snap: EnvSnapshot, principal: Principal, route: Route) {
    if (!snap.sealed || !canReveal(principal, route.tenantId, route.environment)) return snap;
    return snap.revealed;
  }

  /** A 200 with the rendered body, or the 404 of a key that is not there. */
  function write(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    rendered: Rendered | undefined,
  ): void {
    if (!rendered) return writeProblem(res, missing(route));
    // Headers are built once per rendered body (flat [name, value, …] form).
    rendered.headers ??= okHeaders(rendered).flat();
    res.writeHead(200, rendered.headers);
    res.end(req.method === 'HEAD' ? undefined : rendered.body);
  }

  /** A conditional GET with `?wait=` whose ETag matches: answer when the view changes. */
  function park(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    etag: string,
    principal: Principal,
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
      res.writeHead(304, { ...notModifiedHeaders(etag), Connection: 'close' });
      res.end();
    };
    const unregister = watching(principal, end);
    res.on('close', unregister);
    longPoll(
      res,
      cache,
      target(req, route, principal),
      etag,
      // Never past the token's life: the next poll then meets the expiry (401).
      Math.max(0, Math.min(route.waitMs, principal.expiresAt - Date.now())),
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
    const t = target(req, route, principal);
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
    const unregister = watching(principal, end);
    stream(req, res, cache, t, principal.expiresAt, watchObserver, () => {
      unregister();
      slots.release();
      watchObserver?.closed('stream');
    });
  }

  /** The answer to a read of `snap`: the body, 304 for a matching If-None-Match, or 404. */
  function answerFrom(
    req: HotRequest,
    route: Route,
    snap: EnvSnapshot,
    source: CacheSource,
  ): Answer {
    // Which side of a canary a client is on matters only while one runs in the environment.
    const clientId = snap.canaries.size > 0 ? clientIdOf(req, route) : undefined;
    const rendered =
      route.key === undefined ? envBody(snap, clientId) : keyBody(snap, route.key, clientId);
    if (!rendered) return { status: 404, route, problem: missing(route) };
    const ifNoneMatch = req.headers['if-none-match'];
    const status = ifNoneMatch !== undefined && etagMatches(ifNoneMatch, rendered.etag) ? 304 : 200;
    return { status, route, rendered, source };
  }

  /** Writes an answer through Node's response (a matching conditional `?wait=` read parks). */
  function send(
    req: IncomingMessage,
    res: ServerResponse,
    answer: Answer,
    started: number,
    principal: Principal,
  ) {
    if (!answer.rendered) return fail(res, answer.problem, started, answer.route);
    const { route, rendered, status, source } = answer;
    if (status === 304) {
      // A long poll is not a read's latency: it is counted by the watch metrics instead.
      if (park(req, res, route, rendered.etag, principal)) return;
      res.writeHead(304, notModifiedHeaders(rendered.etag));
      res.end();
    } else {
      write(req, res, route, rendered);
    }
    observer?.served(performance.now() - started, source, status, kind(route));
  }

  function fail(res: ServerResponse, error: unknown, started: number, route?: Route) {
    const problem = toProblem(error);
    if (problem.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    writeProblem(res, problem);
    observer?.served(performance.now() - started, 'error', problem.status, kind(route));
  }

  /** The fast lane's bytes for an answer, counted like Node's. */
  function toLane(answer: Answer, started: number): LaneAnswer {
    if (!answer.rendered) return laneFailure(answer.problem, started, answer.route);
    observer?.served(performance.now() - started, answer.source, answer.status, kind(answer.route));
    return laneAnswer(answer.rendered, answer.status);
  }

  function laneFailure(error: unknown, started: number, route?: Route): LaneAnswer {
    const problem = toProblem(error);
    observer?.served(performance.now() - started, 'error', problem.status, kind(route));
    return laneProblem(problem);
  }

  const routes = new Map<string, Route>();

  /** The route under the environment's declared spelling (itself when the request used it). */
  const as = (route: Route, environment: string): Route =>
    environment === route.environment ? route : { ...route, environment, cacheKey: undefined };

  /** The route with its environment resolved; 404 naming the declared ones if undeclared. */
  async function declared(route: Route, fresh = false): Promise<Route> {
    const environment = await cache.environments.resolve(route.tenantId, route.environment, {
      fresh,
    });
    return as(route, environment);
  }

  /**
   * Keep-alive clients send the same credential on every request: remember the last caller per
   * connection (on the socket), so a hit compares one string instead of hashing the token. A
   * revoked API key is no longer valid (`stillValid`), so a connection lets go of it as soon as
   * its replica hears.
   */
  function callerOf(req: HotRequest): Caller | Promise<Caller> {
    const header = req.headers.authorization;
    const apiKey = req.headers['x-api-key'];
    const socket = req.socket as CallerSocket;
    const memo = socket[CALLER];
    if (
      memo !== undefined &&
      header === memo.header &&
      apiKey === memo.apiKey &&
      auth.stillValid(memo.principal)
    ) {
      return memo;
    }
    const remember = (principal: Principal): Caller => {
      const caller: Caller = {
        header,
        apiKey,
        principal,
        allowed: undefined,
        limitKey: '',
        limitTenant: undefined,
      };
      socket[CALLER] = caller;
      return caller;
    };
    const found = auth.authenticate(header, apiKey);
    return found instanceof Promise ? found.then(remember) : remember(found);
  }

  function limitKeyOf(caller: Caller, tenantId: string): string {
    if (caller.limitTenant !== tenantId) {
      caller.limitKey = RateLimits.key(caller.principal, tenantId);
      caller.limitTenant = tenantId;
    }
    return caller.limitKey;
  }

  /** Ends every open long poll and stream; new ones are refused (shutdown). */
  function shutdown(): void {
    closing = true;
    for (const end of [...open]) end();
  }

  /** The route a URL names (remembered once valid); throws a 400 problem for an invalid one. */
  function routeOf(url: string): Route | undefined {
    const cached = routes.get(url);
    if (cached) return cached;
    const route = matchHotRead(url);
    if (!route) return undefined;
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
    route.cacheKey = cache.envKey(route.tenantId, route.environment);
    if (routes.size >= MAX_ROUTES) routes.clear();
    routes.set(url, route);
    return route;
  }

  /** `Accept: text/event-stream` on a GET: the client follows the view (watch.ts). */
  const wantsStream = (req: HotRequest) =>
    req.method === 'GET' && req.headers.accept?.includes('text/event-stream') === true;

  return Object.assign(handle, { shutdown, lane });

  /** Returns false when the request is not a hot read (Express takes it). */
  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !req.url) return false;
    let route: Route | undefined;
    const started = performance.now();
    try {
      route = routeOf(req.url);
      if (!route) return false;
      const found = callerOf(req);
      if (found instanceof Promise) {
        // A credential not seen yet (an API key, a provider's key) is looked up first.
        const known = route;
        void found
          .then((caller) => serve(req, res, known, caller, started))
          .catch((error) => fail(res, error, started, known));
      } else {
        serve(req, res, route, found, started);
      }
    } catch (error) {
      // An invalid route (400) is still counted under the route it names.
      fail(res, error, started, route ?? matchHotRead(req.url));
    }
    return true;
  }

  /** A hot read by an authenticated caller; throws (synchronously) a problem to answer. */
  function serve(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    caller: Caller,
    started: number,
  ): void {
    allow(caller, route);
    if (wantsStream(req)) {
      void (async () => {
        await rateLimits?.take(HOT_READ_LIMIT, limitKeyOf(caller, route.tenantId));
        await openStream(req, res, await declared(route), caller.principal);
      })().catch((error) => fail(res, error, started, route));
      return;
    }
    const answer = find(req, route, caller);
    if (answer instanceof Promise) {
      answer
        .then((found) => send(req, res, found, started, caller.principal))
        .catch((error) => fail(res, error, started, route));
    } else {
      send(req, res, answer, started, caller.principal);
    }
  }

  /**
   * The fast lane's hot read (fast-lane.ts): the same answers as `handle`, as bytes; undefined
   * for what only Node's HTTP server can do (not a hot read, a `?wait=` read, which may park,
   * a stream).
   */
  function lane(req: LaneRequest): LaneAnswer | Promise<LaneAnswer> | undefined {
    const started = performance.now();
    let route: Route | undefined;
    try {
      route = routeOf(req.url);
      if (!route || route.waitMs !== undefined || wantsStream(req)) return undefined;
      const known = route;
      const found = callerOf(req);
      const answer =
        found instanceof Promise
          ? found.then((caller) => find(req, known, allow(caller, known)))
          : find(req, known, allow(found, known));
      return answer instanceof Promise
        ? answer.then(
            (late) => toLane(late, started),
            (error) => laneFailure(error, started, known),
          )
        : toLane(answer, started);
    } catch (error) {
      return laneFailure(error, started, route ?? matchHotRead(req.url));
    }
  }

  /** Authorizes a read once per caller and route (routes are remembered objects). */
  function allow(caller: Caller, route: Route): Caller {
    if (caller.allowed !== route) {
      authorize(caller.principal, 'read', route.tenantId, route.environment);
      caller.allowed = route;
    }
    return caller;
  }

  /**
   * The answer to an allowed read: from this process's snapshot when it holds one and nothing
   * asks to wait (no I/O), else after the rate limit, a read-your-writes wait and the cache.
   */
  function find(req: HotRequest, route: Route, caller: Caller): Answer | Promise<Answer> {
    const principal = caller.principal;
    const minPosition =
      route.query.includes('minPosition') || req.headers['x-min-position'] !== undefined
        ? minPositionOf(
            Object.fromEntries(new URLSearchParams(route.query)),
            req.headers['x-min-position'],
          )
        : undefined;
    // Usually a local lease covers it (no I/O); every 1 % of the limit it asks Redis.
    const limited = rateLimits?.take(HOT_READ_LIMIT, limitKeyOf(caller, route.tenantId));
    if (minPosition === undefined && limited === undefined) {
      // The environment under its declared spelling (a Map lookup), then its snapshot (the
      // route's own key when the request used that spelling: no string built on a hit).
      const environment = cache.environments.peek(route.tenantId, route.environment);
      const peeked = environment
        ? cache.peek(
            route.tenantId,
            environment,
            environment === route.environment ? route.cacheKey : undefined,
          )
        : undefined;
      const snap = peeked && shownNow(peeked, principal, as(route, environment as string));
      if (snap) return answerFrom(req, as(route, environment as string), snap, 'local');
    }
    return (async () => {
      await limited;
      if (minPosition !== undefined) {
        await progress.waitFor(minPosition, ['read-model'], [REDIS_CACHE_PROJECTION]);
      }
      const resolved = await declared(route, minPosition !== undefined);
      const { snapshot, source } = await cache.get(route.tenantId, resolved.environment, {
        bypassLocal: minPosition !== undefined,
      });
      const shown = canReveal(principal, route.tenantId, resolved.environment)
        ? await cache.revealed(snapshot)
        : snapshot;
      return answerFrom(req, resolved, shown, source);
    })();
  }
}
