/**
 * The HTTP server: the hot read path first (it answers its routes before Express sees them),
 * Express for the rest, and a shutdown that lets answers in flight finish. With a fast lane
 * (fast-lane.ts), connections start there and are handed to Node's HTTP server at their first
 * request that is not a plain hot read.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';
import {
  laneBusy,
  serveLane,
  type LaneAnswer,
  type LaneHandler,
  type LaneRequest,
} from './fast-lane.js';

export interface HttpServer {
  server: http.Server;
  /**
   * Stops taking connections and lets requests in flight finish (a write whose answer is lost
   * would be retried as a conflict), for at most `graceMs`; `beforeWait` ends what must not be
   * waited for (long polls and streams, whose clients come back to another replica).
   */
  close(graceMs: number, beforeWait: () => void): Promise<void>;
  /**
   * Sees every answer the fast lane writes on connections opened from now on (the tests' check
   * of answers against their declarations); nothing is called per read without one.
   */
  observeLane(observer: (req: LaneRequest, answer: LaneAnswer) => void): void;
}

export function createHttpServer(
  app: Express,
  hotRead: (req: http.IncomingMessage, res: http.ServerResponse) => boolean,
  /** Access-logs this share of hot reads (ConfigService__HotReadLogSampleRate). */
  hotReadLog?: {
    rate: number;
    log: ((req: http.IncomingMessage, res: http.ServerResponse, started: number) => void) & {
      lane: (req: LaneRequest, status: number, started: number) => void;
    };
  },
  /** The hot read path's fast lane (ConfigService__HotReadFastLane); none: Node's HTTP only. */
  lane?: LaneHandler,
): HttpServer {
  const rate = hotReadLog?.rate ?? 0;
  function answerHot(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    // Sampling off (the default): one comparison, nothing else on the read path.
    const sampled = rate > 0 && Math.random() < rate ? performance.now() : 0;
    if (!hotRead(req, res)) return false;
    if (sampled) hotReadLog!.log(req, res, sampled);
    return true;
  }
  // Requests without a `traceparent` were offered to the hot read path in `emit` below already.
  const server = http.createServer((req, res) => {
    if (req.headers.traceparent === undefined || !answerHot(req, res)) app(req, res);
  });
  server.keepAliveTimeout = 65_000;
  // Open connections and the answers in flight, so that a shutdown can close each connection
  // as soon as it is idle (Node's closeIdleConnections misses connections whose client went
  // quiet). A connection is busy while one of its answers is in `answering`, or while the fast
  // lane awaits one of its answers.
  const sockets = new Set<Socket>();
  const answering = new Set<http.ServerResponse>();
  let closing = false;
  const busy = (socket: Socket) =>
    laneBusy(socket) || [...answering].some((r) => r.socket === socket);
  const remember = (socket: Socket) => {
    if (sockets.has(socket)) return; // a connection the lane handed over
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  server.on('connection', remember);
  // http.Server#close calls this, and Node's own destroys a connection whose answer has ended
  // but is still in the socket's buffer (a slow reader of a large answer loses its tail). Ours
  // closes only idle connections, and lets buffered bytes out first.
  server.closeIdleConnections = () => {
    for (const socket of sockets) if (!busy(socket)) socket.destroySoon();
  };
  // One function for every answer, no closure per request. 'close' comes after 'finish' (on the
  // next tick) and when the connection goes first, so it alone says the answer is no longer out.
  function track(res: http.ServerResponse) {
    answering.add(res);
    res.on('close', finished);
  }
  function finished(this: http.ServerResponse) {
    if (!answering.delete(this)) return;
    const socket = this.req.socket;
    if (closing && !busy(socket)) socket.destroySoon();
  }
  // The hot read path answers in the server's own `emit`, before the 'request' listeners and
  // before what wraps them: OpenTelemetry's HTTP instrumentation patches http.Server's emit to
  // open a span per request, which would cost the hot path more than the read itself. A caller
  // that sends a `traceparent` is part of a trace: its read goes the ordinary way, traced.
  const inherited = server.emit;
  // A traced caller's reads go Node's way, like any request with a `traceparent` (see below).
  const laneHandler: LaneHandler | undefined =
    lane && ((req) => (req.headers.traceparent === undefined ? lane(req) : undefined));
  const handOff = (socket: Socket) => Reflect.apply(inherited, server, ['connection', socket]);
  let observer: ((req: LaneRequest, answer: LaneAnswer) => void) | undefined;
  /** After each lane answer: the observer, the sampled access log (given only when either is on). */
  const answered = (req: LaneRequest, answer: LaneAnswer, started: number) => {
    observer?.(req, answer);
    if (rate > 0 && Math.random() < rate) hotReadLog!.log.lane(req, answer.status, started);
  };
  server.emit = function emit(this: http.Server, event: string | symbol): boolean {
    if (event === 'connection' && laneHandler) {
      // eslint-disable-next-line prefer-rest-params
      const socket = arguments[1] as Socket;
      remember(socket);
      serveLane(socket, {
        handler: laneHandler,
        handOff,
        closing: () => closing,
        keepAliveTimeout: server.keepAliveTimeout,
        ...(rate > 0 || observer ? { answered } : {}),
      });
      return true;
    }
    if (event === 'request') {
      // eslint-disable-next-line prefer-rest-params
      const req = arguments[1] as http.IncomingMessage;
      // eslint-disable-next-line prefer-rest-params
      const res = arguments[2] as http.ServerResponse;
      // While closing, every answer says so: a client must not queue its next request here.
      if (closing) res.shouldKeepAlive = false;
      if (req.headers.traceparent === undefined && answerHot(req, res)) {
        // Most hot reads are written to the kernel before answerHot returns: nothing is left
        // for a shutdown to wait for, so they skip the bookkeeping (a Set and a listener).
        if (!res.writableFinished) track(res);
        return true;
      }
      track(res);
    }
    // eslint-disable-next-line prefer-rest-params
    return Reflect.apply(inherited, this, arguments) as boolean;
  } as typeof server.emit;
  return {
    server,
    observeLane(next) {
      observer = next;
    },
    async close(graceMs, beforeWait) {
      closing = true;
      // Answers still to come close their connection, so no request is queued behind them.
      for (const res of answering) if (!res.headersSent) res.shouldKeepAlive = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      beforeWait();
      // Idle connections went in server.close() (our closeIdleConnections above); busy ones go
      // as soon as their answer is out. Past the grace, all of them, the lane's included.
      const force = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      await closed;
      clearTimeout(force);
    },
  };
}
