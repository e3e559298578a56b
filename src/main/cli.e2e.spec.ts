import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { npmRun, processEnv, type Finished } from '../../test/support/processes.js';

/** Runs jobs a few at a time (each is a Node process; the machine has few cores). */
async function inBatches<T>(jobs: (() => Promise<T>)[], size = 4): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < jobs.length; i += size) {
    out.push(...(await Promise.all(jobs.slice(i, i + size).map((j) => j()))));
  }
  return out;
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');
const show = (r: Finished) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** Every script of src/main as the README runs it: `npm run <script> -- …`. */
const SCRIPTS = [
  'migrate',
  'token',
  'projections:rebuild',
  'keys:rotate',
  'events:export',
  'events:import',
  'dev',
  'dev:projector',
  'dev:worker',
];

describe('CLIs and processes (e2e)', function () {
  this.timeout(180_000);
  let dir: string;
  // A PostgreSQL nobody listens on: no CLI may connect anywhere to print its usage.
  const unreachable = processEnv({
    ConnectionStrings__PostgreSQL: 'Host=127.0.0.1;Port=1;Database=nowhere;Username=postgres',
  });

  before(function () {
    dir = mkdtempSync(path.join(tmpdir(), 'cfgsvc-cli-'));
    writeFileSync(path.join(dir, 'empty.ndjson'), '');
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('--help prints the usage on stdout and exits 0, touching nothing', async function () {
    const results = await inBatches(
      SCRIPTS.map((script) => () => npmRun(script, ['--help'], unreachable)),
    );
    results.forEach((r, i) => {
      expect(r.code, `${SCRIPTS[i]}: ${show(r)}`).to.equal(0);
      expect(r.stdout, SCRIPTS[i]).to.match(/^usage: npm /);
      expect(r.stderr, SCRIPTS[i]).to.equal('');
    });
  });

  it('an unknown flag exits 2 with the problem and the usage', async function () {
    const results = await inBatches(
      SCRIPTS.map((script) => () => npmRun(script, ['--bogus'], unreachable)),
    );
    results.forEach((r, i) => {
      expect(r.code, `${SCRIPTS[i]}: ${show(r)}`).to.equal(2);
      expect(r.stderr, SCRIPTS[i]).to.match(/Unknown option '--bogus'/);
      expect(r.stderr, SCRIPTS[i]).to.match(/^usage: npm /m);
      expect(r.stdout, SCRIPTS[i]).to.equal('');
    });
  });

  it('an unreachable database is one line and exit 1, not a stack trace', async function () {
    const runs: [string, string[]][] = [
      ['migrate', []],
      ['projections:rebuild', []],
      ['events:export', []],
      ['events:import', ['--in', path.join(dir, 'empty.ndjson')]],
    ];
    const results = await inBatches(
      runs.map(
        ([s, args]) =>
          () =>
            npmRun(s, args, unreachable),
      ),
    );
    results.forEach((r, i) => {
      const name = runs[i]![0];
      expect(r.code, `${name}: ${show(r)}`).to.equal(1);
      const last = lines(r.stderr).at(-1);
      expect(last, name).to.match(
        /^\w+ failed: cannot connect to 127\.0\.0\.1:1: connection refused \(is it running\?\)$/,
      );
      expect(r.stderr, `${name}: no stack trace`).to.not.match(/^\s+at /m);
      // Progress lines (import: what it checked) may come before; the failure is one line.
      expect(
        lines(r.stderr).filter((l) => /failed|error/i.test(l)),
        name,
      ).to.have.length(1);
    });
  });

  it('usage errors of a CLI exit 2 with the usage; a bad setting names it', async function () {
    const [noSub, badRole, noIn, badProjection, badSetting] = await inBatches([
      () => npmRun('token', ['--role', 'editor'], unreachable),
      () => npmRun('token', ['--sub', 'a', '--role', 'wizard', '--tenant', 't'], unreachable),
      () => npmRun('events:import', [], unreachable),
      () => npmRun('projections:rebuild', ['read-modle'], unreachable),
      () =>
        npmRun(
          'token',
          ['--sub', 'a', '--role', 'platform-admin'],
          processEnv({ ConfigService__CacheTTL: 'soon' }),
        ),
    ]);
    expect(noSub!.code, show(noSub!)).to.equal(2);
    expect(noSub!.stderr).to.match(/--sub and --role are required\nusage: npm run token/);
    expect(badRole!.code, show(badRole!)).to.equal(2);
    expect(badRole!.stderr).to.match(/unknown role\(s\): wizard/);
    expect(noIn!.code, show(noIn!)).to.equal(2);
    expect(noIn!.stderr).to.match(/--in is required/);
    expect(badProjection!.code, show(badProjection!)).to.equal(2);
    expect(badProjection!.stderr).to.match(/unknown projection\(s\): read-modle/);
    expect(badSetting!.code, show(badSetting!)).to.equal(2);
    expect(badSetting!.stderr).to.match(/ConfigService__CacheTTL/);
  });

  it('prints a warning for a misspelt setting, naming the right one, and carries on', async function () {
    const r = await npmRun(
      'token',
      ['--sub', 'ops', '--role', 'platform-admin'],
      processEnv({ ConfigService__RedisPrefix: 'team-a:' }),
    );
    expect(r.code, show(r)).to.equal(0);
    expect(r.stderr.trim()).to.equal(
      'warning: environment variable ConfigService__RedisPrefix is not a known setting and is ignored (did you mean ConfigService__RedisKeyPrefix?)',
    );
    expect(r.stdout).to.match(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  });
});
