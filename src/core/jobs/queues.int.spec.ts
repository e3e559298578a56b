/**
 * closeBull with a Redis that never answered: the queue's commands waiting for it fail, its
 * connections end, and the close returns (a shutdown of `npm run dev` once waited forever here).
 */
import { expect } from 'chai';
import { Queue, Worker } from 'bullmq';
import { freePort } from '../../../test/support/private-servers.js';
import { closeBull } from './queues.js';

describe('closeBull (integration)', function () {
  this.timeout(20_000);

  it('ends a queue and a worker whose Redis was never reached, failing the add that waits', async function () {
    // Nothing listens there: the clients never become ready and keep reconnecting.
    const connection = {
      host: '127.0.0.1',
      port: await freePort(),
      maxRetriesPerRequest: null,
      retryStrategy: () => 200,
    };
    const queue = new Queue('never-reached', { connection });
    const worker = new Worker('never-reached', async () => undefined, { connection });
    queue.on('error', () => undefined);
    worker.on('error', () => undefined);
    const add = queue.add('job', {}).then(
      () => 'added',
      (error: Error) => `failed: ${error.message}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    await Promise.all([closeBull(queue), closeBull(worker)]);
    expect(Date.now() - started).to.be.below(8_000);
    const outcome = await Promise.race([
      add,
      new Promise((r) => setTimeout(() => r('still waiting'), 5_000)),
    ]);
    expect(outcome).to.match(/^failed: /);
  });
});
