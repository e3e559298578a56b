/**
 * PostgreSQL goes away while the worker runs (with work in flight): the worker and the services
 * still close.
 */
import { expect } from 'chai';
import request from 'supertest';
import { startWorkers } from './workers.js';
import { migrate } from '../postgres/migrate.js';
import { PrivatePostgres } from '../../../test/support/private-servers.js';
import { auth, startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { pino } from 'pino';
import { closedWithin } from '../../../test/support/until.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
describe('workers: PostgreSQL gone mid-run, shutdown', function () {
  this.timeout(120_000);
  let pgServer: PrivatePostgres;
  let h: Harness | undefined;

  before(async function () {
    pgServer = await PrivatePostgres.start();
    await pgServer.createDatabase('config_service');
    await migrate(pgServer.config('config_service'));
    h = await startHarness({
      overrides: {
        ConnectionStrings__PostgreSQL: pgServer.connectionString('config_service'),
      },
      logger: pino({ level: 'silent' }),
    });
  });
  after(async function () {
    await pgServer?.destroy();
  });

  it('workers.close() and services.close() end', async function () {
    const tenantId = uniqueTenant('pgdown');
    await request(h!.url)
      .post('/api/v1/tenants')
      .set(auth(h!.admin))
      .send({ tenantId, name: tenantId })
      .expect(201);
    await request(h!.url)
      .post(`/api/v1/tenants/${tenantId}/webhooks`)
      .set(auth(h!.token('tenant-admin', tenantId)))
      .send({ url: 'http://hooks.example.invalid/cfg', events: ['config.changed'] })
      .expect(201);
    await request(h!.url)
      .post('/api/v1/configs')
      .set(auth(h!.token('editor', tenantId)))
      .send({ tenantId, key: 'k', value: 'v', type: 'String' })
      .expect(201);
    const workers = startWorkers(h!.services, { idleWaitMs: 50 });
    await sleep(1500);
    await pgServer.stop('immediate');
    await sleep(1500);
    expect(await closedWithin('workers', workers.close(1000), 20_000)).to.equal('closed');
    expect(await closedWithin('harness', h!.close(), 20_000)).to.equal('closed');
  });
});
