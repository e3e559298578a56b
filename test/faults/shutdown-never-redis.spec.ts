/**
 * Fault: SIGTERM while Redis was never reachable (down from the start). Every process stops
 * cleanly within its grace: exit 0 and "stopped", not the forced exit past the grace.
 */
import { expect } from 'chai';
import request from 'supertest';
import { freePort } from '../support/private-servers.js';
import { processEnv, startProcess, type Running } from '../support/processes.js';
import { startHarness, uniqueTenant, type Harness } from '../support/harness.js';

const GRACE_MS = 20_000;

describe('faults: shutdown with Redis never reached', function () {
  this.timeout(120_000);
  const running: Running[] = [];
  let h: Harness;

  before(async function () {
    h = await startHarness();
  });
  after(async function () {
    await Promise.all(running.map((p) => p.stop()));
    await h?.close();
  });

  it('worker and `npm run dev` stop cleanly on SIGTERM with work waiting for Redis', async function () {
    const names = ['worker', 'all'];
    const redisPort = await freePort();
    const ports = await Promise.all(names.map(() => freePort()));
    const processes = names.map((name, i) => {
      const p = startProcess(
        name,
        processEnv({
          ConnectionStrings__Redis: `127.0.0.1:${redisPort}`,
          ConfigService__ShutdownTimeout: `PT${GRACE_MS / 1000}S`,
          ASPNETCORE_URLS: `http://127.0.0.1:${ports[i]}`,
          METRICS_PORT: String(ports[i]),
        }),
      );
      running.push(p);
      return p;
    });
    await Promise.all(
      processes.map((p, i) =>
        p.waitFor(
          names[i] === 'all' ? /\(API \+ projector \+ worker\) listening/ : /worker started/,
        ),
      ),
    );
    const tenantId = uniqueTenant('never');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: tenantId })
      .expect(201);
    const admin = h.token('tenant-admin', tenantId);
    await request(h.url)
      .post(`/api/v1/tenants/${tenantId}/webhooks`)
      .set('Authorization', `Bearer ${admin}`)
      .send({ url: 'http://hooks.example.invalid/cfg', events: ['config.changed'] })
      .expect(201);
    await request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', `Bearer ${h.token('editor', tenantId)}`)
      .send({ tenantId, key: 'k', value: 'v', type: 'String' })
      .expect(201);
    await new Promise((r) => setTimeout(r, 2500));
    for (const p of processes) p.kill('SIGTERM');
    const exits = await Promise.all(processes.map((p) => p.exited));
    const tail = (p: Running) =>
      p.output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .slice(-8)
        .join('\n');
    expect(
      exits.map((e, i) => `${names[i]}: ${e.code}`),
      processes.map((p, i) => `${names[i]}:\n${tail(p)}`).join('\n'),
    ).to.deep.equal(names.map((n) => `${n}: 0`));
  });
});
