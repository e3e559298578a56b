/**
 * Job adds abandoned at shutdown (unlessAborted) that did reach Redis: the batch rolls back, the
 * job exists. A worker started again must add nothing twice, lose nothing, and send the
 * webhook delivery once.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import request from 'supertest';
import { Queue } from 'bullmq';
import { startWorkers } from './workers.js';
import { auth, startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('workers: a job add abandoned at shutdown after it reached Redis', function () {
  this.timeout(60_000);
  let h: Harness;
  const received: string[] = [];
  let server: http.Server;
  let url: string;

  before(async function () {
    server = http.createServer((req, res) => {
      received.push(String(req.headers['webhook-id']));
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    h = await startHarness({
      overrides: { ConfigService__Webhooks__AllowPrivateNetworks: 'true' },
    });
  });
  after(async function () {
    await h?.close();
    await new Promise((r) => server.close(r));
  });

  it('the delivery is recorded and sent once after the next start', async function () {
    const tenantId = uniqueTenant('abandon');
    await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({ tenantId, name: tenantId })
      .expect(201);
    await request(h.url)
      .post(`/api/v1/tenants/${tenantId}/webhooks`)
      .set(auth(h.token('tenant-admin', tenantId)))
      .send({ url, events: ['config.changed'] })
      .expect(201);

    // The first addBulk reaches Redis, then shutdown begins before its answer is in.
    const realAddBulk = Queue.prototype.addBulk;
    let workers: ReturnType<typeof startWorkers> | undefined;
    let added: string[] = [];
    let closing: Promise<void> | undefined;
    Queue.prototype.addBulk = async function (this: Queue, jobs) {
      const result = await realAddBulk.call(this, jobs);
      added = jobs.map((j) => String(j.opts?.jobId));
      closing ??= workers!.close(1000);
      await sleep(300);
      return result;
    } as typeof realAddBulk;
    try {
      workers = startWorkers(h.services, { idleWaitMs: 50 });
      await request(h.url)
        .post('/api/v1/configs')
        .set(auth(h.token('editor', tenantId)))
        .send({ tenantId, key: 'k', value: 'v', type: 'String' })
        .expect(201);
      await until('the dispatcher add', async () => (closing ? true : undefined));
      await closing;
    } finally {
      Queue.prototype.addBulk = realAddBulk;
    }
    expect(added).to.have.length(1);
    const deliveryId = added[0]!;
    const rows = async () =>
      (
        await h.services.pool.query<{ status: string }>(
          'SELECT status FROM webhook_deliveries WHERE delivery_id = $1',
          [deliveryId],
        )
      ).rows;
    // The batch rolled back (no row), though the job is in Redis.
    expect(await rows()).to.deep.equal([]);

    workers = startWorkers(h.services, { idleWaitMs: 50 });
    try {
      const status = await until('the delivery to be Delivered', async () => {
        const r = await rows();
        return r[0]?.status === 'Delivered' ? r[0].status : undefined;
      });
      expect(status).to.equal('Delivered');
      await sleep(500);
      expect(received.filter((id) => id === deliveryId)).to.have.length(1);
    } finally {
      await workers.close(1000);
    }
  });
});
