/**
 * The client against a fake service on 127.0.0.1: stream framing, credentials, start-up when the
 * service is down or refuses, typed getters, events, outcomes.
 */
import { expect } from 'chai';
import {
  ConfigServiceError,
  ConfigTimeoutError,
  ConfigTypeError,
  createClient,
  type ClientOptions,
  type ConfigClient,
} from '@config-service/client';
import { ENV_PATH, FakeService, envBody, until } from './fake-service.js';

const snapshotEvent = (id: string, body: unknown, eol = '\n', field = 'data: ') =>
  `id: ${id}${eol}event: snapshot${eol}${field}${JSON.stringify(body)}${eol}${eol}`;

describe('client (unit, fake service)', function () {
  let service: FakeService;
  const clients: ConfigClient[] = [];

  beforeEach(async function () {
    service = await new FakeService().start();
  });
  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await service.stop();
  });

  function client(extra: Partial<ClientOptions> = {}) {
    const c = createClient({
      url: service.url,
      tenant: 't1',
      environment: 'Staging',
      apiKey: 'cfgk_test_secret',
      lastKnownGood: false,
      minBackoffMs: 5,
      maxBackoffMs: 50,
      // Off unless a test is about them: their requests would interleave with the others'.
      acknowledge: false,
      ...extra,
    });
    clients.push(c);
    return c;
  }

  /** Streams `configs` as the first snapshot (etag `e1`) and holds the stream open. */
  function streaming(configs: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    service.answer((req, res) => {
      if (req.url?.startsWith(ENV_PATH)) {
        service.openStream(res, snapshotEvent('e1', envBody(configs, extra)));
      } else res.writeHead(404).end();
    });
  }

  describe('event streams', function () {
    it('reads CRLF-framed events and data fields without a space (eventsource-parser)', async function () {
      service.answer((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        // One event split over two writes, CRLF line ends, `data:` with no space after it.
        const first = snapshotEvent('e1', envBody({ a: 1 }), '\r\n', 'data:');
        res.write('retry: 2000\r\n\r\n' + first.slice(0, 25));
        setTimeout(() => res.write(first.slice(25)), 20);
        service.streams.add(res);
      });
      const c = client();
      const first = await c.ready({ timeout: 5000 });
      expect(first.configs).to.deep.equal({ a: 1 });
      expect(first.etag).to.equal('e1');
      const changes: string[][] = [];
      c.on('change', (_s, keys) => changes.push(keys));
      service.push(': keep-alive\r\n\r\n');
      // Bare CR line ends too (the last one is known to end a line once more text follows).
      service.push(snapshotEvent('e2', envBody({ a: 2, b: 'x' }), '\r', 'data:') + ': ping\n');
      await until('the second snapshot', () => c.get('a') === 2);
      expect(c.get('b')).to.equal('x');
      expect(c.snapshot?.etag).to.equal('e2');
      expect(changes).to.deep.equal([['a', 'b']]);
    });

    it('sends the API key as a bearer credential and the client id as UTF-8 bytes', async function () {
      streaming({ a: 1 });
      const c = client({ clientId: 'pod-é-1' });
      await c.ready({ timeout: 5000 });
      const seen = service.requestsTo(ENV_PATH)[0]!;
      expect(seen.headers.authorization).to.equal('Bearer cfgk_test_secret');
      expect(seen.headers.accept).to.equal('text/event-stream');
      expect(seen.rawClientId).to.equal(Buffer.from('pod-é-1', 'utf8').toString('latin1'));
    });

    it('reconnects with Last-Event-ID after the stream ends, saying stale and reconnected', async function () {
      streaming({ a: 1 });
      const c = client();
      const events: string[] = [];
      c.on('stale', () => events.push('stale'));
      c.on('reconnected', () => events.push('reconnected'));
      await c.ready({ timeout: 5000 });
      expect(c.status).to.equal('live');
      // The next attempt fails once, then the service is back with the same values.
      let refused = false;
      service.answer((req, res) => {
        if (!refused) {
          refused = true;
          res.writeHead(503, { 'Content-Type': 'application/problem+json' }).end('{}');
          return;
        }
        service.openStream(res);
      });
      for (const s of service.streams) s.end();
      await until('reconnected', () => events.includes('reconnected'));
      expect(events).to.deep.equal(['stale', 'reconnected']);
      const last = service.requestsTo(ENV_PATH).at(-1)!;
      expect(last.headers['last-event-id']).to.equal('e1');
      expect(c.get('a')).to.equal(1);
      expect(c.status).to.equal('live');
    });

    it('asks the token function again after a 401 and after an expired event', async function () {
      const issued: string[] = [];
      let n = 0;
      service.answer((req, res) => {
        const auth = req.headers.authorization;
        if (auth === 'Bearer token-1') {
          res.writeHead(401, { 'Content-Type': 'application/problem+json' });
          res.end(JSON.stringify({ title: 'Unauthorized', detail: 'token expired' }));
        } else if (auth === 'Bearer token-2') {
          service.openStream(res, snapshotEvent('e1', envBody({ a: 1 })));
          setTimeout(() => res.end('event: expired\ndata: {}\n\n'), 20);
        } else service.openStream(res, snapshotEvent('e2', envBody({ a: 3 })));
      });
      const c = client({
        apiKey: undefined,
        token: async () => {
          const t = `token-${++n}`;
          issued.push(t);
          return t;
        },
      });
      // The 401 came before any snapshot: ready() says so.
      const error = await c.ready({ timeout: 5000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(ConfigServiceError).with.property('status', 401);
      expect((error as Error).message).to.include('token expired');
      // …and the client keeps going with a new token, renewing again when the stream expires.
      await until('the value after two renewals', () => c.get('a') === 3);
      expect(issued).to.deep.equal(['token-1', 'token-2', 'token-3']);
    });
  });

  describe('start-up', function () {
    it('rejects ready() with a timeout and says failed once when the service is down', async function () {
      const port = service.port;
      await service.stop();
      const c = client({ url: `http://127.0.0.1:${port}` });
      const failed: unknown[] = [];
      const errors: unknown[] = [];
      c.on('failed', (e) => failed.push(e));
      c.on('error', (e) => errors.push(e));
      const error = await c.ready({ timeout: 300 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(ConfigTimeoutError);
      expect((error as ConfigTimeoutError).timeoutMs).to.equal(300);
      expect(failed).to.have.length(1);
      expect(errors.length).to.be.at.least(1);
      expect(c.status).to.equal('stale');
      service = await new FakeService().start(); // for afterEach
    });

    it('rejects ready() at once when refused, naming the problem', async function () {
      service.answer((_req, res) => {
        res.writeHead(403, { 'Content-Type': 'application/problem+json' });
        res.end(JSON.stringify({ detail: 'not your tenant' }));
      });
      const c = client();
      const error = await c.ready({ timeout: 60_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(ConfigServiceError);
      expect(error).to.include({ status: 403 });
      expect((error as Error).message).to.equal('config service answered 403: not your tenant');
      // Later calls say the same at once.
      const again = await c.ready().catch((e: unknown) => e);
      expect(again).to.equal(error);
    });

    it('serves bootstrap values at once, falls back to them when the service is down, then replaces them', async function () {
      const port = service.port;
      await service.stop();
      const c = client({ url: `http://127.0.0.1:${port}`, bootstrap: { a: 'boot', n: 1 } });
      expect(c.getString('a', 'none')).to.equal('boot');
      const ready = await c.ready({ timeout: 60_000 });
      expect(ready.source).to.equal('bootstrap');
      expect(ready.configs).to.deep.equal({ a: 'boot', n: 1 });
      const changes: string[][] = [];
      c.on('change', (s, keys) => changes.push([s.source, ...keys]));
      service = await new FakeService().start(port);
      streaming({ a: 'live', n: 1 });
      await until('the live value', () => c.get('a') === 'live');
      expect(c.snapshot?.source).to.equal('service');
      expect(changes).to.deep.equal([['service', 'a']]);
    });

    it('reads a bootstrap file, flat or as the environment route answered it', async function () {
      const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
      const { tmpdir } = await import('node:os');
      const dir = await mkdtemp(`${tmpdir()}/cfg-boot-`);
      try {
        await writeFile(`${dir}/flat.json`, JSON.stringify({ a: 1, b: { deep: true } }));
        await writeFile(`${dir}/env.json`, JSON.stringify(envBody({ a: 2 })));
        const flat = client({ offline: true, bootstrapFile: `${dir}/flat.json` });
        expect((await flat.ready()).configs).to.deep.equal({ a: 1, b: { deep: true } });
        const env = client({ offline: true, bootstrapFile: `${dir}/env.json` });
        expect((await env.ready()).configs).to.deep.equal({ a: 2 });
        expect(service.requests).to.have.length(0);
      } finally {
        await rm(dir, { recursive: true });
      }
    });

    it('offline: never calls the service, serves the bootstrap and records no outcomes', async function () {
      const c = client({ offline: true, bootstrap: { flag: true } });
      const s = await c.ready();
      expect(s.source).to.equal('bootstrap');
      expect(c.status).to.equal('offline');
      expect(c.getBoolean('flag', false)).to.equal(true);
      c.recordOutcome('flag', false);
      await c.close();
      expect(service.requests).to.have.length(0);
      const empty = client({ offline: true });
      expect((await empty.ready()).configs).to.deep.equal({});
    });
  });

  describe('last-known-good', function () {
    it('is written when values arrive and used at start while the service is down', async function () {
      const { mkdtemp, readFile, stat, rm } = await import('node:fs/promises');
      const { tmpdir } = await import('node:os');
      const dir = await mkdtemp(`${tmpdir()}/cfg-lkg-`);
      const file = `${dir}/sub/lkg.json`;
      try {
        streaming(
          { a: 1, on: true },
          { deployments: { a: { deploymentId: 'd1', side: 'canary' } } },
        );
        const first = client({ lastKnownGood: file });
        await first.ready({ timeout: 5000 });
        await first.close();
        const saved = JSON.parse(await readFile(file, 'utf8'));
        expect(saved).to.include({ format: 1, tenant: 't1', environment: 'Staging', etag: 'e1' });
        expect(saved.configs).to.deep.equal({ a: 1, on: true });
        expect((await stat(file)).mode & 0o777).to.equal(0o600);

        const port = service.port;
        await service.stop();
        const second = client({ url: `http://127.0.0.1:${port}`, lastKnownGood: file });
        const failed: unknown[] = [];
        second.on('failed', (e) => failed.push(e));
        const s = await second.ready({ timeout: 60_000 });
        expect(s.source).to.equal('last-known-good');
        expect(second.getBoolean('on', false)).to.equal(true);
        expect(second.lookup('a')).to.deep.equal({
          key: 'a',
          value: 1,
          version: 1,
          deployment: { deploymentId: 'd1', side: 'canary' },
          source: 'last-known-good',
        });
        expect(failed).to.have.length(1);

        // Back: the first request names no ETag (fallback values are never taken as current).
        service = await new FakeService().start(port);
        streaming({ a: 1, on: false });
        const ready: unknown[] = [];
        second.on('ready', (snap) => ready.push(snap));
        await until('the live values', () => second.snapshot?.source === 'service');
        expect(service.requestsTo(ENV_PATH)[0]!.headers['last-event-id']).to.equal(undefined);
        expect(second.getBoolean('on', true)).to.equal(false);
        expect(ready).to.have.length(1);
      } finally {
        await rm(dir, { recursive: true });
      }
    });

    it('goes to the temp directory by default and nowhere when turned off', async function () {
      const { readdir, rm } = await import('node:fs/promises');
      const { tmpdir } = await import('node:os');
      const tenant = `lkg${Date.now().toString(36)}`;
      const path = `/api/v1/tenants/${tenant}/environments/Staging/configs`;
      service.answer((req, res) => {
        if (req.url?.startsWith(path)) service.openStream(res, snapshotEvent('e1', envBody({})));
        else res.writeHead(404).end();
      });
      const mine = async () =>
        (await readdir(tmpdir())).filter((f) => f.startsWith(`config-service-${tenant}-Staging-`));
      const off = client({ tenant });
      await off.ready({ timeout: 5000 });
      await off.close();
      expect(await mine()).to.deep.equal([]);
      const on = client({ tenant, lastKnownGood: undefined });
      await on.ready({ timeout: 5000 });
      await on.close();
      const files = await mine();
      expect(files).to.have.length(1);
      await rm(`${tmpdir()}/${files[0]}`);
    });
  });

  describe('typed getters', function () {
    it('return the fallback on a type mismatch and report it once per key and kind', async function () {
      streaming({ greeting: 'hi', n: 5, flag: false, obj: { a: 1 }, list: [1], nil: null });
      const c = client();
      const errors: unknown[] = [];
      c.on('error', (e) => errors.push(e));
      await c.ready({ timeout: 5000 });
      expect(c.getNumber('greeting', 99)).to.equal(99);
      expect(c.get('greeting', 99)).to.equal(99);
      expect(c.getNumber('greeting', 98)).to.equal(98);
      expect(c.getString('greeting', 'x')).to.equal('hi');
      expect(c.get('greeting', 'x')).to.equal('hi');
      expect(c.getNumber('n', 0)).to.equal(5);
      expect(c.getBoolean('flag', true)).to.equal(false);
      expect(c.getBoolean('n', true)).to.equal(true);
      expect(c.getJson('obj', {})).to.deep.equal({ a: 1 });
      expect(c.getJson('list', [])).to.deep.equal([1]);
      expect(c.getJson('nil', { d: 1 })).to.deep.equal({ d: 1 });
      expect(c.getString('missing', 'fallback')).to.equal('fallback');
      expect(c.get('missing')).to.equal(undefined);
      expect(errors.map((e) => (e as ConfigTypeError).message)).to.deep.equal([
        "config 'greeting' is string, not number: the fallback was used",
        "config 'n' is number, not boolean: the fallback was used",
        "config 'nil' is null, not json: the fallback was used",
      ]);
      expect(errors[0]).to.be.instanceOf(ConfigTypeError).and.include({
        key: 'greeting',
        expected: 'number',
        actual: 'string',
      });
    });
  });

  describe('listeners', function () {
    it('keep running when one throws; the throw is an error event', async function () {
      streaming({ a: 1 });
      const c = client();
      await c.ready({ timeout: 5000 });
      const errors: unknown[] = [];
      const seen: number[] = [];
      c.on('error', (e) => errors.push(e));
      c.on('change', () => {
        throw new Error('listener broke');
      });
      const off = c.on('change', (s) => seen.push(s.configs.a as number));
      service.push(snapshotEvent('e2', envBody({ a: 2 })));
      await until('the change', () => seen.length === 1);
      off();
      service.push(snapshotEvent('e3', envBody({ a: 3 })));
      await until('the next value', () => c.get('a') === 3);
      expect(seen).to.deep.equal([2]);
      expect(errors.map((e) => (e as Error).message)).to.deep.equal([
        'listener broke',
        'listener broke',
      ]);
    });
  });

  describe('outcomes', function () {
    it('are counted per deployment and side, kept when a send fails, and sent at close', async function () {
      streaming(
        { a: 1, b: 2, plain: 3 },
        {
          deployments: {
            a: { deploymentId: 'd-a', side: 'canary' },
            b: { deploymentId: 'd-b', side: 'stable' },
          },
        },
      );
      const c = client({ reportIntervalMs: 3_600_000 });
      await c.ready({ timeout: 5000 });
      const bodies: Record<string, unknown>[] = [];
      let fail = true;
      const stream = service.streams;
      service.answer((req, res, body) => {
        if (fail) {
          res.writeHead(500).end();
          return;
        }
        bodies.push({ url: req.url, ...JSON.parse(body) });
        res.writeHead(202, { 'Content-Type': 'application/json' }).end('{}');
      });
      expect(stream.size).to.equal(1);
      for (let i = 0; i < 4; i++) c.recordOutcome('a', i !== 0);
      c.recordOutcome('b', false);
      c.recordOutcome('plain', false); // no canary on it: not counted
      const errors: unknown[] = [];
      c.on('error', (e) => errors.push(e));
      await c.flushOutcomes();
      expect(errors.map((e) => (e as ConfigServiceError).status)).to.deep.equal([500, 500]);
      fail = false;
      c.recordOutcome('a', false);
      await c.close();
      expect(bodies).to.have.deep.members([
        { url: '/api/v1/deployments/d-a/metrics', requests: 5, errors: 2, side: 'canary' },
        { url: '/api/v1/deployments/d-b/metrics', requests: 1, errors: 1, side: 'stable' },
      ]);
      const metrics = service.requests.filter((r) => r.method === 'POST');
      expect(metrics.every((r) => r.headers.authorization === 'Bearer cfgk_test_secret')).to.equal(
        true,
      );
    });
  });

  describe('acknowledgements', function () {
    const ACK_PATH = '/api/v1/tenants/t1/environments/Staging/acknowledgements';
    type Report = { instanceId: string; acknowledgements: Record<string, unknown>[] };

    /** Streams `configs`; acknowledgements answer `ackAnswer()` and are collected. */
    function withAcks(
      configs: Record<string, unknown>,
      extra: Record<string, unknown> = {},
      ackAnswer: () => [number, object] = () => [
        200,
        { recorded: 1, resend: false, heartbeatSeconds: 3600 },
      ],
    ) {
      const reports: Report[] = [];
      service.answer((req, res, body) => {
        if (req.url?.startsWith(ENV_PATH)) {
          service.openStream(res, snapshotEvent('e1', envBody(configs, extra)));
        } else if (req.url === ACK_PATH && req.method === 'POST') {
          const [status, answer] = ackAnswer();
          if (status === 200) reports.push(JSON.parse(body) as Report);
          res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
        } else res.writeHead(404).end();
      });
      return reports;
    }

    it('reports each value applied once the listeners ran, batched, and again only when it changes', async function () {
      const reports = withAcks(
        { a: 1, b: 'x' },
        { deployments: { a: { deploymentId: 'dep_1', side: 'canary' } } },
      );
      const c = client({ acknowledge: true, acknowledgeIntervalMs: 20, clientId: 'pod-1' });
      let listened = 0;
      c.on('ready', () => listened++);
      await c.ready({ timeout: 5000 });
      await until('the first report', () => reports.length === 1);
      expect(listened).to.equal(1);
      expect(reports[0]).to.deep.equal({
        instanceId: 'pod-1',
        acknowledgements: [
          { key: 'a', version: 1, deploymentId: 'dep_1', side: 'canary', status: 'applied' },
          { key: 'b', version: 1, status: 'applied' },
        ],
      });
      // b changes (version 2); a is the same value: only b is news.
      service.push(
        snapshotEvent(
          'e2',
          envBody(
            { a: 1, b: 'y' },
            {
              versions: { a: 1, b: 2 },
              deployments: { a: { deploymentId: 'dep_1', side: 'canary' } },
            },
          ),
        ),
      );
      await until('the second report', () => reports.length === 2);
      expect(reports[1]!.acknowledgements).to.deep.equal([
        { key: 'b', version: 2, status: 'applied' },
      ]);
      const sent = service.requestsTo(ACK_PATH);
      expect(sent.every((r) => r.headers.authorization === 'Bearer cfgk_test_secret')).to.equal(
        true,
      );
    });

    it('reports rejections: a validator refusing (the old value stays), a listener throwing, the app', async function () {
      const reports = withAcks({ limit: 5, name: 'x' });
      const c = client({
        acknowledge: true,
        acknowledgeIntervalMs: 20,
        instanceId: 'pod-2',
        validate: (key, value) => {
          if (key === 'limit' && (value as number) > 10) throw new Error('limit above 10');
        },
      });
      const errors: unknown[] = [];
      c.on('error', (e) => errors.push(e));
      c.on('change', (_s, keys) => {
        if (keys.includes('name')) throw new Error('cannot rename now');
      });
      await c.ready({ timeout: 5000 });
      await until('the first report', () => reports.length === 1);
      service.push(
        snapshotEvent('e2', envBody({ limit: 50, name: 'y' }, { versions: { limit: 2, name: 2 } })),
      );
      await until('the rejections', () => reports.length === 2);
      expect(c.get('limit')).to.equal(5);
      expect(c.lookup('limit')?.version).to.equal(1);
      expect(c.get('name')).to.equal('y');
      expect(reports[1]!.acknowledgements).to.have.deep.members([
        { key: 'limit', version: 2, status: 'rejected', reason: 'limit above 10' },
        { key: 'name', version: 2, status: 'rejected', reason: 'cannot rename now' },
      ]);
      expect(errors.map((e) => (e as Error).message)).to.deep.equal(['cannot rename now']);

      // Another change elsewhere is not news for the rejected keys.
      service.push(
        snapshotEvent(
          'e3',
          envBody(
            { limit: 50, name: 'y', other: true },
            { versions: { limit: 2, name: 2, other: 1 } },
          ),
        ),
      );
      await until('the third report', () => reports.length === 3);
      expect(reports[2]!.acknowledgements).to.deep.equal([
        { key: 'other', version: 1, status: 'applied' },
      ]);
      // The app turns a value down itself.
      c.reject('other', 'not in this region');
      await c.flushAcknowledgements();
      expect(reports[3]!.acknowledgements).to.deep.equal([
        { key: 'other', version: 1, status: 'rejected', reason: 'not in this region' },
      ]);
    });

    it('keeps a report that failed, reports everything when asked to, and stops when refused', async function () {
      let answer: [number, object] = [500, {}];
      const reports = withAcks({ a: 1, b: 2 }, {}, () => answer);
      const c = client({ acknowledge: true, acknowledgeIntervalMs: 3_600_000, instanceId: 'p' });
      const errors: unknown[] = [];
      c.on('error', (e) => errors.push(e));
      await c.ready({ timeout: 5000 });
      await c.flushAcknowledgements();
      expect((errors[0] as ConfigServiceError).status).to.equal(500);
      answer = [200, { recorded: 2, resend: false, heartbeatSeconds: 3600 }];
      await c.flushAcknowledgements();
      expect(reports[0]!.acknowledgements.map((a) => a.key)).to.deep.equal(['a', 'b']);
      // The service lost track of this instance: it asks for everything again.
      answer = [200, { recorded: 0, resend: true, heartbeatSeconds: 3600 }];
      c.reject('a', 'no');
      await c.flushAcknowledgements();
      answer = [200, { recorded: 2, resend: false, heartbeatSeconds: 3600 }];
      await c.flushAcknowledgements();
      expect(reports[2]!.acknowledgements).to.deep.equal([
        { key: 'b', version: 1, status: 'applied' },
      ]);
      // A key without the scope: said once, then nothing more is sent.
      answer = [403, { title: 'Forbidden' }];
      c.reject('b', 'no');
      await c.flushAcknowledgements();
      const before = service.requestsTo(ACK_PATH).length;
      c.reject('a', 'still no');
      await c.flushAcknowledgements();
      expect(service.requestsTo(ACK_PATH).length).to.equal(before);
      expect(errors.map((e) => (e as ConfigServiceError).status)).to.deep.equal([500, 403]);
    });
  });

  describe('long polls', function () {
    it('waits only once live, naming its ETag, and takes a 404 before any value as refused', async function () {
      let n = 0;
      service.answer((req, res) => {
        n++;
        if (n === 1) {
          res.writeHead(200, { 'Content-Type': 'application/json', ETag: '"e1"' });
          res.end(JSON.stringify(envBody({ a: 1 })));
        } else if (n === 2) {
          res.writeHead(304, { ETag: '"e1"' }).end();
        } else {
          res.writeHead(200, { 'Content-Type': 'application/json', ETag: '"e2"' });
          res.end(JSON.stringify(envBody({ a: 2 })));
          service.answer((_q, r) => setTimeout(() => r.writeHead(304).end(), 50));
        }
      });
      const c = client({ mode: 'poll', waitSeconds: 7 });
      expect((await c.ready({ timeout: 5000 })).configs).to.deep.equal({ a: 1 });
      await until('the second value', () => c.get('a') === 2);
      const seen = service.requestsTo(ENV_PATH);
      expect(seen[0]!.url).to.equal(ENV_PATH);
      expect(seen[0]!.headers['if-none-match']).to.equal(undefined);
      expect(seen[1]!.url).to.equal(`${ENV_PATH}?wait=7`);
      expect(seen[1]!.headers['if-none-match']).to.equal('"e1"');

      const missing = createClient({
        url: service.url,
        tenant: 'nope',
        environment: 'Staging',
        token: 't',
        mode: 'poll',
        lastKnownGood: false,
      });
      clients.push(missing);
      service.answer((_req, res) => res.writeHead(404).end());
      const error = await missing.ready({ timeout: 5000 }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(ConfigServiceError).with.property('status', 404);
    });
  });

  it('refuses options it cannot work with', function () {
    const base = { url: 'http://127.0.0.1:1', tenant: 't', environment: 'e' };
    expect(() => createClient(base)).to.throw(TypeError, 'give apiKey or token');
    expect(() => createClient({ ...base, tenant: '', token: 'x' })).to.throw('tenant is required');
    expect(() =>
      createClient({ ...base, token: 'x', mode: 'ws' as 'stream', lastKnownGood: false }),
    ).to.throw("mode is 'stream' or 'poll'");
  });
});
