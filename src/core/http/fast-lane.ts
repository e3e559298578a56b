/**
 * The fast lane: a connection whose requests are hot reads is served here, without Node's HTTP
 * parser and its request and response objects (ConfigService__HotReadFastLane, on by default).
 * Measured on this project's 2-core VM (bench/README.md), Node's http machinery costs more per
 * read than the read itself; in a process as large as the API it runs megamorphic.
 *
 * The lane takes only what it can read without doubt: whole requests in the bytes received, each
 * `GET` or `HEAD` with an origin-form target, `HTTP/1.1`, a Host header, no body (no
 * Content-Length but 0, no Transfer-Encoding), no Expect, no Upgrade, nothing but CRLF line ends
 * and visible characters, no header given twice. Anything else — another method or route, a
 * request split across reads, a long poll, a stream, `Connection: close` — and the lane hands the
 * connection to Node's HTTP server with the unread bytes put back, at a request boundary: Node
 * then serves it as if it had had it from the start, and keeps it. Requests are answered in
 * order: while one waits (a cache miss, a rate-limit lease from Redis) the socket is paused.
 */
import type { Socket } from 'node:net';
import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface LaneRequest {
  method: 'GET' | 'HEAD';
  /** The request target as sent (origin form). */
  url: string;
  /** Lower-cased names, values trimmed, as Node's `req.headers` has them (each a string). */
  headers: IncomingHttpHeaders;
  socket: Socket;
}

export interface LaneAnswer {
  /** Status line and headers, each line ending CRLF (see `laneHead`); Date and Connection follow. */
  head: Buffer;
  /** Sent unless the request was a HEAD. */
  body?: Buffer;
  status: number;
}

/** An answer now, later, or `undefined`: not the lane's (Node's HTTP server takes the connection). */
export type LaneHandler = (req: LaneRequest) => LaneAnswer | Promise<LaneAnswer> | undefined;

export interface LaneOptions {
  handler: LaneHandler;
  /** Gives the connection to Node's HTTP server; the unread bytes were put back on it. */
  handOff: (socket: Socket) => void;
  /** The server is shutting down: answer what was asked, then close. */
  closing: () => boolean;
  /** Idle time before a kept-alive connection is closed (the server's keepAliveTimeout). */
  keepAliveTimeout: number;
  /** Called after each answer is written, with when its request was read (access-log sampling). */
  answered?: (req: LaneRequest, answer: LaneAnswer, started: number) => void;
}

/** `HTTP/1.1 <status> <reason>` and the headers, as the lane writes them. */
export function laneHead(status: number, headers: readonly (readonly [string, string])[]): Buffer {
  let text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return Buffer.from(text, 'latin1');
}

const BUSY = Symbol('fast lane busy');
type LaneSocket = Socket & { [BUSY]?: boolean };

/** True while the lane holds an answer for this connection that is not written yet. */
export const laneBusy = (socket: Socket): boolean => (socket as LaneSocket)[BUSY] === true;

/** Node's own limit on a request's head (`--max-http-header-size`, 16 KiB). */
const MAX_HEAD = 16 * 1024;
/** Bytes that are not in a header line (LF included; CR is looked for apart, as the split is on CRLF). */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
/** A header name: an RFC 9110 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** An origin-form target: visible ASCII only. */
const TARGET = /^\/[\x21-\x7e]*$/;
/** Headers whose presence says this request is not a plain bodiless read. */
const NOT_OURS = new Set(['transfer-encoding', 'expect', 'upgrade', 'proxy-connection']);
/** Whitespace around a field value: SP and HTAB only, as Node (`trim()` takes NBSP too). */
const OWS = /^[ \t]+|[ \t]+$/g;

/** One request from `buf` at `from`, the offset after it, or undefined when it is not the lane's. */
export function parseRequest(
  buf: Buffer,
  from: number,
  socket: Socket,
): { req: LaneRequest; next: number } | undefined {
  const end = buf.indexOf('\r\n\r\n', from, 'latin1');
  if (end < 0 || end - from > MAX_HEAD) return undefined;
  const head = buf.toString('latin1', from, end);
  let eol = head.indexOf('\r\n');
  const line = eol < 0 ? head : head.slice(0, eol);
  const method = line.startsWith('GET ') ? 'GET' : line.startsWith('HEAD ') ? 'HEAD' : undefined;
  if (method === undefined || !line.endsWith(' HTTP/1.1')) return undefined;
  const url = line.slice(method.length + 1, line.length - 9);
  if (!TARGET.test(url)) return undefined;
  const headers: Record<string, string> = {};
  while (eol >= 0) {
    const start = eol + 2;
    eol = head.indexOf('\r\n', start);
    const field = eol < 0 ? head.slice(start) : head.slice(start, eol);
    const colon = field.indexOf(':');
    // No obsolete line folding, no stray CR or LF, no space before the colon.
    if (colon <= 0 || CONTROL.test(field) || field.includes('\r')) return undefined;
    const raw = field.slice(0, colon);
    if (!TOKEN.test(raw)) return undefined;
    const name = raw.toLowerCase();
    if (headers[name] !== undefined || NOT_OURS.has(name)) return undefined;
    headers[name] = field.slice(colon + 1).replace(OWS, '');
  }
  if (!headers.host) return undefined;
  const length = headers['content-length'];
  if (length !== undefined && length !== '0') return undefined;
  // `Connection: close` (and any other wish about the connection) is Node's to honour.
  const connection = headers.connection;
  if (connection !== undefined && connection.toLowerCase() !== 'keep-alive') return undefined;
  return { req: { method, url, headers: headers as IncomingHttpHeaders, socket }, next: end + 4 };
}

/** Date and Connection lines, shared by every answer written within the same second. */
class Trailers {
  private second = 0;
  private keep = Buffer.alloc(0);
  private close = Buffer.alloc(0);
  constructor(private readonly keepAliveSeconds: number) {}

  get(keepAlive: boolean): Buffer {
    const now = Date.now();
    const second = now - (now % 1000);
    if (second !== this.second) {
      this.second = second;
      const date = `Date: ${new Date(second).toUTCString()}\r\n`;
      this.keep = Buffer.from(
        `${date}Connection: keep-alive\r\nKeep-Alive: timeout=${this.keepAliveSeconds}\r\n\r\n`,
        'latin1',
      );
      this.close = Buffer.from(`${date}Connection: close\r\n\r\n`, 'latin1');
    }
    return keepAlive ? this.keep : this.close;
  }
}

const trailersBy = new Map<number, Trailers>();
const trailersOf = (keepAliveSeconds: number): Trailers => {
  let trailers = trailersBy.get(keepAliveSeconds);
  if (!trailers) trailersBy.set(keepAliveSeconds, (trailers = new Trailers(keepAliveSeconds)));
  return trailers;
};

/** Serves `socket` in the lane until it closes or is handed to Node's HTTP server. */
export function serveLane(socket: Socket, options: LaneOptions): void {
  const { handler, handOff, closing, answered } = options;
  const trailers = trailersOf(Math.floor(options.keepAliveTimeout / 1000));
  const lane = socket as LaneSocket;
  /** Still the lane's (not handed to Node's HTTP server). */
  let mine = true;
  /** The client sent its last byte: end ours once every answer is written (http's half-close). */
  let ended = false;

  const onData = (chunk: Buffer) => serve(chunk, 0);
  const onEnd = () => {
    ended = true;
    if (!lane[BUSY]) socket.end();
  };
  const onError = () => socket.destroy();
  // Idle means nothing awaited and nothing still to send (a slow reader of a large answer is
  // not idle; the timer runs again once its bytes are out).
  const onTimeout = () => {
    if (!lane[BUSY] && socket.writableLength === 0) socket.destroy();
  };
  const onDrain = () => {
    if (mine && !lane[BUSY]) socket.resume();
  };
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('error', onError);
  socket.on('timeout', onTimeout);
  socket.setTimeout(options.keepAliveTimeout);

  function toNode(buf: Buffer, from: number) {
    mine = false;
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.removeListener('error', onError);
    socket.removeListener('timeout', onTimeout);
    socket.removeListener('drain', onDrain);
    socket.setTimeout(0);
    if (from < buf.length) socket.unshift(buf.subarray(from));
    // Node's parser reads only a flowing socket (this one may wait for a drain). The resume
    // takes effect on the next tick, after Node's listeners are on.
    if (socket.isPaused()) socket.resume();
    handOff(socket);
  }

  /** Writes an answer; false when the connection is to close after it. */
  function write(req: LaneRequest, answer: LaneAnswer, started: number): boolean {
    const keepAlive = !closing();
    socket.cork();
    socket.write(answer.head);
    socket.write(trailers.get(keepAlive));
    if (answer.body !== undefined && req.method === 'GET') socket.write(answer.body);
    socket.uncork();
    answered?.(req, answer, started);
    // As Node does after its last answer: out, then closed (whatever the client does).
    if (!keepAlive) socket.destroySoon();
    return keepAlive;
  }

  /** Answers the requests in `buf` from `from` on, in order. */
  function serve(buf: Buffer, from: number): void {
    let at = from;
    while (at < buf.length) {
      if (socket.destroyed) return;
      const parsed = parseRequest(buf, at, socket);
      if (!parsed) return toNode(buf, at);
      const started = answered ? performance.now() : 0;
      let answer: ReturnType<LaneHandler>;
      try {
        answer = handler(parsed.req);
      } catch {
        answer = undefined;
      }
      if (answer === undefined) return toNode(buf, at);
      if (answer instanceof Promise) {
        wait(parsed.req, answer, buf, parsed.next, started);
        return;
      }
      if (!write(parsed.req, answer, started)) return;
      at = parsed.next;
    }
    // A client that does not read its answers is not read from either, until it does.
    if (socket.writableNeedDrain) {
      socket.pause();
      socket.once('drain', onDrain);
    }
  }

  /**
   * An answer that is not ready: the bytes after its request go back on the socket, which is
   * paused until the answer is written. Kept on the stream, they are read again in order, and a
   * client's end is not seen before them (a stream takes no unshift after its 'end').
   */
  function wait(
    req: LaneRequest,
    answer: Promise<LaneAnswer>,
    buf: Buffer,
    rest: number,
    started: number,
  ) {
    lane[BUSY] = true;
    socket.pause();
    if (rest < buf.length) socket.unshift(buf.subarray(rest));
    answer.then(
      (late) => {
        lane[BUSY] = false;
        if (socket.destroyed || !write(req, late, started)) return;
        if (ended) socket.end();
        else if (socket.writableNeedDrain) socket.once('drain', onDrain);
        else socket.resume();
      },
      () => {
        // The handler answers its own failures; one that escapes ends the connection.
        lane[BUSY] = false;
        socket.destroy();
      },
    );
  }
}
