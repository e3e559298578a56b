import net from 'node:net';
import { expect } from 'chai';
import { parseRequest } from './fast-lane.js';
import {
  BODY,
  bigBody,
  exchange,
  get,
  post,
  start,
  type Parsed,
  type Started,
} from '../../../test/support/raw-http.js';

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

const TRACE = 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n';
/** Header lines without Date, as `name: value` (names lower-cased), in order. */
const lines = (r: Parsed) =>
  r.rawHead
    .split('\r\n')
    .slice(1)
    .map((l) => l.replace(/^([^:]+):\s*/, (_m, n: string) => `${n.toLowerCase()}: `))
    .filter((l) => !l.startsWith('date:'));
const statuses = (x: { responses: Parsed[] }) => x.responses.map((r) => r.status);
const seen = (s: Started) => s.appSeen.map((r) => `${r.method} ${r.url} ${r.body}`);

/**
 * A server with the lane (`/hot…` answered at once, `/slow…` after 100 ms) beside one without,
 * over bare sockets: what the lane answers and what it leaves to Node's HTTP server. The lane
 * must never change what a client gets, only how fast.
 */
describe('fast lane: a server whose hot reads skip Node’s HTTP parser (unit)', function () {
  let s: Started;
  beforeEach(async () => {
    s = await start();
  });
  afterEach(async () => {
    await s.close();
  });

  for (const method of ['GET', 'HEAD']) {
    it(`${method}: the same status line, headers and body as through Node`, async function () {
      const req = (extra = '') => `${method} /hot HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;
      const lane = await exchange(s.port, [req()], { methods: [method] });
      const node = await exchange(s.port, [req(TRACE)], { methods: [method] });
      expect(s.laneSeen).to.have.length(1); // the traced one went Node's way
      const [a, b] = [lane.responses[0]!, node.responses[0]!];
      expect(a.statusLine).to.equal(b.statusLine);
      expect(lines(a)).to.deep.equal(lines(b));
      expect(a.headers.date![0]).to.match(/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
      expect(a.body).to.equal(b.body);
      expect(lane.raw.length).to.equal(node.raw.length); // nothing after the answer
    });
  }

  it('gives the handler headers as Node would (names lower-cased, only SP and HTAB trimmed)', async function () {
    await exchange(s.port, [
      Buffer.from(
        `GET /hot HTTP/1.1\r\nHOST:  a.example \t\r\nX-Mixed-Case:\tv  1\t\r\nAuthorization: Bearer t\xa0\r\n\r\n`,
        'latin1',
      ),
    ]);
    expect(s.laneSeen[0]!.headers).to.deep.equal({
      host: 'a.example',
      'x-mixed-case': 'v  1',
      authorization: 'Bearer t\u00a0',
    });
  });

  it('answers pipelined reads in order, in the lane', async function () {
    const x = await exchange(s.port, [get('/hot1') + get('/hot2') + get('/hot3')], { count: 3 });
    expect(statuses(x)).to.deep.equal([200, 200, 200]);
    expect(s.laneSeen.map((r) => r.url)).to.deep.equal(['/hot1', '/hot2', '/hot3']);
    expect(s.handedOver()).to.equal(0);
  });

  it('hands the connection to Node at a request that is not its own, and Node keeps it', async function () {
    const x = await exchange(s.port, [get('/hot') + get('/other') + get('/hot2')], { count: 3 });
    expect(statuses(x)).to.deep.equal([200, 200, 200]);
    expect(s.laneSeen.map((r) => r.url)).to.deep.equal(['/hot', '/other']);
    expect(s.appSeen.map((r) => r.url)).to.deep.equal(['/other']);
    expect(s.handedOver()).to.equal(1);
  });

  it('hands over a POST whole: in the same write, in its own, with its body apart', async function () {
    const p = post('/p', 'split-body');
    const cut = p.indexOf('\r\n\r\n') + 4;
    for (const writes of [
      [get('/hot') + post('/p', 'split-body')],
      [get('/hot'), post('/p', 'split-body')],
      [get('/hot'), p.slice(0, cut), p.slice(cut)],
    ]) {
      const x = await exchange(s.port, writes, { count: 2 });
      expect(statuses(x)).to.deep.equal([200, 200]);
    }
    expect(seen(s)).to.deep.equal(Array(3).fill('POST /p split-body'));
  });

  it('hands over a request split across writes, and Node reads it whole', async function () {
    const g = get('/hot');
    const x = await exchange(s.port, [g.slice(0, 10), g.slice(10)], { count: 1 });
    expect(statuses(x)).to.deep.equal([200]);
    expect(s.laneSeen).to.have.length(0);
  });

  it('keeps the order when an answer comes later than the ones pipelined behind it', async function () {
    const x = await exchange(
      s.port,
      [get('/slow') + get('/hot') + get('/slow'), post('/p', 'x'), get('/hot') + post('/q', 'yy')],
      { gapMs: 30, count: 6, totalMs: 3000 },
    );
    expect(statuses(x)).to.deep.equal([200, 200, 200, 200, 200, 200]);
    expect(seen(s)).to.deep.equal(['POST /p x', 'POST /q yy']);
  });

  it('reads on after a late answer, in the lane, bytes sent while it waited included', async function () {
    const x = await exchange(s.port, [get('/slow'), get('/hot2'), get('/hot3')], {
      gapMs: 150,
      count: 3,
    });
    expect(statuses(x)).to.deep.equal([200, 200, 200]);
    expect(s.laneSeen.map((r) => r.url)).to.deep.equal(['/slow', '/hot2', '/hot3']);
    expect(s.handedOver()).to.equal(0);
  });

  it('answers 2,000 pipelined reads, then hands a 100 KB POST to Node intact', async function () {
    let payload = '';
    for (let i = 0; i < 2000; i++) payload += get(`/hot${i}`);
    const big = 'z'.repeat(100_000);
    payload += post('/p', big);
    const x = await exchange(s.port, [payload], { count: 2001, totalMs: 10_000 });
    expect(x.responses).to.have.length(2001);
    expect(s.appSeen).to.have.length(1);
    expect(s.appSeen[0]!.body.length).to.equal(big.length);
  });

  it('leaves Connection: close, Proxy-Connection: close, HTTP/1.0, absolute form and Expect to Node', async function () {
    for (const close of ['Connection: close\r\n', 'Proxy-Connection: close\r\n']) {
      const c = await exchange(s.port, [get('/hot', close) + get('/hot')]);
      expect(statuses(c)).to.deep.equal([200]);
      expect(c.responses[0]!.headers.connection).to.deep.equal(['close']);
      expect(c.closed).to.equal(true);
    }
    await exchange(s.port, ['GET /hot HTTP/1.0\r\nHost: a\r\n\r\n'], { count: 1 });
    await exchange(s.port, ['GET http://a/hot HTTP/1.1\r\nHost: a\r\n\r\n'], { count: 1 });
    const e = await exchange(s.port, [get('/hot', 'Expect: 100-continue\r\n')], { count: 2 });
    expect(statuses(e)).to.deep.equal([100, 200]);
    expect(s.laneSeen).to.have.length(0);
  });

  it('refuses, as Node does, a body length that is 0 only once NBSP is trimmed', async function () {
    const node = await start(false);
    try {
      for (const value of ['\xa00', '0\xa0']) {
        const bytes = Buffer.from(
          `GET /hot HTTP/1.1\r\nHost: a\r\nContent-Length: ${value}\r\n\r\n`,
          'latin1',
        );
        const [lane, bare] = [await exchange(s.port, [bytes]), await exchange(node.port, [bytes])];
        expect(statuses(bare)).to.deep.equal([400]);
        expect(statuses(lane), JSON.stringify(value)).to.deep.equal([400]);
      }
    } finally {
      await node.close();
    }
  });

  it('answers what a client sent before it half-closed, then closes', async function () {
    const x = await exchange(s.port, [get('/hot') + get('/slow')], { end: true, settleMs: 400 });
    expect(statuses(x)).to.deep.equal([200, 200]);
    expect(x.closed).to.equal(true);
  });

  it('hands a POST after a late answer to Node even when the client half-closed', async function () {
    // Node itself drops an answer it has not written by the time it reads the client's end; what
    // must hold is that the request reaches the app (a stream takes no bytes back after its end).
    await exchange(s.port, [get('/slow') + post('/p', 'must arrive')], {
      end: true,
      settleMs: 400,
    });
    expect(seen(s)).to.deep.equal(['POST /p must arrive']);
  });

  it('closes a connection idle past the keep-alive timeout', async function () {
    const short = await start(true, 200);
    try {
      const x = await exchange(short.port, [get('/hot')], { count: 1, keepOpen: true });
      const closed = await new Promise<boolean>((resolve) => {
        x.socket.on('close', () => resolve(true));
        setTimeout(() => resolve(false), 2000);
      });
      expect(closed).to.equal(true);
    } finally {
      await short.close();
    }
  });

  /** A client that asks for `/big` and reads nothing for `stallMs`, then everything. */
  async function stalledReader(port: number, stallMs: number, meanwhile?: () => Promise<void>) {
    const client = net.connect(port, '127.0.0.1');
    let received = 0;
    client.on('data', (d: Buffer) => (received += d.length));
    const closed = new Promise<void>((resolve) => client.on('close', resolve));
    await new Promise<void>((resolve) => client.once('connect', resolve));
    client.pause();
    client.write(get('/big'));
    await new Promise((r) => setTimeout(r, stallMs));
    await meanwhile?.();
    client.resume();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 4000))]);
    client.destroy();
    return received;
  }

  for (const withLane of [true, false]) {
    it(`sends a large answer whole to a reader that stalls past the keep-alive timeout (lane ${withLane ? 'on' : 'off'})`, async function () {
      const short = await start(withLane, 300);
      try {
        expect(await stalledReader(short.port, 1200)).to.be.greaterThan(bigBody().length);
      } finally {
        await short.close();
      }
    });
  }

  for (const withLane of [true, false]) {
    it(`at shutdown sends an answer still in the buffer to a stalled reader before closing (lane ${withLane ? 'on' : 'off'})`, async function () {
      const server = withLane ? s : await start(false);
      let closing: Promise<void> | undefined;
      const received = await stalledReader(server.port, 200, async () => {
        closing = server.close(5000);
        await new Promise((r) => setTimeout(r, 50));
      });
      await closing;
      expect(received).to.be.greaterThan(bigBody().length);
    });
  }

  it('at shutdown closes a connection once its waiting read is answered, reads behind it or not', async function () {
    const client = net.connect(s.port, '127.0.0.1');
    let received = '';
    client.on('data', (d: Buffer) => (received += d.toString('latin1')));
    const clientClosed = new Promise<void>((resolve) => client.on('close', resolve));
    await new Promise<void>((r) => client.once('connect', () => r()));
    client.write(get('/slow') + get('/hot')); // the lane answers /slow after 100 ms
    await new Promise((r) => setTimeout(r, 30));
    const started = Date.now();
    await s.close(3000);
    const took = Date.now() - started;
    await clientClosed;
    expect(received).to.include('Connection: close\r\n');
    expect(took, 'close() took (ms)').to.be.lessThan(1000); // not the grace
  });

  it('at shutdown closes idle connections and answers a waiting read with Connection: close', async function () {
    const idle = await exchange(s.port, [get('/hot')], { count: 1, keepOpen: true });
    const idleClosed = new Promise<void>((resolve) => idle.socket.on('close', resolve));
    const client = net.connect(s.port, '127.0.0.1');
    let received = Buffer.alloc(0);
    client.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    const answered = new Promise<void>((resolve) => client.on('close', resolve));
    client.write(get('/slow'));
    await new Promise((r) => setTimeout(r, 30));
    await s.close(5000);
    await idleClosed;
    await answered;
    const text = received.toString('latin1');
    expect(text).to.match(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).to.include('Connection: close\r\n');
    expect(text.endsWith(BODY.toString())).to.equal(true);
  });
});
