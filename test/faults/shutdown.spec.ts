/**
 * Fault: SIGTERM (or Ctrl-C) while Redis is unreachable (gone, or never reached). Every process stops cleanly within its
 * grace (ConfigService__ShutdownTimeout): exit code 0 and "stopped" in its log, not the forced
 * exit (code 1) nor a hang. A second signal ends a process at once.
 */
import { expect } from 'chai';
import http from 'node:http';
import { PrivateRedis } from '../support/private-servers.js';
import { processEnv, startProcess, type Running } from '../support/processes.js';
import { freePort } from '../support/private-servers.js';
import request from 'supertest';
import { startHarness, testSettings, uniqueTenant, type Harness } from '../support/harness.js';
import { signToken } from '../../src/core/auth/auth.js';

const GRACE_MS = 20_000;

describe('faults: shutdown with Redis down', function () {
  this.timeout(180_000);
  let redis: PrivateRedis;
  const running: Running[] = [];

  let h: Harness;

  before(async function () {
    redis = await PrivateRedis.start();
    // Same database as the processes, its own (the suite's) Redis.
    h = await startHarness();
  });
  after(async function () {
    await Promise.all(running.map((p) => p.stop()));
    await redis?.destroy();
    await h?.close();
  });

  it('api, projector, worker and `npm run dev` stop cleanly on SIGTERM within the grace', async function () {
    const names = ['api', 'projector', 'worker', 'all'];
    const processes = await startProcesses(names, redis.connectionString, running);
    await redis.stop('SIGKILL');
    // Work for the workers' job scheduler while their Redis is gone: a canary's first step job
    // and a webhook delivery, whose adds then wait for Redis (one such wait held a worker's
    // shutdown past its grace).
    await canaryAndWebhookWork(h);
    // Let every client notice that Redis is gone (they start reconnecting) and the scheduler
    // and webhook dispatcher (1 s idle wait) pick the new events up.
    await new Promise((r) => setTimeout(r, 2500));
    const started = Date.now();
    await stopsCleanly(names, processes);
    console.log(
      `      SIGTERM with Redis down: ${names.length} processes stopped in ${Date.now() - started} ms (grace ${GRACE_MS} ms)`,
    );
  });

  it('worker and `npm run dev` stop cleanly on SIGTERM with work waiting for a Redis never reached', async function () {
    const names = ['worker', 'all'];
    const processes = await startProcesses(names, `127.0.0.1:${await freePort()}`, running);
    await canaryAndWebhookWork(h);
    await new Promise((r) => setTimeout(r, 2500));
    await stopsCleanly(names, processes);
  });

  it('a second signal exits at once', async function () {
    await redis.startServer();
    const port = await freePort();
    const api = startProcess(
      'api',
      processEnv({
        ConnectionStrings__Redis: redis.connectionString,
        ASPNETCORE_URLS: `http://127.0.0.1:${port}`,
        ConfigService__ReadYourWritesTimeout: 'PT60S',
        ConfigService__ShutdownTimeout: 'PT60S',
      }),
    );
    running.push(api);
    await api.waitFor(/listening/);
    // A request that waits (60 s) for a position nobody reaches: the first SIGTERM lets it
    // finish, so the process is still stopping when the second signal comes.
    const token = signToken(testSettings().jwt, { sub: 'root', roles: ['platform-admin'] });
    const hanging = new Promise<void>((resolve) => {
      http
        .get(
          `http://127.0.0.1:${port}/api/v1/tenants/x?minPosition=999999999`,
          { headers: { Authorization: `Bearer ${token}` } },
          (res) => {
            res.resume();
            res.on('close', () => resolve());
          },
        )
        .on('error', () => resolve());
    });
    await new Promise((r) => setTimeout(r, 500));
    api.kill('SIGTERM');
    await api.waitFor(/"msg":"shutting down"/);
    api.kill('SIGTERM');
    const exit = await api.exited;
    expect(exit, api.output).to.deep.equal({ code: 128 + 15, signal: null });
    expect(api.output).to.match(/"msg":"second signal: exiting now"/);
    await hanging;
  });
});

/** Starts the named processes (src/main) with `redis` and waits until each says it started. */
async function startProcesses(
  names: string[],
  redis: string,
  running: Running[],
): Promise<Running[]> {
  const ports = await Promise.all(names.map(() => freePort()));
  const processes = names.map((name, i) => {
    const p = startProcess(
      name,
      processEnv({
        ConnectionStrings__Redis: redis,
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
      // Fully started: `dev` says so once its API listens, after its projector and workers.
      p.waitFor(
        names[i] === 'all'
          ? /\(API \+ projector \+ worker\) listening/
          : /listening|projector started|worker started/,
      ),
    ),
  );
  return processes;
}

/** SIGTERM to each; each exits 0 with "stopped", not the forced exit past its grace. */
async function stopsCleanly(names: string[], processes: Running[]): Promise<void> {
  for (const p of processes) p.kill('SIGTERM');
  const exits = await Promise.all(processes.map((p) => p.exited));
  // The log lines of each process (the dev process also prints its URLs for people).
  const tail = (p: Running) =>
    p.output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .slice(-12)
      .join('\n');
  expect(
    exits.map((e, i) => `${names[i]}: ${e.code}`),
    processes.map((p, i) => `${names[i]}:\n${tail(p)}`).join('\n'),
  ).to.deep.equal(names.map((n) => `${n}: 0`));
  processes.forEach((p, i) => {
    expect(p.output, names[i]).to.match(/"msg":"shutting down"/);
    expect(p.output, names[i]).to.match(/"msg":"stopped"/);
    expect(p.output, names[i]).to.not.match(/did not finish in time/);
  });
}

/** A tenant with a webhook, a config, and a long canary of it: events the workers act on. */
async function canaryAndWebhookWork(h: Harness): Promise<void> {
  const tenantId = uniqueTenant('shutdown');
  await request(h.url)
    .post('/api/v1/tenants')
    .set('Authorization', `Bearer ${h.admin}`)
    .send({ tenantId, name: tenantId, tier: 'Enterprise' })
    .expect(201);
  const admin = h.token('tenant-admin', tenantId);
  await request(h.url)
    .post(`/api/v1/tenants/${tenantId}/webhooks`)
    .set('Authorization', `Bearer ${admin}`)
    .send({ url: 'http://hooks.example.invalid/cfg', events: ['config.changed'] })
    .expect(201);
  const editor = h.token('editor', tenantId);
  const { body } = await request(h.url)
    .post('/api/v1/configs')
    .set('Authorization', `Bearer ${editor}`)
    .send({ tenantId, key: 'k', value: 'old', type: 'String' })
    .expect(201);
  await request(h.url)
    .post('/api/v1/deployments')
    .set('Authorization', `Bearer ${editor}`)
    .send({
      configId: body.configId,
      value: 'new',
      strategy: 'Canary',
      steps: [10, 50, 100],
      bakeTimeSeconds: 600,
    })
    .expect(201);
}
