/**
 * The Express app: request plumbing (body parsing and its refusals, correlation and trace ids,
 * HTTP metrics), the public routes, the OpenAPI document and Swagger UI, then the API under
 * /api/v1 behind the bearer token, and problem+json for everything that fails.
 */
import express, { type Request, type RequestHandler } from 'express';
import type { Services } from '../../composition.js';
import type { Queues } from '../jobs/queues.js';
import { MAX_JSON_DEPTH, unstorablePath } from '../../features/configs/config-values.js';
import { HttpProblem, badRequest, errorHandler } from './problem.js';
import { correlationIdOf, traceIdOf } from './request-context.js';
import { mountRoutes } from './register.js';
import { accessLog, commandLog } from './access-log.js';
import { openApiRouter } from './swagger-ui.js';
import { isRawRequest, type AnyRoute } from './route.js';

/** A NUL in the path or query cannot be stored or even compared by PostgreSQL. */
const refuseNul: RequestHandler = (req, _res, next) => {
  if (!/%00/i.test(req.url)) return next();
  const inPath = /%00/i.test(req.url.split('?')[0]!);
  next(badRequest([{ field: inPath ? '(path)' : '(query)', message: 'contains a NUL character' }]));
};

const isJson = (contentType: string | undefined) => {
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return mediaType === 'application/json' || /^application\/[^/]+\+json$/.test(mediaType);
};

/**
 * Whether a route declaring `raw` takes this request's body unread (so neither the JSON parser
 * nor the media type check below touch it).
 */
function rawBodies(routes: readonly AnyRoute[]) {
  const raw = routes.flatMap((r) =>
    r.request?.raw
      ? [
          {
            spec: r.request.raw,
            method: r.method.toUpperCase(),
            // Express matches case-insensitively and allows a trailing slash.
            path: new RegExp(`^${r.path.replace(/:[A-Za-z_]\w*/g, '[^/]+')}/?$`, 'i'),
          },
        ]
      : [],
  );
  return (req: Request) =>
    raw.some(
      (r) =>
        r.method === req.method && r.path.test(req.path) && isRawRequest(r.spec, req) !== undefined,
    );
}

/** A body in another format would be read as no body at all: say so instead. */
const refuseOtherMediaTypes =
  (isRaw: (req: Request) => boolean): RequestHandler =>
  (req, _res, next) => {
    const hasBody =
      Number(req.headers['content-length'] ?? 0) > 0 ||
      req.headers['transfer-encoding'] !== undefined;
    if (!hasBody || req.is('application/json') || req.is('application/*+json') || isRaw(req)) {
      return next();
    }
    next(
      new HttpProblem(415, 'Unsupported media type', 'The body must be application/json', {
        field: '(body)',
      }),
    );
  };

/** Text the event store cannot keep (NUL, unpaired surrogates) is refused, naming the field. */
const refuseUnstorableText: RequestHandler = (req, _res, next) => {
  const bad = unstorablePath(req.body);
  if (bad === undefined) return next();
  next(
    badRequest([
      {
        field: bad.path || '(body)',
        message:
          bad.why === 'text'
            ? 'contains a NUL or an unpaired surrogate character, which cannot be stored'
            : `is nested more than ${MAX_JSON_DEPTH} levels deep`,
      },
    ]),
  );
};

export function buildApp(options: {
  services: Services;
  queues: Queues;
  routes: readonly AnyRoute[];
  /** Mounted before the API, outside the document (the queue dashboard). */
  extra?: [path: string, ...handlers: RequestHandler[]][];
}): express.Express {
  const s = options.services;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // Client IPs for the audit trail: trust X-Forwarded-For only from private-network proxies.
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.use(refuseNul);
  const isRaw = rawBodies(options.routes);
  app.use(
    express.json({
      limit: '1mb',
      type: (req) => isJson(req.headers['content-type']) && !isRaw(req as Request),
    }),
  );
  app.use(refuseOtherMediaTypes(isRaw));
  app.use(refuseUnstorableText);
  app.use((req, res, next) => {
    res.locals.correlationId = correlationIdOf(req);
    res.locals.traceId = traceIdOf(req);
    res.setHeader('X-Correlation-Id', res.locals.correlationId as string);
    next();
  });
  app.use(accessLog(s.logger, s.settings.accessLogSampleRate));
  app.use((req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      const route = req.route ? `${req.baseUrl}${req.route.path as string}` : 'unmatched';
      s.metrics.http(req.method, route, res.statusCode, (performance.now() - started) / 1000);
    });
    next();
  });
  app.use(openApiRouter(options.routes));
  for (const [path, ...handlers] of options.extra ?? []) app.use(path, ...handlers);
  // Every API route needs a token (unknown ones too: 401 before 404).
  app.use('/api/v1', async (req, res, next) => {
    res.locals.principal = await s.auth.authenticate(
      req.headers.authorization,
      req.headers['x-api-key'],
    );
    next();
  });
  app.use('/api/v1', commandLog(s.logger));
  mountRoutes(app, options.routes, { s, queues: options.queues });
  app.use((req) => {
    throw new HttpProblem(404, 'Not found', `No route for ${req.method} ${req.path}`);
  });
  app.use(errorHandler((error) => s.logger.error({ err: error }, 'request failed')));
  return app;
}
