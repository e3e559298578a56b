/**
 * The workers' shutdown when Redis was never reached: their job scheduler's and webhook
 * dispatcher's adds wait on BullMQ connections that never became ready, which closing the
 * queues does not fail. close() must still end (and say what it left).
 */
import { expect } from 'chai';
import request from 'supertest';
import { startWorkers } from './workers.js';
import { freePort } from '../../../test/support/private-servers.js';
import { auth, startHarness, type Harness } from '../../../test/support/harness.js';
import { pino } from 'pino';
import { tenantWithWebhook } from '../../../test/support/webhook-receiver.js';
import { closedWithin } from '../../../test/support/until.js';

describe('workers: shutdown with a Redis never reached', function () {
  this.timeout(60_000);
  let h: Harness;

  before(async function () {
    h = await startHarness({
      overrides: { ConnectionStrings__Redis: `127.0.0.1:${await freePort()}` },
      logger: pino({ level: 'silent' }),
    });
  });

  it('close() ends although a webhook delivery add waits for Redis', async function () {
    const tenantId = await tenantWithWebhook(h, 'never-redis', 'http://hooks.example.invalid/cfg');
    await request(h.url)
      .post('/api/v1/configs')
      .set(auth(h.token('editor', tenantId)))
      .send({ tenantId, key: 'k', value: 'v', type: 'String' })
      .expect(201);

    const workers = startWorkers(h.services, { idleWaitMs: 50 });
    // The dispatcher reaches the new events and waits in its add.
    await new Promise((r) => setTimeout(r, 1500));
    const started = Date.now();
    expect(await closedWithin('workers', workers.close(1000), 20_000)).to.equal('closed');
    expect(Date.now() - started).to.be.below(10_000);
    // Nothing is left holding a PostgreSQL connection: the pool closes too (it waited forever
    // for one held by a batch stuck in its add).
    expect(await closedWithin('services', h.close(), 10_000)).to.equal('closed');
  });
});
