import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { exchange, get as rawGet, type Parsed } from '../../../test/support/raw-http.js';
import { MASK } from '../configs/config-values.js';

/**
 * The fast lane (src/core/http/fast-lane.ts) against Node's HTTP server: the same service,
 * started with ConfigService__HotReadFastLane on and off, must give every hot read the same
 * status, headers and body; a kept-alive client stays in the lane through rate-limit leases.
 */

interface Answer {
  status: number;
  headers: [string, string][];
  body: string;
}

/** One request on `agent`'s connection; headers as sent (names lower-cased), Date left out. */
function get(
  url: string,
  path: string,
  headers: Record<string, string>,
  agent: http.Agent,
  method = 'GET',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, { method, headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const pairs: [string, string][] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const name = res.rawHeaders[i]!.toLowerCase();
          if (name !== 'date') pairs.push([name, res.rawHeaders[i + 1]!]);
        }
        resolve({ status: res.statusCode!, headers: pairs.sort(), body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A tenant with `configs` in Staging; its editor, reader and the last write's position. */
async function seed(h: Harness, configs: readonly (readonly [string, unknown, string])[]) {
  const tenantId = uniqueTenant('lane');
  await request(h.url)
    .post('/api/v1/tenants')
    .set('Authorization', `Bearer ${h.admin}`)
    .send({ tenantId, name: 'Lane', tier: 'Free' })
    .expect(201);
  const editor = h.token('editor', tenantId);
  const reader = h.token('reader', tenantId);
  let position = '';
  for (const [key, value, type] of configs) {
    const res = await request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', `Bearer ${editor}`)
      .send({ tenantId, key, value, type, environment: 'Staging' })
      .expect(201);
    position = res.headers['x-event-position']!;
  }
  return { tenantId, editor, reader, position };
}

const envPath = (tenantId: string, key?: string) =>
  `/api/v1/tenants/${tenantId}/environments/Staging/configs${key ? `/${key}` : ''}`;

describe('hot read fast lane (e2e)', function () {
  let lane: Harness;
  let node: Harness;
  let tenantId: string;
  let reader: string;
  let position: string;

  before(async function () {
    lane = await startHarness({ runProjector: true });
    // Same database, its own Redis prefix; it reads what the first one's projector writes.
    node = await startHarness({ overrides: { ConfigService__HotReadFastLane: 'false' } });
    ({ tenantId, reader, position } = await seed(lane, [
      ['greeting', 'hello', 'String'],
      ['limits.max', 42, 'Integer'],
    ]));
  });
  after(async function () {
    await node?.close();
    await lane?.close();
  });

  it('gives every kind of hot read the same answer as Node’s HTTP server', async function () {
    const env = `/api/v1/tenants/${tenantId}/environments/Staging/configs`;
    const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
    // Read-your-writes through the lane (an answer that waits), before anything is cached.
    const fresh = await get(
      lane.url,
      `${env}?minPosition=${position}`,
      bearer(reader),
      new http.Agent(),
    );
    expect(fresh.status).to.equal(200);
    expect(JSON.parse(fresh.body).configs).to.deep.equal({ greeting: 'hello', 'limits.max': 42 });
    const cases: [string, string, Record<string, string>, string?][] = [
      ['whole environment', env, bearer(reader)],
      ['one key', `${env}/greeting`, bearer(reader)],
      ['one key, HEAD', `${env}/greeting`, bearer(reader), 'HEAD'],
      ['not modified', `${env}/greeting`, { ...bearer(reader), 'If-None-Match': '"1"' }],
      ['modified', `${env}/greeting`, { ...bearer(reader), 'If-None-Match': '"0"' }],
      ['a missing key', `${env}/nope`, bearer(reader)],
      ['no credential', `${env}/greeting`, {}],
      ['a bad token', `${env}/greeting`, bearer('not-a-token')],
      ['another tenant', `${env}/greeting`, bearer(lane.token('reader', 'someone-else'))],
      ['an invalid tenant id', '/api/v1/tenants/Bad%20Id/environments/Staging/configs', {}],
      [
        'an undeclared environment',
        `/api/v1/tenants/${tenantId}/environments/Nope/configs`,
        bearer(reader),
      ],
      ['a canary client id', `${env}/greeting`, { ...bearer(reader), 'X-Client-Id': 'pod-1' }],
    ];
    for (const [what, path, headers, method] of cases) {
      // A fresh connection each, so each case starts where a new client does.
      const [fromLane, fromNode] = await Promise.all([
        get(lane.url, path, headers, new http.Agent(), method),
        get(node.url, path, headers, new http.Agent(), method),
      ]);
      expect(fromLane, what).to.deep.equal(fromNode);
    }
  });

  it('keeps a kept-alive reader in the lane through its rate-limit leases', async function () {
    // The limit's leases are 1 % of RateLimiting__ConfigGet: with the test's 1,000,000 a lease
    // is 10,000 reads; a harness of its own with 1,000 makes one every 10 reads.
    const limited = await startHarness({ overrides: { RateLimiting__ConfigGet: '1000' } });
    try {
      let handedOver = 0;
      limited.api.server.on('connection', () => handedOver++);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const path = `/api/v1/tenants/${tenantId}/environments/Staging/configs/greeting`;
      const statuses: number[] = [];
      for (let i = 0; i < 35; i++) {
        statuses.push(
          (await get(limited.url, path, { Authorization: `Bearer ${reader}` }, agent)).status,
        );
      }
      expect(statuses).to.deep.equal(Array(35).fill(200));
      expect(handedOver, 'connections handed to Node').to.equal(0);
      agent.destroy();
    } finally {
      await limited.close();
    }
  });

  it('refuses reads over the limit with 429 and Retry-After, as Node’s way does', async function () {
    const limited = await startHarness({ overrides: { RateLimiting__ConfigGet: '3' } });
    try {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const path = `/api/v1/tenants/${tenantId}/environments/Staging/configs/greeting`;
      // Another caller first: a limiter whose Redis connection is not up yet lets reads through.
      const other = lane.token('reader', tenantId, { sub: 'warm-up' });
      await get(limited.url, path, { Authorization: `Bearer ${other}` }, new http.Agent());
      const answers: Answer[] = [];
      for (let i = 0; i < 4; i++) {
        answers.push(await get(limited.url, path, { Authorization: `Bearer ${reader}` }, agent));
      }
      expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200, 429]);
      const refused = answers[3]!;
      expect(Number(new Map(refused.headers).get('retry-after'))).to.be.greaterThan(0);
      expect(new Map(refused.headers).get('content-type')).to.match(/problem\+json/);
      expect(JSON.parse(refused.body)).to.include({ status: 429 });
      agent.destroy();
    } finally {
      await limited.close();
    }
  });
});

/** The lane leaves a request with a header given twice to Node's HTTP server; Node ignores it. */
const NODE_WAY = 'X-Dup: 1\r\nX-Dup: 1\r\n';

/** A request's head, as raw-http's `get` writes it, with `method` and the headers given. */
const head = (method: string, path: string, headers: Record<string, string>, viaNode: boolean) =>
  rawGet(
    path,
    Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') + (viaNode ? NODE_WAY : ''),
  ).replace(/^GET/, method);

/** Status, headers and body of an answer, without Date (it differs by the second). */
const comparable = (r: Parsed) => {
  const { date: _date, ...headers } = r.headers;
  return { status: r.status, headers, body: r.body };
};

describe('hot read fast lane against Node’s path in one service (e2e)', function () {
  let h: Harness;
  let port: number;
  let tenantId: string;
  let editor: string;
  let reader: string;
  let position: string;
  /** Connections Node's HTTP server was given: with the lane on, only those it handed over. */
  let handedOver = 0;
  const logLines: string[] = [];
  const metricCalls: unknown[][] = [];

  /** One request on a fresh connection: the lane's way, or Node's (`viaNode`). */
  async function once(
    method: string,
    path: string,
    headers: Record<string, string>,
    viaNode: boolean,
  ): Promise<Parsed> {
    const before = handedOver;
    const { responses } = await exchange(port, [head(method, path, headers, viaNode)], {
      count: 1,
      methods: [method],
      gapMs: 0,
      totalMs: 5000,
    });
    expect(responses, `${method} ${path}`).to.have.length(1);
    // Proves which way it went, so that a comparison is not of the lane with itself.
    expect(handedOver - before, `${method} ${path} handed to Node`).to.equal(viaNode ? 1 : 0);
    return responses[0]!;
  }

  before(async function () {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    h = await startHarness({
      runProjector: true,
      overrides: {
        ConfigService__HotReadLogSampleRate: '1',
        Encryption__MasterKey: `k1:${randomBytes(32).toString('base64')}`,
      },
      logger: pino({ level: 'info' }, sink),
    });
    port = (h.api.server.address() as AddressInfo).port;
    h.api.server.on('connection', () => handedOver++);
    // The observer looks the method up on each read, so a wrapper sees both paths.
    const original = h.services.metrics.hotRead.bind(h.services.metrics);
    h.services.metrics.hotRead = (...args: Parameters<typeof original>) => {
      metricCalls.push(args);
      original(...args);
    };
    ({ tenantId, editor, reader, position } = await seed(h, [['greeting', 'hello', 'String']]));
    // Read once with the position: the cache is filled, so the reads below are alike on both.
    await request(h.url)
      .get(`${envPath(tenantId)}?minPosition=${position}`)
      .set('Authorization', `Bearer ${reader}`)
      .expect(200);
  });
  after(async function () {
    await h?.close();
  });

  it('reveals an encrypted value to an admin and masks it for a reader, on both paths', async function () {
    const admin = h.token('tenant-admin', tenantId);
    const created = await request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', `Bearer ${editor}`)
      .send({
        tenantId,
        key: 'db.password',
        value: 's3cret',
        type: 'String',
        environment: 'Staging',
        isEncrypted: true,
      })
      .expect(201);
    const at = created.headers['x-event-position']!;
    const path = envPath(tenantId, 'db.password');
    for (const [who, token, value] of [
      ['admin', admin, 's3cret'],
      ['reader', reader, MASK],
    ] as const) {
      // With the position: a miss, answered later (the lane waits); without: a local hit.
      for (const [read, extra] of [
        ['miss', { 'X-Min-Position': at }],
        ['hit', {}],
      ] as const) {
        const headers = { Authorization: `Bearer ${token}`, ...extra };
        metricCalls.length = 0;
        const lane = await once('GET', path, headers, false);
        const node = await once('GET', path, headers, true);
        // Both reads were what they are named: served from this process's snapshot or not.
        const kinds = metricCalls.map((c) => (c[2] === 'local' ? 'hit' : 'miss'));
        expect(kinds, `${who} ${read}`).to.deep.equal([read, read]);
        expect(lane.status, `${who} ${read}`).to.equal(200);
        expect(JSON.parse(lane.body).value, `${who} ${read}`).to.equal(value);
        expect(comparable(lane), `${who} ${read}`).to.deep.equal(comparable(node));
      }
    }
  });

  it('answers pipelined requests in order: a read-your-writes wait, hits, a 404, a write handed to Node, a hit', async function () {
    const auth = { Authorization: `Bearer ${editor}` };
    const made = await request(h.url)
      .post('/api/v1/configs')
      .set(auth)
      .send({ tenantId, key: 'later', value: 'v', type: 'String', environment: 'Staging' })
      .expect(201);
    const body = JSON.stringify({
      tenantId,
      key: 'new.one',
      value: 'x',
      type: 'String',
      environment: 'Staging',
    });
    const before = handedOver;
    // All in one write: the lane must hold the rest while the first waits, and hand the
    // connection to Node at the POST with the bytes after it.
    const { responses } = await exchange(
      port,
      [
        head(
          'GET',
          envPath(tenantId, 'later'),
          { ...auth, 'X-Min-Position': made.headers['x-event-position']! },
          false,
        ) +
          head('GET', envPath(tenantId, 'greeting'), auth, false) +
          head('GET', envPath(tenantId, 'nope'), auth, false) +
          `POST /api/v1/configs HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${editor}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}` +
          head('GET', envPath(tenantId, 'greeting'), auth, false),
      ],
      { count: 5, gapMs: 0, totalMs: 10_000 },
    );
    expect(responses.map((r) => r.status)).to.deep.equal([200, 200, 404, 201, 200]);
    expect(JSON.parse(responses[0]!.body).value).to.equal('v');
    expect(JSON.parse(responses[1]!.body).value).to.equal('hello');
    expect(JSON.parse(responses[3]!.body).key).to.equal('new.one');
    expect(JSON.parse(responses[4]!.body).value).to.equal('hello');
    expect(handedOver - before, 'connections handed to Node').to.equal(1);
  });

  it('reports config_get metrics the same way on both paths', async function () {
    const auth = { Authorization: `Bearer ${reader}` };
    const seen = async (viaNode: boolean) => {
      metricCalls.length = 0;
      // A miss (Redis, filled in `before`), a hit, a 404, a 401 and a 304 to a HEAD.
      await once('GET', `${envPath(tenantId, 'greeting')}?minPosition=${position}`, auth, viaNode);
      await once('GET', envPath(tenantId, 'greeting'), auth, viaNode);
      await once('GET', envPath(tenantId, 'nope'), auth, viaNode);
      await once('GET', envPath(tenantId, 'greeting'), {}, viaNode);
      await once(
        'HEAD',
        envPath(tenantId, 'greeting'),
        { ...auth, 'If-None-Match': '"1"' },
        viaNode,
      );
      // Route, source and status (the second argument is the latency).
      return metricCalls.map(([route, , source, status]) => [route, source, status]);
    };
    const lane = await seen(false);
    expect(lane).to.have.length(5);
    expect(lane).to.deep.equal(await seen(true));
  });

  it('access-logs a sampled read the same way on both paths (ConfigService__HotReadLogSampleRate=1)', async function () {
    const auth = { Authorization: `Bearer ${reader}`, 'User-Agent': 'lane-test' };
    const logged = async (viaNode: boolean) => {
      logLines.length = 0;
      await once('GET', envPath(tenantId, 'greeting'), auth, viaNode);
      // Node's path logs on the response's 'finish', which may come after the client has read.
      const hot = () =>
        logLines
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .filter((l) => String(l.msg).endsWith('(hot read)'));
      for (const deadline = Date.now() + 2000; hot().length === 0 && Date.now() < deadline;) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(hot(), `via Node ${viaNode}`).to.have.length(1);
      const { time: _t, pid: _p, hostname: _h, responseTime, ...rest } = hot()[0]!;
      expect(responseTime).to.be.a('number');
      return rest;
    };
    const lane = await logged(false);
    expect(lane).to.deep.include({ msg: `GET ${envPath(tenantId, 'greeting')} 200 (hot read)` });
    expect(lane).to.deep.equal(await logged(true));
  });

  it('answers a lane read waiting on read-your-writes during close(), which then finishes', async function () {
    const closing = await startHarness({
      runProjector: true,
      overrides: { ConfigService__ReadYourWritesTimeout: 'PT1S' },
    });
    try {
      const token = closing.token('reader', tenantId);
      // Resolves once the lane's read waits for the position (so close() finds it busy).
      let waiting!: () => void;
      const waits = new Promise<void>((r) => (waiting = r));
      const waitFor = closing.services.progress.waitFor.bind(closing.services.progress);
      closing.services.progress.waitFor = (...args) => {
        waiting();
        return waitFor(...args);
      };
      // A position the log will not reach: the wait ends at the 1 s timeout with a 503.
      const answer = exchange(
        (closing.api.server.address() as AddressInfo).port,
        [
          head(
            'GET',
            envPath(tenantId, 'greeting'),
            {
              Authorization: `Bearer ${token}`,
              'X-Min-Position': String(BigInt(position) + 1_000_000n),
            },
            false,
          ),
        ],
        { count: 1, gapMs: 0, totalMs: 5000 },
      );
      await waits;
      const started = Date.now();
      const closed = closing.api.close(8000);
      const { responses } = await answer;
      expect(responses).to.have.length(1);
      const r = responses[0]!;
      expect(r.status).to.equal(503);
      expect(r.headers['retry-after']).to.deep.equal(['1']);
      expect(r.headers.connection).to.deep.equal(['close']);
      await closed;
      // Not the 8 s grace: close() waited only for the answer.
      expect(Date.now() - started).to.be.below(1500);
    } finally {
      await closing.close();
    }
  });
});
