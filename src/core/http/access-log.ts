/**
 * What the API logs per request, as JSON lines:
 *
 * - the access log (pino-http) of every request Express serves, with its request id (the
 *   X-Correlation-Id it answers with), a share of them (ConfigService__AccessLogSampleRate);
 *   server errors always;
 * - one line per command (every write under /api/v1), always: who, what, the outcome and its
 *   event position, or the problem that refused it;
 * - the hot read path logs a share of its reads (ConfigService__HotReadLogSampleRate, 0 by
 *   default): at 0 it costs one comparison per read, so the read path stays as fast as it is.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler, Response } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../observability/logger.js';
import { soleTenant, type Principal } from '../auth/auth.js';

/** A URL fit for a log: a dashboard token in the query is not. */
const safeUrl = (url: string | undefined) =>
  url?.replace(/([?&]access_token=)[^&]*/gi, '$1[redacted]');

const serializers = {
  req: (req: IncomingMessage & { id?: unknown; originalUrl?: string }) => ({
    id: req.id,
    method: req.method,
    url: safeUrl(req.originalUrl ?? req.url),
    remoteAddress: req.socket?.remoteAddress,
    userAgent: req.headers?.['user-agent'],
  }),
  res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
};

const message = (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse) =>
  `${req.method} ${safeUrl(req.originalUrl ?? req.url)} ${res.statusCode}`;

/** pino-http over the service's logger; the request id is the correlation id. */
export function accessLog(logger: Logger, sampleRate: number): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: (_req, res) => (res as unknown as Response).locals.correlationId as string,
    serializers,
    wrapSerializers: false,
    customLogLevel: (_req, res, error) => {
      // 503 is an answer (retry later: the database away, the read side behind), not a fault.
      if (res.statusCode === 503) return 'info';
      if (error || res.statusCode >= 500) return 'error';
      if (sampleRate < 1 && !(Math.random() < sampleRate)) return 'silent';
      // A client's 4xx is no fault of ours: info, like the rest.
      return 'info';
    },
    customSuccessMessage: (req, res) => message(req, res),
    customErrorMessage: (req, res) => message(req, res),
  }) as unknown as RequestHandler;
}

/** One line per command (a write under /api/v1), whatever the sampling of the access log. */
export function commandLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    const started = performance.now();
    res.on('finish', () => {
      const principal = res.locals.principal as Principal | undefined;
      const position = res.getHeader('X-Event-Position');
      const entry = {
        command: `${req.method} ${req.route ? `${req.baseUrl}${req.route.path as string}` : req.path}`,
        status: res.statusCode,
        userId: principal?.userId,
        tenantId: principal ? soleTenant(principal) : undefined,
        correlationId: res.locals.correlationId,
        ms: Math.round(performance.now() - started),
        ...(position !== undefined ? { position: String(position) } : {}),
        ...(res.locals.problem ? { problem: res.locals.problem } : {}),
      };
      if (res.statusCode >= 500 && res.statusCode !== 503) logger.error(entry, 'command failed');
      else if (res.statusCode >= 400) logger.info(entry, 'command refused');
      else logger.info(entry, 'command done');
    });
    next();
  };
}

/** The hot read path's share of logged reads: decided before the read, logged when answered. */
export function hotReadLog(logger: Logger, sampleRate: number) {
  const line = (
    req: Pick<IncomingMessage, 'method' | 'url' | 'headers' | 'socket'>,
    statusCode: number,
    started: number,
  ) =>
    logger.info(
      {
        req: serializers.req(req as IncomingMessage),
        res: { statusCode },
        responseTime: Math.round((performance.now() - started) * 1000) / 1000,
        sampleRate,
      },
      `${req.method} ${safeUrl(req.url)} ${statusCode} (hot read)`,
    );
  return Object.assign(
    (req: IncomingMessage, res: ServerResponse, started: number) => {
      res.once('finish', () => line(req, res.statusCode, started));
    },
    {
      /** A read the fast lane answered (fast-lane.ts): written already. */
      lane: line,
    },
  );
}
