/**
 * Redis goes away while the worker runs: the job scheduler's and the webhook dispatcher's adds
 * wait for it. The worker still closes; started again once Redis is back, nothing is lost: the
 * delivery is recorded and sent, the scheduled change gets its job.
 */
import { expect } from 'chai';
import request from 'supertest';
import { Queue } from 'bullmq';
import { startWorkers } from './workers.js';
import { PrivateRedis } from '../../../test/support/private-servers.js';
import { auth, startHarness, type Harness } from '../../../test/support/harness.js';
import { bullConnection, bullPrefix, QUEUES, scheduledChangeJobId } from './queues.js';
import { pino } from 'pino';
import { closedWithin, until } from '../../../test/support/until.js';
import { receiver, tenantWithWebhook } from '../../../test/support/webhook-receiver.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('workers: Redis gone mid-run, shutdown, then back', function () {
  this.timeout(90_000);
  let h: Harness;
  let redis: PrivateRedis;
  let rx: Awaited<ReturnType<typeof receiver>>;

  before(async function () {
    rx = await receiver();
    redis = await PrivateRedis.start({ persist: true });
    h = await startHarness({
      overrides: {
        ConnectionStrings__Redis: redis.connectionString,
        ConfigService__Webhooks__AllowPrivateNetworks: 'true',
      },
      logger: pino({ level: 'silent' }),
    });
  });
  after(async function () {
    if (!redis.running) await redis.startServer();
    await h?.close();
    await redis?.destroy();
    await rx?.close();
  });

  it('close() ends; after a restart the delivery is sent and the scheduled change has its job', async function () {
    const tenantId = await tenantWithWebhook(h, 'rdown', rx.url);
    const editor = h.token('editor', tenantId);
    const { body: config } = await request(h.url)
      .post('/api/v1/configs')
      .set(auth(editor))
      .send({ tenantId, key: 'k', value: 'v', type: 'String' })
      .expect(201);

    let workers = startWorkers(h.services, { idleWaitMs: 50 });
    await sleep(1500); // everything connected, the first delivery on its way
    await redis.stop('SIGKILL');
    await request(h.url)
      .put(`/api/v1/configs/${config.configId}`)
      .set(auth(editor))
      .set('If-Match', '"1"')
      .send({ value: 'w' })
      .expect(200);
    const { body: scheduled } = await request(h.url)
      .post(`/api/v1/configs/${config.configId}/scheduled-changes`)
      .set(auth(editor))
      .send({
        value: 'later',
        applyAt: new Date(Date.now() + 3_600_000).toISOString(),
        expectedVersion: 2,
      })
      .expect(201);
    await sleep(1500); // the scheduler and dispatcher now wait in their adds
    expect(await closedWithin('workers', workers.close(1000), 20_000)).to.equal('closed');

    await redis.startServer();
    workers = startWorkers(h.services, { idleWaitMs: 50 });
    try {
      const { rows: deliveries } = await until(
        'two deliveries Delivered',
        async () => {
          const r = await h.services.pool.query<{ delivery_id: string; status: string }>(
            `SELECT d.delivery_id, d.status FROM webhook_deliveries d WHERE tenant_id = $1`,
            [tenantId],
          );
          return r.rows.length === 2 && r.rows.every((x) => x.status === 'Delivered')
            ? r
            : undefined;
        },
        { retryErrors: true },
      );
      const q = new Queue(QUEUES.scheduledChanges, {
        connection: bullConnection(h.settings),
        prefix: bullPrefix(h.settings),
      });
      try {
        const job = await until(
          'the scheduled change job',
          async () => (await q.getJob(scheduledChangeJobId(scheduled.scheduleId))) ?? undefined,
          { retryErrors: true },
        );
        expect(job.id).to.equal(scheduledChangeJobId(scheduled.scheduleId));
      } finally {
        await q.close();
      }
      await sleep(300);
      for (const d of deliveries) {
        expect(rx.received.filter(({ id }) => id === d.delivery_id)).to.have.length(1);
      }
    } finally {
      await workers.close(1000);
    }
  });
});
