import { expect } from 'chai';
import net from 'node:net';
import { processEnv, startProcess, type Running } from '../../test/support/processes.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The pids that logged 'config service API listening' (pino writes one JSON line each). */
function listeningPids(output: string): number[] {
  return output
    .split('\n')
    .filter((l) => l.includes('config service API listening'))
    .map((l) => (JSON.parse(l) as { pid: number }).pid);
}

describe('API workers (ConfigService__ApiWorkers, e2e)', function () {
  this.timeout(120_000);
  let api: Running | undefined;
  afterEach(async function () {
    await api?.stop();
  });

  it('serves one port from n worker processes, and stops them all on SIGTERM', async function () {
    const port = await freePort();
    api = startProcess(
      'api',
      processEnv({ ConfigService__ApiWorkers: '2', ASPNETCORE_URLS: `http://127.0.0.1:${port}` }),
    );
    await api.waitFor(/config service API listening[\s\S]*config service API listening/);
    const workers = listeningPids(api.output);
    expect(new Set(workers).size).to.equal(2);
    expect(workers).not.to.include(api.child.pid);

    const res = await fetch(`http://127.0.0.1:${port}/health`);
    expect(res.status).to.equal(200);

    api.kill('SIGTERM');
    const { code } = await api.exited;
    expect(code).to.equal(0);
    for (const pid of workers) expect(alive(pid), `worker ${pid} still running`).to.equal(false);
  });
});
