/**
 * cfgctl against the real service: sign in, get/set, history, diff, rollback, change requests,
 * deployments followed with a progress bar, watch; human and --json output; exit codes.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm, stat, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import request from 'supertest';
import { COMMANDS } from '@config-service/cli';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { until } from '../../client/test/fake-service.js';
import { cfgctlWith, type Run } from './cli-support.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

describe('cfgctl against the service (e2e)', function () {
  let h: Harness;
  let dir: string;
  let tenantId: string;
  let editor: string;
  let cfgctl: ReturnType<typeof cfgctlWith>;

  before(async function () {
    h = await startHarness({ runProjector: true, runWorker: true });
    dir = await mkdtemp(path.join(tmpdir(), 'cfgctl-'));
    cfgctl = cfgctlWith({ CFGCTL_CONFIG: path.join(dir, 'config.json') });
    tenantId = uniqueTenant('cli');
    const created = await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'CLI', tier: 'Enterprise' })
      .expect(201);
    // The tenant was made outside cfgctl, so its profile holds no position to read after: wait
    // here until the read side has the tenant's environments, as a client would (X-Min-Position).
    await request(h.url)
      .get(`/api/v1/configs?tenantId=${tenantId}&environment=Staging`)
      .set('Authorization', `Bearer ${h.admin}`)
      .set('X-Min-Position', String(created.headers['x-event-position']))
      .expect(200);
    editor = h.token(['editor', 'approver'], tenantId, { sub: 'alice' });
    const login = await cfgctl([
      'login',
      '--url',
      h.url,
      '--tenant',
      tenantId,
      '--env',
      'Staging',
      '--token',
      editor,
    ]);
    expect(login, login.err).to.include({ code: 0 });
  });
  after(async function () {
    await h?.close();
    if (dir) await rm(dir, { recursive: true });
  });

  /** Runs `args` until `done` holds for the answer (or 5 s pass), and returns the last answer. */
  async function eventually(args: string[], done: (r: Run) => boolean): Promise<Run> {
    const deadline = Date.now() + 5000;
    let r = await cfgctl(args);
    while (!done(r) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      r = await cfgctl(args);
    }
    return r;
  }

  const ok = (r: Run) => {
    expect(r.code, r.err).to.equal(0);
    return r;
  };

  it('saves the sign-in owner-only and refuses a credential the service refuses', async function () {
    const file = path.join(dir, 'config.json');
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
    const saved = JSON.parse(await readFile(file, 'utf8'));
    expect(saved.current).to.equal('default');
    expect(saved.profiles.default).to.deep.include({
      url: h.url,
      tenant: tenantId,
      environment: 'Staging',
    });
    const other = cfgctlWith({ CFGCTL_CONFIG: path.join(dir, 'other.json') });
    const refused = await other(['login', '--url', h.url, '--token', 'not-a-token']);
    expect(refused.code).to.equal(1);
    expect(refused.err).to.equal(`cfgctl: ${h.url} refused the credential (401)\n`);
    const none = await other(['deployment', 'status', 'd1']);
    expect(none).to.include({ code: 1 });
    expect(none.err).to.equal(
      'cfgctl: no service URL: sign in with `cfgctl login --url …` or pass --url\n',
    );
  });

  it('sets, gets, lists history, diffs and rolls back a key', async function () {
    ok(await cfgctl(['set', 'checkout.timeout', '30', '--type', 'Integer', '-m', 'first']));
    const changed = ok(await cfgctl(['set', 'checkout.timeout', '45']));
    expect(changed.out).to.equal('checkout.timeout = 45 (version 2)\n');
    ok(await cfgctl(['set', 'retry', '{"max": 3, "backoff": "exp"}', '--type', 'JSON']));
    ok(await cfgctl(['set', 'retry', '{"max": 5, "backoff": "exp"}']));
    // Apps' reads answer once the read side has the change.
    expect(ok(await eventually(['get', 'checkout.timeout'], (r) => r.out === '45\n')).out).to.equal(
      '45\n',
    );
    const json = ok(await cfgctl(['get', 'checkout.timeout', '--json']));
    expect(JSON.parse(json.out)).to.include({
      key: 'checkout.timeout',
      value: 45,
      type: 'Integer',
      version: 2,
    });
    const all = JSON.parse(
      ok(await eventually(['get', '--json'], (r) => r.out.includes('"max": 5'))).out,
    );
    expect(all.configs).to.deep.equal({
      'checkout.timeout': 45,
      retry: { max: 5, backoff: 'exp' },
    });

    const history = ok(await cfgctl(['history', 'checkout.timeout']));
    const lines = history.out.trimEnd().split('\n');
    expect(lines[0]).to.match(/^VERSION\s+CHANGE\s+VALUE\s+BY\s+AT\s+DESCRIPTION$/);
    expect(lines[1]).to.match(/^2\s+Updated\s+45\s+alice\s/);
    expect(lines[2]).to.match(/^1\s+Created\s+30\s+alice\s.*first$/);

    const diff = ok(await cfgctl(['diff', 'retry', '1', '2']));
    expect(diff.out).to.equal(
      [
        '--- retry version 1',
        '+++ retry version 2',
        '  {',
        '-   "max": 3,',
        '+   "max": 5,',
        '    "backoff": "exp"',
        '  }',
        '',
      ].join('\n'),
    );
    const diffJson = JSON.parse(ok(await cfgctl(['diff', 'retry', '1', '2', '--json'])).out);
    expect(diffJson).to.deep.equal({
      key: 'retry',
      changed: true,
      from: { version: 1, value: { max: 3, backoff: 'exp' } },
      to: { version: 2, value: { max: 5, backoff: 'exp' } },
    });

    const rolled = ok(await cfgctl(['rollback', 'checkout.timeout', '1', '-m', 'too long']));
    expect(rolled.out).to.equal('checkout.timeout = 30 (version 3, from version 1)\n');
  });

  it('fails with one line (exit 1) and misuse with the usage (exit 2)', async function () {
    const missing = await cfgctl(['history', 'no.such.key']);
    expect(missing).to.deep.equal({
      code: 1,
      out: '',
      err: "cfgctl: no configuration 'no.such.key' in Staging\n",
    });
    const badType = await cfgctl(['set', 'n', 'abc', '--type', 'Integer']);
    expect(badType.code).to.equal(1);
    expect(badType.err.trimEnd().split('\n')).to.have.length(1);
    expect(badType.err).to.equal('cfgctl: 422 value must be a whole number for type Integer\n');
    const flag = await cfgctl(['get', 'x', '--colour']);
    expect(flag.code).to.equal(2);
    expect(flag.err).to.match(/^cfgctl get: Unknown option '--colour'/);
    expect(flag.err).to.include('usage: cfgctl get [key] [options]');
    const args = await cfgctl(['diff', 'x', '1']);
    expect(args.code).to.equal(2);
    expect(args.err).to.match(/^cfgctl diff: missing <to>/);
    expect((await cfgctl(['frobnicate'])).code).to.equal(2);
    expect((await cfgctl(['deployment'])).err).to.match(
      /^cfgctl: deployment: missing subcommand \(status, follow/,
    );
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = await cfgctl(['get', 'x', '--url', `http://127.0.0.1:${port}`]);
    expect(unreachable).to.deep.include({
      code: 1,
      err: `cfgctl: cannot reach http://127.0.0.1:${port}: ECONNREFUSED\n`,
    });
  });

  it('prints --help for every command and exits 0', async function () {
    const general = ok(await cfgctl(['--help']));
    for (const c of COMMANDS) {
      expect(general.out).to.include(`  ${c.name} `);
      const help = ok(await cfgctl([...c.name.split(' '), '--help']));
      expect(help.out).to.match(new RegExp(`^usage: cfgctl ${c.name}`));
      expect(help.err).to.equal('');
    }
    expect(ok(await cfgctl(['help', 'deployment', 'follow'])).out).to.match(
      /^usage: cfgctl deployment follow/,
    );
  });

  it('proposes, approves and rejects change requests where approval is needed', async function () {
    const prod = (args: string[]) => cfgctl([...args, '--env', 'Production']);
    const direct = await prod(['set', 'feature.x', 'true', '--type', 'Boolean']);
    expect(direct.code).to.equal(1);
    expect(direct.err).to.match(/^cfgctl: 409 .*\(propose it instead: `cfgctl request`\)\n$/);
    const proposed = JSON.parse(
      ok(await prod(['request', 'feature.x', 'true', '--type', 'Boolean', '--json'])).out,
    );
    expect(proposed).to.include({ status: 'Pending', key: 'feature.x' });
    const listed = ok(await prod(['requests', '--status', 'Pending']));
    expect(listed.out).to.include(proposed.approvalId);
    // Nobody approves their own request: another approver does.
    const bob = cfgctlWith({
      CFGCTL_CONFIG: path.join(dir, 'config.json'),
      CFGCTL_TOKEN: h.token('approver', tenantId, { sub: 'bob' }),
    });
    const approved = await bob(['approve', proposed.approvalId, '-m', 'fine']);
    expect(approved.code, approved.err).to.equal(0);
    expect(approved.out).to.match(
      new RegExp(`^change request ${proposed.approvalId}: Approved, deployment `),
    );
    const second = JSON.parse(ok(await prod(['request', 'feature.x', 'false', '--json'])).out);
    const rejected = ok(await bob(['reject', second.approvalId, '-m', 'no']));
    expect(rejected.out).to.equal(`change request ${second.approvalId}: Rejected\n`);
  });

  it('follows a deployment with a progress bar to completion (0) or rollback (3)', async function () {
    ok(await cfgctl(['set', 'limit', '10', '--type', 'Integer']));
    const started = JSON.parse(
      ok(
        await cfgctl([
          'deploy',
          'limit',
          '20',
          '--canary',
          '--steps',
          '50,100',
          '--bake',
          '3600',
          '--json',
        ]),
      ).out,
    );
    const id = started.deploymentId as string;
    await request(h.url)
      .post(`/api/v1/deployments/${id}/metrics`)
      .set('Authorization', `Bearer ${h.token('reader', tenantId)}`)
      .send({ requests: 10, errors: 1, side: 'canary' })
      .expect(200);
    const status = ok(
      await eventually(['deployment', 'status', id], (r) => r.out.includes('10 req')),
    );
    expect(status.out).to.match(
      /^limit → 20 \(Canary, Staging\)\n\[█{15}░{15}\]  50 %  InProgress/,
    );
    expect(ok(await cfgctl(['deployment', 'pause', id])).out).to.equal(
      `deployment ${id}: Paused\n`,
    );
    expect(ok(await cfgctl(['deployment', 'resume', id])).out).to.equal(
      `deployment ${id}: InProgress\n`,
    );
    // Promote while following: the bar moves to 100 % and the command ends with 0.
    let promoted = false;
    const followed = await cfgctl(['deployment', 'follow', id, '--interval', '0.1'], {
      onOut: () => {
        if (promoted) return;
        promoted = true;
        void cfgctl(['deployment', 'promote', id]);
      },
    });
    expect(followed.code, followed.err).to.equal(0);
    const lines = followed.out.trimEnd().split('\n');
    expect(lines[0]).to.equal(
      `[${'█'.repeat(15)}${'░'.repeat(15)}]  50 %  InProgress  canary 10 req / 1 err`,
    );
    expect(lines.at(-1)).to.equal(`[${'█'.repeat(30)}] 100 %  Completed  canary 10 req / 1 err`);
    // On a terminal the bar is redrawn in place.
    const tty = await cfgctl(['deployment', 'follow', id], { tty: true });
    expect(tty.out).to.equal(
      `\r\x1b[2K[${'█'.repeat(30)}] 100 %  Completed  canary 10 req / 1 err\n`,
    );

    const again = JSON.parse(
      ok(await cfgctl(['deploy', 'limit', '30', '--canary', '--bake', '3600', '--json'])).out,
    );
    const stop = ok(
      await cfgctl(['deployment', 'rollback', again.deploymentId, '--reason', 'p99']),
    );
    expect(stop.out).to.equal(`deployment ${again.deploymentId}: RolledBack\n`);
    const rolled = await cfgctl(['deployment', 'follow', again.deploymentId, '--json']);
    expect(rolled.code).to.equal(3);
    expect(JSON.parse(rolled.out)).to.include({ status: 'RolledBack', rollbackReason: 'p99' });
    const noReason = await cfgctl(['deployment', 'rollback', again.deploymentId]);
    expect(noReason.code).to.equal(2);
    const listed = ok(await cfgctl(['deployments', '--status', 'RolledBack']));
    expect(listed.out).to.include(again.deploymentId);
  });

  it('watches a key live until interrupted (130)', async function () {
    ok(await cfgctl(['set', 'banner', 'hello']));
    const abort = new AbortController();
    const seen: string[] = [];
    const watching = cfgctl(['watch', 'banner'], {
      signal: abort.signal,
      onOut: (s) => seen.push(...s.trimEnd().split('\n')),
    });
    await until('the first value', () => seen.some((l) => l.endsWith('  hello')));
    ok(await cfgctl(['set', 'banner', 'bye']));
    await until('the change', () => seen.some((l) => l.endsWith('  bye')));
    abort.abort();
    const done = await watching;
    expect(done.code).to.equal(130);
    expect(seen.map((l) => l.replace(/^\S+ {2}/, ''))).to.deep.equal(['hello', 'bye']);
  });

  it('is a binary: exit codes of the process itself', async function () {
    // Three processes, each loading TypeScript through tsx: seconds apiece on a busy machine.
    this.timeout(60_000);
    const run = (args: string[]) =>
      promisify(execFile)(
        process.execPath,
        [
          '--import',
          'tsx',
          '--conditions=@config-service/source',
          'packages/cli/src/bin.ts',
          ...args,
        ],
        {
          cwd: root,
          env: { ...process.env, CFGCTL_CONFIG: path.join(dir, 'config.json') },
        },
      ).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const help = await run(['get', '--help']);
    expect(help.code).to.equal(0);
    const bad = await run(['get', '--nope']);
    expect(bad.code).to.equal(2);
    const missing = await run(['history', 'nothing-here']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.equal("cfgctl: no configuration 'nothing-here' in Staging\n");
  });
});
