/**
 * The answer checker (support/response-check.ts) itself: a server answering shapes its
 * declarations do not allow is caught, naming the route, the status and the issue. No database:
 * a plain node:http server with one declared route.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import request from 'supertest';
import { z } from 'zod';
import { route, type AnyRoute } from '../src/core/http/route.js';
import { checkLane, checkResponses, type Violation } from './support/response-check.js';
import { laneHead, type LaneAnswer, type LaneRequest } from '../src/core/http/fast-lane.js';

const widget = route({
  operationId: 'getWidget',
  method: 'get',
  path: '/widgets/:id',
  tag: 'Operations',
  summary: 'A widget',
  access: 'read',
  responses: { 200: { description: 'The widget', schema: z.strictObject({ id: z.string() }) } },
  errors: [404],
});

describe('the answer checker (unit)', function () {
  let server: http.Server;
  let url: string;
  const found: Violation[] = [];
  /** What the server answers next: status, content type, body. */
  let next: [number, string, string];

  before(async function () {
    server = http.createServer((_req, res) => {
      const [status, type, body] = next;
      res.writeHead(status, ['Content-Type', type]);
      res.end(body);
    });
    checkResponses(server, [widget as AnyRoute], found);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async function () {
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(function () {
    found.splice(0);
  });

  const json = 'application/json; charset=utf-8';
  const problem = 'application/problem+json; charset=utf-8';
  const problemBody = (status: number) =>
    JSON.stringify({ type: 'about:blank', title: 'Not found', status, detail: 'gone' });

  it('passes an answer of the declared shape, and a declared problem', async function () {
    next = [200, json, JSON.stringify({ id: 'w1' })];
    await request(url).get('/widgets/w1');
    next = [404, problem, problemBody(404)];
    await request(url).get('/widgets/w2');
    expect(found).to.deep.equal([]);
  });

  it('names the route, the status and the field of a body its schema does not allow', async function () {
    next = [200, json, JSON.stringify({ id: 1, extra: true })];
    await request(url).get('/widgets/w1');
    expect(found).to.have.length(1);
    expect(found[0]).to.include({ route: 'GET /widgets/:id', status: 200 });
    expect(found[0]!.problem).to.match(/^body: id: .*expected string/);
    expect(found[0]!.problem).to.include('extra');
  });

  it('catches an undeclared status, a problem that is not a Problem, and a wrong content type', async function () {
    next = [409, problem, problemBody(409)];
    await request(url).get('/widgets/w1');
    next = [404, problem, JSON.stringify({ message: 'gone' })];
    await request(url).get('/widgets/w1');
    next = [200, 'text/plain', 'w1'];
    await request(url).get('/widgets/w1');
    expect(found.map((v) => [v.status, v.problem.split(':')[0]])).to.deep.equal([
      [409, 'status 409 is not declared'],
      [404, 'Problem'],
      [200, 'answered as text/plain, declared application/json'],
    ]);
  });

  it('catches an answer to a request no route declares', async function () {
    next = [200, json, '{}'];
    await request(url).post('/widgets/w1');
    expect(found).to.deep.include({
      test: found[0]?.test,
      route: 'POST /widgets/w1',
      status: 200,
      problem: 'no route declares this request',
    });
  });

  it('checks the fast lane’s answers too, from their bytes', function () {
    let observe!: (req: LaneRequest, answer: LaneAnswer) => void;
    checkLane((observer) => (observe = observer), [widget as AnyRoute], found);
    const answer = (status: number, type: string, body: string): LaneAnswer => ({
      status,
      head: laneHead(status, [['Content-Type', type]]),
      body: Buffer.from(body),
    });
    const req = (method: 'GET' | 'HEAD') =>
      ({ method, url: '/widgets/w1', headers: {} }) as unknown as LaneRequest;
    observe(req('GET'), answer(200, json, JSON.stringify({ id: 'w1' })));
    observe(req('HEAD'), answer(200, json, JSON.stringify({ id: 'w1' })));
    expect(found).to.deep.equal([]);
    observe(req('GET'), answer(200, json, JSON.stringify({ id: 1 })));
    observe(req('GET'), answer(409, problem, problemBody(409)));
    observe(req('GET'), answer(200, 'text/plain', 'w1'));
    expect(found.map((v) => [v.route, v.status, v.problem.split(':')[0]])).to.deep.equal([
      ['GET /widgets/:id', 200, 'body'],
      ['GET /widgets/:id', 409, 'status 409 is not declared'],
      ['GET /widgets/:id', 200, 'answered as text/plain, declared application/json'],
    ]);
  });
});
