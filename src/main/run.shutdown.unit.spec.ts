/**
 * onShutdown past its grace: exit code 1, and the log names the parts it was still waiting for
 * (so an operator, or a failed CI run, sees which part hung).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const run = fileURLToPath(new URL('./run.ts', import.meta.url));
const logger = fileURLToPath(new URL('../core/observability/logger.ts', import.meta.url));

const script = `
import { onShutdown } from ${JSON.stringify(run)};
import { createLogger } from ${JSON.stringify(logger)};
const log = createLogger('Information');
onShutdown(log, 300, async (step) => {
  await Promise.all([
    step('quick', new Promise((r) => setTimeout(r, 10))),
    step('stuck', new Promise(() => undefined)),
  ]);
});
setInterval(() => undefined, 1000);
process.stdout.write('ready\\n');
`;

describe('onShutdown', function () {
  it('past its grace exits 1 naming the parts still stopping', async function () {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 15_000;
    while (!out.includes('ready') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(out, out).to.include('ready');
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited, out).to.equal(1);
    const line = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; waitingFor?: string[] })
      .find((l) => l.msg === 'shutdown did not finish in time; exiting');
    expect(line, out).to.deep.include({ waitingFor: ['stuck'] });
  });
});
