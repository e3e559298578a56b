import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Express } from 'express';
import { createHttpServer, type HttpServer } from './server.js';
import { laneHead, parseRequest, type LaneAnswer, type LaneHandler } from './fast-lane.js';
import { until } from '../../../test/support/until.js';

const socket = new net.Socket();
const parse = (text: string) => parseRequest(Buffer.from(text, 'latin1'), 0, socket);
const GET = (headers = 'Host: x\r\n', line = 'GET /hot HTTP/1.1') => `${line}\r\n${headers}\r\n`;

describe('fast lane: which requests it reads (unit)', function () {
  it('reads a plain GET or HEAD: target, lower-cased names, trimmed values, the next offset', function () {
    const text = GET('Host: x\r\nAuthorization:  Bearer t \r\nX-Client-Id: a\r\n');
    const parsed = parse(text + 'rest');
    expect(parsed?.req).to.include({ method: 'GET', url: '/hot' });
    expect(parsed?.req.headers).to.deep.equal({
      host: 'x',
      authorization: 'Bearer t',
      'x-client-id': 'a',
    });
    expect(parsed?.next).to.equal(text.length);
    expect(parse(GET('Host: x\r\n', 'HEAD /hot?a=1 HTTP/1.1'))?.req).to.include({
      method: 'HEAD',
      url: '/hot?a=1',
    });
    expect(parse(GET('Host: x\r\nContent-Length: 0\r\nConnection: Keep-Alive\r\n'))).to.not.equal(
      undefined,
    );
  });

  const notOurs: [string, string][] = [
    ['an incomplete head', 'GET /hot HTTP/1.1\r\nHost: x\r\n'],
    ['another method', GET('Host: x\r\n', 'POST /hot HTTP/1.1')],
    ['a lower-case method', GET('Host: x\r\n', 'get /hot HTTP/1.1')],
    ['HTTP/1.0', GET('Host: x\r\n', 'GET /hot HTTP/1.0')],
    ['an absolute-form target', GET('Host: x\r\n', 'GET http://x/hot HTTP/1.1')],
    ['a space in the target', GET('Host: x\r\n', 'GET /h ot HTTP/1.1')],
    ['a non-ASCII target', GET('Host: x\r\n', 'GET /h\u00e9 HTTP/1.1')],
    ['no Host', GET('Accept: */*\r\n')],
    ['a body length', GET('Host: x\r\nContent-Length: 5\r\n')],
    ['Transfer-Encoding', GET('Host: x\r\nTransfer-Encoding: chunked\r\n')],
    ['Expect', GET('Host: x\r\nExpect: 100-continue\r\n')],
    ['Upgrade', GET('Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n')],
    ['Connection: close', GET('Host: x\r\nConnection: close\r\n')],
    ['a header given twice', GET('Host: x\r\nAuthorization: a\r\nauthorization: b\r\n')],
    ['a folded header', GET('Host: x\r\nX-A: a\r\n b\r\n')],
    ['a space before the colon', GET('Host: x\r\nX-A : a\r\n')],
    ['a name that is not a token', GET('Host: x\r\nX(A): a\r\n')],
    ['a bare LF', GET('Host: x\nX-A: a\r\n')],
    ['a bare CR', GET('Host: x\r\nX-A: a\rb\r\n')],
    ['a NUL', GET('Host: x\r\nX-A: a\u0000b\r\n')],
    ['a head over 16 KiB', GET(`Host: x\r\nX-A: ${'a'.repeat(16 * 1024)}\r\n`)],
  ];
  for (const [what, text] of notOurs) {
    it(`leaves ${what} to Node's HTTP server`, function () {
      expect(parse(text)).to.equal(undefined);
    });
  }
});

/** Everything one connection receives until the server has answered `count` responses. */
async function exchange(port: number, writes: (string | Buffer)[], count: number, gapMs = 0) {
  const client = net.connect(port, '127.0.0.1');
  client.setNoDelay(true);
  let received = '';
  const done = new Promise<string>((resolve, reject) => {
    client.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (responses(received).length >= count) resolve(received);
    });
    client.on('error', reject);
    client.on('close', () => resolve(received));
  });
  await new Promise<void>((resolve) => client.once('connect', resolve));
  for (const w of writes) {
    client.write(w);
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
  }
  const text = await done;
  return { text, client };
}

/** Splits a stream of HTTP/1.1 responses (with Content-Length bodies) into their parts. */
function responses(text: string) {
  const out: { status: number; headers: Record<string, string>; body: string }[] = [];
  let at = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) return out;
    const [line, ...fields] = text.slice(at, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const f of fields) {
      const c = f.indexOf(':');
      headers[f.slice(0, c).toLowerCase()] = f.slice(c + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const status = Number(line!.split(' ')[1]);
    const bodyLength = status === 304 || headers['x-head'] ? 0 : length;
    if (text.length < end + 4 + bodyLength) return out;
    out.push({ status, headers, body: text.slice(end + 4, end + 4 + bodyLength) });
    at = end + 4 + bodyLength;
  }
}

describe('fast lane: a server whose hot reads skip Node’s HTTP parser (unit)', function () {
  let server: HttpServer | undefined;
  let handedOver: number;
  let express: string[];
  let late: Map<string, Promise<void>>;

  afterEach(async function () {
    await server?.close(1000, () => undefined);
    server = undefined;
  });

  /** A lane that answers `/hot…` with its URL, later for URLs in `late`; an app that echoes. */
  async function start(keepAliveTimeout?: number): Promise<number> {
    handedOver = 0;
    express = [];
    late = new Map();
    const app = ((req: http.IncomingMessage, res: http.ServerResponse) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        express.push(`${req.method} ${req.url} ${body}`);
        const text = `express ${req.method} ${req.url} ${body}`;
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': text.length });
        res.end(text);
      });
    }) as unknown as Express;
    const answer = (url: string): LaneAnswer => {
      const body = Buffer.from(`hot ${url}`);
      return {
        status: 200,
        head: laneHead(200, [
          ['Content-Type', 'text/plain'],
          ['Content-Length', String(body.length)],
        ]),
        body,
      };
    };
    const lane: LaneHandler = (req) => {
      if (!req.url.startsWith('/hot')) return undefined;
      const wait = late.get(req.url);
      return wait ? wait.then(() => answer(req.url)) : answer(req.url);
    };
    const hot = (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (!req.url!.startsWith('/hot')) return false;
      const text = `node ${req.url}`;
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': text.length });
      res.end(req.method === 'HEAD' ? undefined : text);
      return true;
    };
    server = createHttpServer(app, hot, undefined, lane);
    if (keepAliveTimeout) server.server.keepAliveTimeout = keepAliveTimeout;
    server.server.on('connection', () => handedOver++);
    await new Promise<void>((resolve) => server!.server.listen(0, '127.0.0.1', resolve));
    return (server.server.address() as AddressInfo).port;
  }

  const get = (url: string, extra = '') => `GET ${url} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

  it('answers pipelined reads in order, with the headers Node would send', async function () {
    const port = await start();
    const { text, client } = await exchange(port, [get('/hot1') + get('/hot2') + get('/hot3')], 3);
    const answers = responses(text);
    expect(answers.map((a) => a.body)).to.deep.equal(['hot /hot1', 'hot /hot2', 'hot /hot3']);
    expect(answers[0]!.headers).to.include({
      'content-type': 'text/plain',
      'content-length': '9',
      connection: 'keep-alive',
      'keep-alive': 'timeout=65',
    });
    expect(new Date(answers[0]!.headers.date!).getTime()).to.be.closeTo(Date.now(), 5000);
    expect(handedOver).to.equal(0);
    client.destroy();
  });

  it('answers a HEAD with the length and no body', async function () {
    const port = await start();
    const { text, client } = await exchange(
      port,
      [`HEAD /hot HTTP/1.1\r\nHost: x\r\n\r\n${get('/hot2')}`],
      2,
    );
    expect(text).to.match(
      /^HTTP\/1\.1 200 OK\r\n[^]*Content-Length: 8\r\n[^]*\r\n\r\nHTTP\/1\.1 200/,
    );
    expect(text.endsWith('hot /hot2')).to.equal(true);
    client.destroy();
  });

  it('hands the connection to Node at a request that is not its own, bytes and order intact', async function () {
    const port = await start();
    const post = 'POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world';
    const { text, client } = await exchange(
      port,
      [get('/hot1') + post + get('/hot2') + get('/other')],
      4,
    );
    expect(responses(text).map((a) => a.body)).to.deep.equal([
      'hot /hot1',
      'express POST /write hello world',
      'node /hot2',
      'express GET /other ',
    ]);
    expect(handedOver).to.equal(1);
    client.destroy();
  });

  it('hands over a request split across writes, and Node reads it whole', async function () {
    const port = await start();
    const { text, client } = await exchange(
      port,
      [get('/hot1'), 'GET /hot2 HTTP/1.1\r\nHo', 'st: x\r\n\r\n'],
      2,
      30,
    );
    expect(responses(text).map((a) => a.body)).to.deep.equal(['hot /hot1', 'node /hot2']);
    client.destroy();
  });

  it('keeps the order when an answer comes later than the ones pipelined behind it', async function () {
    const port = await start();
    let release!: () => void;
    late.set('/hot-late', new Promise<void>((r) => (release = r)));
    const pending = exchange(
      port,
      [get('/hot-late') + get('/hot2') + get('/other') + get('/hot3')],
      4,
    );
    await new Promise((r) => setTimeout(r, 50));
    release();
    const { text, client } = await pending;
    expect(responses(text).map((a) => a.body)).to.deep.equal([
      'hot /hot-late',
      'hot /hot2',
      'express GET /other ',
      'node /hot3',
    ]);
    client.destroy();
  });

  it('reads on after a late answer (the socket was paused while it waited)', async function () {
    const port = await start();
    let release!: () => void;
    late.set('/hot-late', new Promise<void>((r) => (release = r)));
    const client = net.connect(port, '127.0.0.1');
    let received = '';
    client.on('data', (c: Buffer) => (received += c.toString('latin1')));
    await new Promise<void>((resolve) => client.once('connect', resolve));
    client.write(get('/hot-late'));
    await new Promise((r) => setTimeout(r, 30));
    client.write(get('/hot2')); // arrives while the first waits
    await new Promise((r) => setTimeout(r, 30));
    release();
    await until('two answers', () => (responses(received).length === 2 ? true : undefined), 3000);
    client.write(get('/hot3'));
    await until('three answers', () => (responses(received).length === 3 ? true : undefined), 3000);
    expect(responses(received).map((a) => a.body)).to.deep.equal([
      'hot /hot-late',
      'hot /hot2',
      'hot /hot3',
    ]);
    expect(handedOver).to.equal(0);
    client.destroy();
  });

  it('leaves Connection: close to Node, which answers and closes', async function () {
    const port = await start();
    const { text } = await exchange(
      port,
      [get('/hot1') + get('/hot2', 'Connection: close\r\n')],
      2,
    );
    const answers = responses(text);
    expect(answers.map((a) => a.body)).to.deep.equal(['hot /hot1', 'node /hot2']);
    expect(answers[1]!.headers.connection).to.equal('close');
  });

  it('answers what a client sent before it half-closed, then closes', async function () {
    const port = await start();
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let received = '';
    client.on('data', (c: Buffer) => (received += c.toString('latin1')));
    const closed = new Promise<void>((resolve) => client.on('end', resolve));
    await new Promise<void>((resolve) => client.once('connect', resolve));
    client.end(get('/hot1') + get('/hot2'));
    await closed;
    expect(responses(received).map((a) => a.body)).to.deep.equal(['hot /hot1', 'hot /hot2']);
    client.destroy();
  });

  it('closes a connection idle past the keep-alive timeout', async function () {
    const port = await start(200);
    const { client } = await exchange(port, [get('/hot1')], 1);
    const closedAt = await new Promise<number>((resolve) =>
      client.on('close', () => resolve(Date.now())),
    );
    expect(closedAt).to.be.a('number');
  });

  it('at shutdown closes idle connections and answers a waiting read with Connection: close', async function () {
    const port = await start();
    const idle = await exchange(port, [get('/hot1')], 1);
    const idleClosed = new Promise<void>((resolve) => idle.client.on('close', resolve));
    let release!: () => void;
    late.set('/hot-late', new Promise<void>((r) => (release = r)));
    const waiting = exchange(port, [get('/hot-late')], 1);
    await new Promise((r) => setTimeout(r, 50));
    const closed = server!.close(5000, () => undefined);
    await idleClosed;
    release();
    const { text } = await waiting;
    const [answer] = responses(text);
    expect(answer!.body).to.equal('hot /hot-late');
    expect(answer!.headers.connection).to.equal('close');
    await closed;
    server = undefined;
  });
});
