import http from 'node:http';
import { expect } from 'chai';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';

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
    tenantId = uniqueTenant('lane');
    await request(lane.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${lane.admin}`)
      .send({ tenantId, name: 'Lane', tier: 'Free' })
      .expect(201);
    const editor = lane.token('editor', tenantId);
    reader = lane.token('reader', tenantId);
    for (const [key, value, type] of [
      ['greeting', 'hello', 'String'],
      ['limits.max', 42, 'Integer'],
    ] as const) {
      const res = await request(lane.url)
        .post('/api/v1/configs')
        .set('Authorization', `Bearer ${editor}`)
        .send({ tenantId, key, value, type, environment: 'Staging' })
        .expect(201);
      position = res.headers['x-event-position']!;
    }
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
