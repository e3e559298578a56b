/**
 * Job adds abandoned at shutdown (unlessAborted) that did reach Redis: the batch rolls back, the
 * job exists. A worker started again must add nothing twice, lose nothing, and send the
 * webhook delivery once.
 */
import { expect } from 'chai';
import request from 'supertest';
import { Queue } from 'bullmq';
import { startWorkers } from './workers.js';
import { auth, startHarness, type Harness } from '../../../test/support/harness.js';
import { until } from '../../../test/support/until.js';
import { receiver, tenantWithWebhook } from '../../../test/support/webhook-receiver.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('workers: a job add abandoned at shutdown after it reached Redis', function () {
  this.timeout(60_000);
  let h: Harness;
  let rx: Awaited<ReturnType<typeof receiver>>;

  before(async function () {
    rx = await receiver();
    h = await startHarness({
      overrides: { ConfigService__Webhooks__AllowPrivateNetworks: 'true' },
    });
  });
  after(async function () {
    await h?.close();
    await rx?.close();
  });

  it('the delivery is recorded and sent once after the next start', async function () {
    const tenantId = await tenantWithWebhook(h, 'abandon', rx.url);

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
      expect(rx.received.filter(({ id }) => id === deliveryId)).to.have.length(1);
    } finally {
      await workers.close(1000);
    }
  });
});
