import { expect } from 'chai';
import net from 'node:net';
import request from 'supertest';
import { startHarness, type Harness } from '../../../test/support/harness.js';
import { processEnv, startProcess, type Running } from '../../../test/support/processes.js';

/** The port a process says it serves /metrics on. */
async function metricsPort(p: Running): Promise<number> {
  await p.waitFor(/serving \/metrics on port \d+/);
  return Number(/serving \/metrics on port (\d+)/.exec(p.output)![1]);
}

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The README's separate-process start: projector and worker side by side on one machine. */
describe('projector and worker processes (e2e)', function () {
  this.timeout(120_000);
  const env = processEnv({ ConfigService__HeartbeatTimeout: 'PT2S', METRICS_PORT: undefined });
  let projector: Running | undefined;
  let worker: Running | undefined;
  let h: Harness | undefined;

  after(async function () {
    await Promise.all([projector?.stop(), worker?.stop()]);
    await h?.close();
  });

  const ready = async () => (await request(h!.url).get('/health/ready')).body;

  it('both run with the default ports, each serves /metrics, and readiness sees them alive', async function () {
    projector = startProcess('projector', env);
    worker = startProcess('worker', env);
    const [projectorPort, workerPort] = await Promise.all([
      metricsPort(projector),
      metricsPort(worker),
    ]);
    // Their own defaults (unless another program holds one here: then a free port, logged).
    expect(projectorPort).to.not.equal(workerPort);
    if (!/is not available/.test(projector.output)) expect(projectorPort).to.equal(9464);
    if (!/is not available/.test(worker.output)) expect(workerPort).to.equal(9465);
    for (const port of [projectorPort, workerPort]) {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).to.equal(200);
      expect(await res.text()).to.match(/^# TYPE worker_heartbeat_age_seconds gauge/m);
    }
    h = await startHarness({
      overrides: {
        ConfigService__RedisKeyPrefix: env.ConfigService__RedisKeyPrefix!,
        ConfigService__HeartbeatTimeout: 'PT2S',
      },
    });
    const body = await until('all alive', ready, (b) => b.status === 'Healthy');
    expect(body.worker.status).to.equal('Alive');
    for (const name of ['read-model', 'audit-log', 'redis-cache', 'job-scheduler']) {
      expect(body.projections[name].status, name).to.equal('Alive');
    }
    expect(worker.child.exitCode).to.equal(null);
  });

  it('a dead worker and dead projections are reported by readiness and the metrics', async function () {
    worker!.kill('SIGKILL');
    await worker!.exited;
    const body = await until('worker reported dead', ready, (b) => b.worker.status === 'Dead');
    // Still ready: this instance answers; it says what is wrong.
    expect(body.status).to.equal('Degraded');
    expect(body.degraded.join('\n')).to.match(/^worker: no heartbeat for [\d.]+ s/m);
    expect(body.projections['job-scheduler'].status).to.equal('Dead');
    const metrics = (await request(h!.url).get('/metrics')).text;
    expect(Number(/^worker_heartbeat_age_seconds (\S+)$/m.exec(metrics)![1])).to.be.above(2);
    expect(metrics).to.match(/^readiness_degraded 1$/m);

    projector!.kill('SIGKILL');
    await projector!.exited;
    const after = await until(
      'projections reported dead',
      ready,
      // Each projection beats on its own: wait until the last of them has gone quiet too.
      (b) =>
        ['read-model', 'audit-log', 'redis-cache'].every((n) => b.projections[n].status === 'Dead'),
    );
    for (const name of ['read-model', 'audit-log', 'redis-cache']) {
      expect(after.projections[name].status, name).to.equal('Dead');
      expect(after.degraded, name).to.satisfy((d: string[]) =>
        d.some((l) => l.startsWith(`projection ${name}: no heartbeat`)),
      );
    }
    const text = (await request(h!.url).get('/metrics')).text;
    expect(
      Number(/^projection_heartbeat_age_seconds\{projection="read-model"\} (\S+)$/m.exec(text)![1]),
    ).to.be.above(2);
  });

  it('a metrics port in use is logged and the process keeps working', async function () {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '0.0.0.0', r));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      worker = startProcess('worker', { ...env, METRICS_PORT: String(taken) });
      const port = await metricsPort(worker);
      expect(worker.output).to.match(
        new RegExp(`metrics port ${taken} is not available \\(EADDRINUSE\\)`),
      );
      expect(port).to.not.equal(taken);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).to.equal(200);
      const body = await until('worker alive again', ready, (b) => b.worker.status === 'Alive');
      expect(body.worker.status).to.equal('Alive');
      expect(worker.child.exitCode).to.equal(null);
    } finally {
      blocker.close();
    }
  });
});
