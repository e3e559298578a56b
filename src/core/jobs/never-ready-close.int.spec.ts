/**
 * Workers closed while their Redis was never reached stay closed when Redis comes up later:
 * no worker of theirs connects and takes jobs after close() returned.
 */
import { expect } from 'chai';
import { Queue } from 'bullmq';
import { startWorkers } from './workers.js';
import { PrivateRedis, freePort } from '../../../test/support/private-servers.js';
import { startHarness, testSettings, type Harness } from '../../../test/support/harness.js';
import { bullConnection, bullPrefix, QUEUES } from './queues.js';
import { pino } from 'pino';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('workers: closed before Redis was ever reached', function () {
  this.timeout(60_000);
  let h: Harness;
  let redis: PrivateRedis | undefined;
  let port: number;

  before(async function () {
    port = await freePort();
    h = await startHarness({
      overrides: { ConnectionStrings__Redis: `127.0.0.1:${port}` },
      logger: pino({ level: 'silent' }),
    });
  });
  after(async function () {
    await h?.close();
    await redis?.destroy();
  });

  it('no worker connects once Redis comes up after close()', async function () {
    const workers = startWorkers(h.services, { idleWaitMs: 50 });
    await sleep(500);
    await workers.close(1000);
    redis = await PrivateRedis.start({ port });
    // Give anything still trying to connect a few retries (2 s apart at most).
    await sleep(5000);
    const connection = bullConnection(
      testSettings({ ConnectionStrings__Redis: `127.0.0.1:${port}` }),
    );
    const connected: string[] = [];
    for (const name of Object.values(QUEUES)) {
      const q = new Queue(name, { connection, prefix: bullPrefix(h.settings) });
      try {
        if ((await q.getWorkers()).length) connected.push(name);
      } finally {
        await q.close();
      }
    }
    expect(connected, 'queues with workers connected after close()').to.deep.equal([]);
  });
});
