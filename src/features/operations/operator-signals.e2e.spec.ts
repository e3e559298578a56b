import { expect } from 'chai';
import request from 'supertest';
import { signToken } from '../../core/auth/auth.js';
import { startHarness, testSettings, uniqueTenant } from '../../../test/support/harness.js';
import { freePort } from '../../../test/support/private-servers.js';
import { processEnv, startProcess, type Running } from '../../../test/support/processes.js';

const jwt = testSettings().jwt;
const admin = signToken(jwt, { sub: 'root', roles: ['platform-admin'] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Log lines (JSON) of a process that match. */
const lines = (p: Running, match: (l: Record<string, unknown>) => boolean) => p.logs.filter(match);

async function untilLogged(p: Running, match: (l: Record<string, unknown>) => boolean) {
  for (let i = 0; i < 200 && lines(p, match).length === 0; i++) await sleep(50);
  return lines(p, match);
}

describe('operator signals (e2e)', function () {
  this.timeout(120_000);
  const running: Running[] = [];
  after(async function () {
    await Promise.all(running.map((p) => p.stop()));
  });

  it('`npm run dev` prints where everything is, logs each request, command, job and the shutdown', async function () {
    const port = await freePort();
    const dev = startProcess('all', processEnv({ ASPNETCORE_URLS: `http://127.0.0.1:${port}` }));
    running.push(dev);
    await dev.waitFor(/Dashboard/);
    const base = `http://localhost:${port}`;
    expect(dev.stderr).to.include(`API        ${base}/api/v1`);
    expect(dev.stderr).to.include(`Swagger    ${base}/swagger`);
    expect(dev.stderr).to.include(`Dashboard  ${base}/admin/queues?access_token=<token>`);
    expect(dev.stderr).to.include('npm run -s token -- --sub ops --role platform-admin');
    const url = `http://127.0.0.1:${port}`;
    expect((await fetch(`${url}/swagger`)).status).to.equal(200);

    // A command: one access-log line with the request id, one command line with its outcome.
    const tenantId = uniqueTenant('logs');
    await request(url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${admin}`)
      .set('X-Correlation-Id', 'req-logs-1')
      .send({ tenantId, name: 'Logs' })
      .expect(201);
    const access = await untilLogged(
      dev,
      (l) => (l.req as { id?: string } | undefined)?.id === 'req-logs-1',
    );
    expect(access).to.have.length(1);
    expect(access[0]).to.deep.include({ msg: 'POST /api/v1/tenants 201' });
    expect(access[0]!.res).to.deep.equal({ statusCode: 201 });
    expect(access[0]!.responseTime).to.be.a('number');
    const [command] = await untilLogged(dev, (l) => l.correlationId === 'req-logs-1');
    expect(command).to.deep.include({
      msg: 'command done',
      command: 'POST /api/v1/tenants',
      status: 201,
      userId: 'root',
    });
    expect(command!.position).to.match(/^\d+$/);
    // A refused command says why.
    await request(url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${admin}`)
      .set('X-Correlation-Id', 'req-logs-2')
      .send({ tenantId, name: 'Again' })
      .expect(409);
    const [refused] = await untilLogged(
      dev,
      (l) => l.correlationId === 'req-logs-2' && l.msg === 'command refused',
    );
    expect(refused!.problem).to.match(/already exists/);

    // A job: a canary's step (1 s bake) is run by the worker and logged.
    const editor = signToken(jwt, { sub: 'alice', roles: ['editor'], tenant_id: tenantId });
    const { body: config } = await request(url)
      .post('/api/v1/configs')
      .set('Authorization', `Bearer ${editor}`)
      .send({ tenantId, key: 'k', value: 'a', environment: 'Staging' })
      .expect(201);
    const { body: deployment } = await request(url)
      .post('/api/v1/deployments')
      .set('Authorization', `Bearer ${editor}`)
      .send({ configId: config.configId, value: 'b', strategy: 'Canary', bakeTimeSeconds: 1 })
      .expect(201);
    const [job] = await untilLogged(
      dev,
      (l) =>
        l.msg === 'job done' &&
        (l.data as { deploymentId?: string }).deploymentId === deployment.deploymentId,
    );
    expect(job).to.deep.include({ queue: 'deployment-steps' });

    dev.kill('SIGTERM');
    expect(await dev.exited).to.deep.equal({ code: 0, signal: null });
    expect(lines(dev, (l) => l.msg === 'shutting down')[0]).to.deep.include({ signal: 'SIGTERM' });
    expect(lines(dev, (l) => l.msg === 'stopped')).to.have.length(1);
  });

  it('samples the access log as set; the hot read path logs only when asked to', async function () {
    const port = await freePort();
    const api = startProcess(
      'api',
      processEnv({
        ASPNETCORE_URLS: `http://127.0.0.1:${port}`,
        ConfigService__AccessLogSampleRate: '0',
        ConfigService__HotReadLogSampleRate: '1',
      }),
    );
    running.push(api);
    await api.waitFor(/listening/);
    const url = `http://127.0.0.1:${port}`;
    const tenantId = uniqueTenant('sample');
    await request(url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${admin}`)
      .send({ tenantId, name: 'S' })
      .expect(201);
    // (No projector runs here: the tenant is not in the read tables; any answer will do.)
    for (let i = 0; i < 5; i++) {
      await request(url).get(`/api/v1/tenants/${tenantId}`).set('Authorization', `Bearer ${admin}`);
    }
    const { status } = await request(url)
      .get(`/api/v1/tenants/${tenantId}/environments/Development/configs?access_token=secret`)
      .set('Authorization', `Bearer ${admin}`);
    const [hot] = await untilLogged(api, (l) => /\(hot read\)$/.test(String(l.msg)));
    expect(hot!.msg).to.equal(
      `GET /api/v1/tenants/${tenantId}/environments/Development/configs?access_token=[redacted] ${status} (hot read)`,
    );
    expect(lines(api, (l) => /\(hot read\)$/.test(String(l.msg)))).to.have.length(1);
    // Sample rate 0: no access-log line for the reads; the command is logged all the same.
    expect(
      lines(api, (l) => /^GET \/api\/v1\/tenants\/[\w-]+ \d+$/.test(String(l.msg))),
    ).to.have.length(0);
    expect(lines(api, (l) => l.msg === 'command done')).to.have.length(1);
  });

  it('413 names the limit; a change to a deleted config says to restore it', async function () {
    const h = await startHarness();
    try {
      const big = await request(h.url)
        .post('/api/v1/configs')
        .set('Authorization', `Bearer ${h.admin}`)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ value: 'x'.repeat(1_100_000) }))
        .expect(413);
      expect(big.body.detail).to.match(
        /^The request body \(\d+ bytes\) is larger than the limit of 1 MB \(1048576 bytes\)$/,
      );
      expect(big.body.limit).to.equal(1_048_576);

      const tenantId = uniqueTenant('del');
      await request(h.url)
        .post('/api/v1/tenants')
        .set('Authorization', `Bearer ${h.admin}`)
        .send({ tenantId, name: 'D' })
        .expect(201);
      const editor = h.token('editor', tenantId);
      const { body } = await request(h.url)
        .post('/api/v1/configs')
        .set('Authorization', `Bearer ${editor}`)
        .send({ tenantId, key: 'gone', value: 'v' })
        .expect(201);
      await request(h.url)
        .delete(`/api/v1/configs/${body.configId}`)
        .set('Authorization', `Bearer ${editor}`)
        .expect(200);
      const put = await request(h.url)
        .put(`/api/v1/configs/${body.configId}`)
        .set('Authorization', `Bearer ${editor}`)
        .set('If-Match', '"2"')
        .send({ value: 'back' })
        .expect(404);
      expect(put.body.detail).to.equal(
        `Configuration '${body.configId}' is deleted (version 2); restore it first with ` +
          `POST /api/v1/configs/${body.configId}/restore (where changes need approval: a change ` +
          'request with action Update and the value it should have)',
      );
      await request(h.url)
        .post(`/api/v1/configs/${body.configId}/restore`)
        .set('Authorization', `Bearer ${editor}`)
        .expect(200);
    } finally {
      await h.close();
    }
  });
});
