import http from 'node:http';
import { expect } from 'chai';
import request from 'supertest';
import { startHarness, uniqueTenant } from '../../../test/support/harness.js';

describe('API shutdown (e2e)', function () {
  it('lets a request in flight finish, ends event streams, and then closes', async function () {
    const h = await startHarness({ overrides: { ConfigService__ReadYourWritesTimeout: 'PT1S' } });
    try {
      const tenantId = uniqueTenant('bye');
      await request(h.url)
        .post('/api/v1/tenants')
        .set('Authorization', `Bearer ${h.admin}`)
        .send({ tenantId, name: 'Bye' })
        .expect(201);
      const reader = h.token('reader', tenantId);
      // A stream that would never end by itself.
      const streamEnded = new Promise<string>((resolve, reject) => {
        http
          .get(
            `${h.url}/api/v1/tenants/${tenantId}/environments/Development/configs`,
            { headers: { Authorization: `Bearer ${reader}`, Accept: 'text/event-stream' } },
            (res) => {
              res.resume();
              res.on('end', () => resolve('ended'));
              res.on('error', reject);
            },
          )
          .on('error', reject);
      });
      // A read waiting (up to 1 s) for a position nobody will reach: it answers 503 in time.
      const head = await h.services.store.headPosition();
      const waiting = request(h.url)
        .get(`/api/v1/tenants/${tenantId}?minPosition=${head + 1000n}`)
        .set('Authorization', `Bearer ${reader}`)
        .then(
          (res) => res.status,
          (error: Error) => error.message,
        );
      // One keep-alive connection: a write queued behind a slow read.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const viaAgent = (method: string, path: string, body?: object) =>
        new Promise<string>((resolve) => {
          const req = http.request(
            `${h.url}${path}`,
            {
              method,
              agent,
              headers: {
                Authorization: `Bearer ${reader}`,
                'Content-Type': 'application/json',
              },
            },
            (res) => {
              res.resume();
              res.on('end', () => resolve(`${res.statusCode} ${res.headers.connection}`));
            },
          );
          req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
          req.end(body ? JSON.stringify(body) : undefined);
        });
      const slow = viaAgent('GET', `/api/v1/tenants/${tenantId}?minPosition=${head + 1000n}`);
      const queued = viaAgent('POST', '/api/v1/configs', { tenantId, key: 'k', value: 'v' }).then(
        (r) => (r.startsWith('ECONNREFUSED') ? 'ECONNREFUSED' : /^\d/.test(r) ? 'answered' : r),
      );
      await new Promise((r) => setTimeout(r, 200));
      const closing = h.api.close();
      expect(await streamEnded).to.equal('ended');
      expect(await waiting).to.equal(503); // a whole answer, not a reset connection
      expect(await slow).to.equal('503 close');
      const queuedOutcome = await queued;
      await closing;
      agent.destroy();
      // A request queued behind it on the same keep-alive connection was never half-sent: the
      // answer closed that connection, so the client had to open another (refused once closed).
      expect(queuedOutcome).to.be.oneOf(['ECONNREFUSED', 'answered']);
      // New connections are refused once closed.
      const after = await fetch(`${h.url}/health`).then(
        () => 'answered',
        () => 'refused',
      );
      expect(after).to.equal('refused');
    } finally {
      await h.close();
    }
  });
});
