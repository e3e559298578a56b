import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import request from 'supertest';
import { Queues } from '../../core/jobs/queues.js';
import { startWorkers } from '../../core/jobs/workers.js';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { reconcileJobs } from '../../core/jobs/reconciler.js';
import { until } from '../../../test/support/until.js';

describe('webhook deliveries: lost jobs healed, old deliveries pruned (e2e)', function () {
  this.timeout(90_000);
  let h: Harness;
  let queues: Queues;
  let workers: ReturnType<typeof startWorkers>;
  before(async function () {
    h = await startHarness({
      runProjector: true,
      overrides: {
        ConfigService__Webhooks__AllowPrivateNetworks: 'true',
        // One retry, long enough to lose its job before it runs.
        ConfigService__Webhooks__RetrySchedule: 'PT4S',
        ConfigService__JobReconcileInterval: 'PT1S',
      },
    });
    queues = new Queues(h.settings);
    workers = startWorkers(h.services, { idleWaitMs: 50 });
  });
  after(async function () {
    await workers?.close();
    await queues?.close();
    await h?.close();
  });

  it('a delivery whose retry job was lost is retried by the reconciler and delivered once', async function () {
    const received: { id: string; answered: number }[] = [];
    let failures = 1;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const answered = failures-- > 0 ? 500 : 204;
        received.push({ id: String(req.headers['webhook-id']), answered });
        res.writeHead(answered).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const tenantId = uniqueTenant('heal-hook');
      await request(h.url)
        .post('/api/v1/tenants')
        .set('Authorization', `Bearer ${h.admin}`)
        .send({ tenantId, name: 'H' })
        .expect(201);
      const admin = h.token('tenant-admin', tenantId);
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const { body: hook } = await request(h.url)
        .post(`/api/v1/tenants/${tenantId}/webhooks`)
        .set('Authorization', `Bearer ${admin}`)
        .send({ url, events: ['config.changed'] })
        .expect(201);
      await request(h.url)
        .post('/api/v1/configs')
        .set('Authorization', `Bearer ${admin}`)
        .send({ tenantId, key: 'k', value: 'v', environment: 'Staging' })
        .expect(201);

      const row = async () =>
        (
          await h.services.pool.query<{ delivery_id: string; status: string; attempts: number }>(
            'SELECT delivery_id, status, attempts FROM webhook_deliveries WHERE webhook_id = $1',
            [hook.webhookId],
          )
        ).rows[0];
      const retrying = await until('the first attempt to fail', async () => {
        const r = await row();
        return r?.status === 'Retrying' ? r : undefined;
      });
      // Lose its job, as a Redis restarted without AOF would.
      const job = await queues.webhookDeliveries.getJob(retrying.delivery_id);
      await job!.remove();
      expect(await queues.webhookDeliveries.getJob(retrying.delivery_id)).to.equal(undefined);

      const delivered = await until('the healed delivery', async () => {
        const r = await row();
        return r?.status === 'Delivered' ? r : undefined;
      });
      expect(delivered.attempts).to.equal(2);
      expect(received.map((r) => r.answered)).to.deep.equal([500, 204]);
      expect(new Set(received.map((r) => r.id))).to.deep.equal(new Set([retrying.delivery_id]));
      // Later reconciler runs add nothing: it is finished.
      await new Promise((r) => setTimeout(r, 2500));
      expect(received).to.have.length(2);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('webhook delivery log retention (e2e)', function () {
  let h: Harness;
  let queues: Queues;
  before(async function () {
    // No workers: the reconciler is run by hand.
    h = await startHarness({ overrides: { ConfigService__Webhooks__DeliveryRetention: 'P7D' } });
    queues = new Queues(h.settings);
  });
  after(async function () {
    await queues?.close();
    await h?.close();
  });

  it("deletes finished deliveries older than the retention, never open ones, and re-adds open ones' jobs", async function () {
    const tenantId = uniqueTenant('prune');
    const insert = (id: string, status: string, daysAgo: number, attempts = 0) =>
      h.services.pool.query(
        `INSERT INTO webhook_deliveries (delivery_id, webhook_id, tenant_id, event_id, event_type,
                                         position, payload, status, attempts, created_at,
                                         last_attempt_at)
         VALUES ($1, 'wh_prune', $2, gen_random_uuid(), 'config.changed', 0, '{}', $3, $4,
                 (now() AT TIME ZONE 'UTC') - $5 * interval '1 day',
                 (now() AT TIME ZONE 'UTC') - $5 * interval '1 day')`,
        [`${tenantId}-${id}`, tenantId, status, attempts, daysAgo],
      );
    await insert('delivered-old', 'Delivered', 8);
    await insert('failed-old', 'Failed', 10);
    await insert('cancelled-old', 'Cancelled', 30);
    await insert('delivered-young', 'Delivered', 6);
    await insert('retrying-old', 'Retrying', 9, 3);

    const result = await reconcileJobs(h.services, queues);
    expect(result.pruned).to.equal(3);
    const { rows } = await h.services.pool.query<{ delivery_id: string }>(
      'SELECT delivery_id FROM webhook_deliveries WHERE tenant_id = $1 ORDER BY delivery_id',
      [tenantId],
    );
    expect(rows.map((r) => r.delivery_id)).to.deep.equal([
      `${tenantId}-delivered-young`,
      `${tenantId}-retrying-old`,
    ]);
    // The open delivery had no job (lost): it is back, with the attempts it has left, due now.
    expect(result.recreated).to.include(`${tenantId}-retrying-old`);
    const job = await queues.webhookDeliveries.getJob(`${tenantId}-retrying-old`);
    expect(job?.opts.attempts).to.equal(h.settings.webhooks.retryScheduleMs.length + 1 - 3);
    expect(job?.opts.delay).to.equal(0);
    // Run again: the job exists, nothing is added twice.
    expect((await reconcileJobs(h.services, queues)).recreated).not.to.include(
      `${tenantId}-retrying-old`,
    );
    await job!.remove();
  });
});
