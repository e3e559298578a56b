/**
 * HTTP/1.1 over a bare socket, for the fast lane's tests (src/core/http/fast-lane.ts): exact
 * bytes out, every response back as sent, and a server with the lane on or off to compare.
 */
import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { createHttpServer } from '../../src/core/http/server.js';
import { laneHead, type LaneRequest, type LaneAnswer } from '../../src/core/http/fast-lane.js';

export interface Parsed {
  status: number;
  statusLine: string;
  headers: Record<string, string[]>;
  rawHead: string;
  body: string;
}

/** Parses HTTP/1.1 responses from `data`; `methods` says which are answers to HEAD. */
export function parseResponses(
  data: Buffer,
  methods: string[] = [],
): { responses: Parsed[]; rest: number } {
  const responses: Parsed[] = [];
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at, 'latin1');
    if (end < 0) break;
    const rawHead = data.toString('latin1', at, end);
    const lines = rawHead.split('\r\n');
    const statusLine = lines[0]!;
    const status = Number(statusLine.split(' ')[1]);
    const headers: Record<string, string[]> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      const n = l.slice(0, c).toLowerCase();
      (headers[n] ??= []).push(l.slice(c + 1).trim());
    }
    const bodyStart = end + 4;
    const method = methods[responses.length] ?? 'GET';
    let len = 0;
    if (status === 100) len = 0;
    else if (method === 'HEAD' || status === 304 || status === 204) len = 0;
    else if (headers['content-length']) len = Number(headers['content-length'][0]);
    else if (headers['transfer-encoding']?.[0] === 'chunked') {
      // minimal chunked decoder
      let p = bodyStart;
      let body = '';
      for (;;) {
        const e = data.indexOf('\r\n', p, 'latin1');
        if (e < 0) return { responses, rest: at };
        const size = parseInt(data.toString('latin1', p, e), 16);
        if (data.length < e + 2 + size + 2) return { responses, rest: at };
        body += data.toString('latin1', e + 2, e + 2 + size);
        p = e + 2 + size + 2;
        if (size === 0) break;
      }
      responses.push({ status, statusLine, headers, rawHead, body });
      at = p;
      continue;
    }
    if (data.length < bodyStart + len) break;
    responses.push({
      status,
      statusLine,
      headers,
      rawHead,
      body: data.toString('latin1', bodyStart, bodyStart + len),
    });
    at = bodyStart + len;
  }
  return { responses, rest: at };
}

export interface Exchange {
  socket: net.Socket;
  raw: Buffer;
  responses: Parsed[];
  closed: boolean;
}

/**
 * Connects, writes each chunk (waiting `gapMs` between), and collects what comes back until
 * `expect` responses are read and `settleMs` passed without data, or the server closes.
 */
export async function exchange(
  port: number,
  chunks: (string | Buffer)[],
  opts: {
    gapMs?: number;
    settleMs?: number;
    methods?: string[];
    end?: boolean;
    totalMs?: number;
    /** Stop as soon as this many responses are read (no settling). */
    count?: number;
    /** Leave the connection open (the caller destroys `socket`). */
    keepOpen?: boolean;
  } = {},
): Promise<Exchange> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const got: Buffer[] = [];
  let closed = false;
  let last = Date.now();
  socket.on('data', (d) => {
    got.push(d);
    last = Date.now();
  });
  const done = new Promise<void>((r) =>
    socket.once('close', () => {
      closed = true;
      r();
    }),
  );
  socket.on('error', () => undefined);
  for (const c of chunks) {
    socket.write(c);
    await new Promise((r) => setTimeout(r, opts.gapMs ?? 50));
  }
  if (opts.end) socket.end();
  const settle = opts.settleMs ?? 200;
  const deadline = Date.now() + (opts.totalMs ?? 2000);
  const enough = () =>
    opts.count !== undefined &&
    parseResponses(Buffer.concat(got), opts.methods).responses.length >= opts.count;
  while (
    !closed &&
    Date.now() < deadline &&
    (opts.count !== undefined ? !enough() : Date.now() - last < settle)
  ) {
    await Promise.race([done, new Promise((r) => setTimeout(r, 20))]);
  }
  if (!opts.keepOpen) socket.destroy();
  const raw = Buffer.concat(got);
  return { socket, raw, responses: parseResponses(raw, opts.methods).responses, closed };
}

export interface Started {
  port: number;
  server: http.Server;
  appSeen: { method: string; url: string; body: string; headers: http.IncomingHttpHeaders }[];
  laneSeen: LaneRequest[];
  close: (graceMs?: number) => Promise<void>;
  /** Connections Node's HTTP server was given (by the lane, or all of them without it). */
  handedOver: () => number;
}

export const BODY = Buffer.from('{"lane":true}');
let big: Buffer | undefined;
/** `/big`: 16 MiB, more than the kernel's buffers hold for a client that does not read. */
export const bigBody = () => (big ??= Buffer.alloc(16 * 1024 * 1024, 'b'));
export const laneAnswer = (): LaneAnswer => ({
  status: 200,
  head: laneHead(200, [
    ['Content-Type', 'application/json; charset=utf-8'],
    ['Content-Length', String(BODY.length)],
    ['ETag', '"7"'],
    ['Cache-Control', 'no-cache'],
  ]),
  body: BODY,
});

/**
 * A server with a fake app (echoes method, url and body as JSON), a Node-path hot read that
 * answers /hot* the same way the lane does, and a lane that takes /hot (sync) and /slow (async).
 */
export async function start(withLane = true, keepAliveTimeout?: number): Promise<Started> {
  const appSeen: Started['appSeen'] = [];
  const laneSeen: LaneRequest[] = [];
  const app = ((req: http.IncomingMessage, res: http.ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('latin1');
      appSeen.push({ method: req.method!, url: req.url!, body, headers: req.headers });
      const out = JSON.stringify({ method: req.method, url: req.url, body });
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(out),
      });
      res.end(out);
    });
  }) as unknown as Express;
  const hot = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url!.startsWith('/big')) {
      res.writeHead(200, { 'Content-Length': String(bigBody().length) });
      res.end(bigBody());
      return true;
    }
    if (!req.url!.startsWith('/hot') && !req.url!.startsWith('/slow')) return false;
    res.writeHead(200, [
      'Content-Type',
      'application/json; charset=utf-8',
      'Content-Length',
      String(BODY.length),
      'ETag',
      '"7"',
      'Cache-Control',
      'no-cache',
    ]);
    res.end(req.method === 'HEAD' ? undefined : BODY);
    return true;
  };
  const lane = (req: LaneRequest) => {
    laneSeen.push(req);
    if (req.url.startsWith('/hot')) return laneAnswer();
    if (req.url.startsWith('/big'))
      return {
        status: 200,
        head: laneHead(200, [['Content-Length', String(bigBody().length)]]),
        body: bigBody(),
      };
    if (req.url.startsWith('/slow'))
      return new Promise<LaneAnswer>((r) => setTimeout(() => r(laneAnswer()), 100));
    return undefined;
  };
  const created = createHttpServer(app, hot, undefined, withLane ? lane : undefined);
  const server = created.server;
  if (keepAliveTimeout !== undefined) server.keepAliveTimeout = keepAliveTimeout;
  let handedOver = 0;
  server.on('connection', () => handedOver++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    appSeen,
    laneSeen,
    close: (graceMs = 500) => created.close(graceMs, () => undefined),
    handedOver: () => handedOver,
  };
}

export const get = (url: string, extra = '') => `GET ${url} HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;
export const post = (url: string, body: string) =>
  `POST ${url} HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
