/**
 * cfgctl across environments against the real service: compare (table and --json), promote
 * (dry run, applied, stale refused with exit 4, into an approval-required environment as one
 * change request approved with `cfgctl approve cs_…`), export → import round trips in every
 * format, import into Production as one change request (cancelled by its requester), import
 * dry runs and refusals naming lines (exit 5), a version conflict mid-write (exit 4).
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { cfgctlWith, type Run } from './cli-support.js';

describe('cfgctl compare, promote, export and import (e2e)', function () {
  let h: Harness;
  let dir: string;
  let tenantId: string;
  let cfgctl: ReturnType<typeof cfgctlWith>;
  /** Another user, who may approve alice's change requests. */
  let bob: ReturnType<typeof cfgctlWith>;

  before(async function () {
    h = await startHarness({ runProjector: true });
    dir = await mkdtemp(path.join(tmpdir(), 'cfgctl-xenv-'));
    tenantId = uniqueTenant('clix');
    const created = await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({
        tenantId,
        name: 'CLI across',
        tier: 'Enterprise',
        environments: [
          'Development',
          'Staging',
          'Production',
          'QA',
          'Imported',
          'Json',
          'Yaml',
          'Props',
        ],
      })
      .expect(201);
    // The read side knows the tenant's environments before cfgctl names them.
    await request(h.url)
      .get(`/api/v1/tenants/${tenantId}/environments`)
      .query({ minPosition: created.headers['x-event-position'] })
      .set('Authorization', `Bearer ${h.admin}`)
      .expect(200);
    const config = path.join(dir, 'config.json');
    cfgctl = cfgctlWith({ CFGCTL_CONFIG: config });
    bob = cfgctlWith({
      CFGCTL_CONFIG: config,
      CFGCTL_TOKEN: h.token('approver', tenantId, { sub: 'bob' }),
    });
    const login = await cfgctl([
      'login',
      '--url',
      h.url,
      '--tenant',
      tenantId,
      '--env',
      'Staging',
      '--token',
      h.token(['editor', 'approver'], tenantId, { sub: 'alice' }),
    ]);
    expect(login.code, login.err).to.equal(0);

    const seed: [string, string, string, string][] = [
      ['Staging', 'http.timeout', '30', 'Integer'],
      ['Staging', 'name', 'shop', 'String'],
      ['Staging', 'limits', '{"max": 5, "burst": [1, 2]}', 'JSON'],
      ['Staging', 'banner', 'Hello = "world" # not a comment', 'String'],
      ['QA', 'http.timeout', '10', 'Integer'],
      ['QA', 'name', 'shop', 'String'],
      ['QA', 'qa.only', 'true', 'Boolean'],
    ];
    for (const [env, key, value, type] of seed) {
      ok(await cfgctl(['set', key, value, '--type', type, '-e', env]));
    }
  });
  after(async function () {
    await h?.close();
    if (dir) await rm(dir, { recursive: true });
  });

  const ok = (r: Run) => {
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.equal('');
    return r;
  };
  const file = (name: string) => path.join(dir, name);

  it('compares two environments: a table of what differs, --all, --keys and --json', async function () {
    const human = ok(await cfgctl(['compare', 'Staging', 'QA']));
    expect(human.out.split('\n')).to.deep.equal([
      'Staging → QA: 1 different, 2 only in Staging, 1 only in QA, 1 equal',
      'KEY           STATUS           STAGING                               QA',
      'banner        only in Staging  Hello = "world" # not a comment (v1)  -',
      'http.timeout  different        30 (v1)                               10 (v1)',
      'limits        only in Staging  {"max":5,"burst":[1,2]} (v1)          -',
      'qa.only       only in QA       -                                     true (v1)',
      '(1 equal key not shown: --all shows them)',
      '',
    ]);
    const all = ok(await cfgctl(['compare', 'Staging', 'QA', '--all']));
    expect(all.out).to.match(/\nname {10}equal {12}shop \(v1\) +shop \(v1\)\n/);
    expect(all.out).not.to.include('not shown');
    const keyed = ok(await cfgctl(['compare', 'Staging', 'QA', '--keys', 'name,qa.only']));
    expect(keyed.out.split('\n')[0]).to.equal(
      'Staging → QA: 0 different, 0 only in Staging, 1 only in QA, 1 equal',
    );
    const json = JSON.parse(ok(await cfgctl(['compare', 'Staging', 'QA', '--json'])).out);
    expect(json.summary).to.deep.equal({ equal: 1, different: 1, onlyInFrom: 2, onlyInTo: 1 });
    expect(json.items.find((i: { key: string }) => i.key === 'http.timeout')).to.deep.include({
      status: 'Different',
    });
    const same = await cfgctl(['compare', 'QA', 'QA']);
    expect(same).to.deep.include({
      code: 1,
      err: 'cfgctl: 422 from and to must be different environments\n',
    });
    expect((await cfgctl(['compare', 'Staging'])).code).to.equal(2);
  });

  it('promotes: a dry run writes nothing, then every differing key at once, then nothing to do', async function () {
    const dry = ok(await cfgctl(['promote', 'Staging', 'Development', '--dry-run']));
    expect(dry.out.split('\n')).to.deep.equal([
      'promote Staging → Development (dry run): 4 to create, 0 to update, 0 unchanged, 0 errors; nothing written',
      'KEY           ACTION',
      'banner        Create',
      'http.timeout  Create',
      'limits        Create',
      'name          Create',
      '',
    ]);
    expect(ok(await cfgctl(['get', '-e', 'Development'])).out).to.equal('');

    const done = ok(
      await cfgctl(['promote', 'Staging', 'Development', '--keys', 'http.timeout,name']),
    );
    const [first, ...rest] = done.out.trimEnd().split('\n');
    expect(first).to.match(
      /^promote Staging → Development: 2 created, 0 updated, 0 unchanged \(change set cs_[0-9a-f]{32}\)$/,
    );
    expect(rest).to.deep.equal([
      'KEY           ACTION  VERSION',
      'http.timeout  Create  1',
      'name          Create  1',
    ]);
    // Read your writes: the next command sees the promotion.
    expect(ok(await cfgctl(['get', 'http.timeout', '-e', 'Development'])).out).to.equal('30\n');
    const again = ok(
      await cfgctl(['promote', 'Staging', 'Development', '--keys', 'http.timeout,name', '--json']),
    );
    expect(JSON.parse(again.out)).to.deep.include({
      outcome: 'Unchanged',
      summary: { create: 0, update: 0, unchanged: 2 },
      changeSet: null,
    });
    expect(ok(await cfgctl(['promote', 'Staging', 'Development', '--keys', 'name'])).out).to.equal(
      'promote Staging → Development: nothing to change (1 key unchanged)\n',
    );
  });

  it('refuses a promotion whose target changed since the reviewed comparison (exit 4); nothing written', async function () {
    const reviewed = file('reviewed.json');
    await writeFile(reviewed, ok(await cfgctl(['compare', 'Staging', 'QA', '--json'])).out);
    // Someone changes QA's http.timeout after the review.
    ok(await cfgctl(['set', 'http.timeout', '15', '-e', 'QA']));
    const stale = await cfgctl(['promote', 'Staging', 'QA', '--expect', reviewed]);
    expect(stale).to.deep.equal({
      code: 4,
      out: '',
      err: "cfgctl: 409 Changed in QA since: 'http.timeout' (version 1, now 2)\n",
    });
    const json = await cfgctl(['promote', 'Staging', 'QA', '--expect', reviewed, '--json']);
    expect(json.code).to.equal(4);
    expect(JSON.parse(json.out)).to.deep.include({
      code: 'stale',
      conflicts: [{ key: 'http.timeout', expectedVersion: 1, currentVersion: 2 }],
    });
    const qa = JSON.parse(ok(await cfgctl(['get', '-e', 'QA', '--json'])).out);
    expect(qa.configs).to.deep.equal({ 'http.timeout': 15, name: 'shop', 'qa.only': true });

    // Reviewed again: exactly what differed then is promoted (not qa.only, only in QA).
    await writeFile(reviewed, ok(await cfgctl(['compare', 'Staging', 'QA', '--json'])).out);
    const fresh = ok(await cfgctl(['promote', 'Staging', 'QA', '--expect', reviewed]));
    expect(fresh.out).to.match(/^promote Staging → QA: 2 created, 1 updated, 0 unchanged /);
    const wrong = await cfgctl(['promote', 'Staging', 'Development', '--expect', reviewed]);
    expect(wrong).to.deep.include({
      code: 1,
      err: 'cfgctl: --expect: that comparison is of Staging → QA, not Staging → Development\n',
    });
  });

  it('exits 4 when a key moves between reading it and writing it (version conflict)', async function () {
    ok(await cfgctl(['set', 'race', 'one', '-e', 'QA']));
    const id = JSON.parse(ok(await cfgctl(['get', 'race', '-e', 'QA', '--json'])).out).configId;
    // Someone else writes the key just before cfgctl's write reaches the service.
    const raced = await cfgctl(['set', 'race', 'two', '-e', 'QA'], {
      fetch: async (url, init) => {
        if (init?.method === 'PUT') {
          await request(h.url)
            .put(`/api/v1/configs/${id}`)
            .set('Authorization', `Bearer ${h.token('editor', tenantId, { sub: 'carol' })}`)
            .send({ value: 'other', expectedVersion: 1 })
            .expect(200);
        }
        return fetch(url, init);
      },
    });
    expect(raced.code, raced.err).to.equal(4);
    expect(raced.err).to.match(/^cfgctl: 409 .*\n$/);
    // cfgctl wrote nothing: the key keeps the other write (once the read side has it).
    let value = await cfgctl(['get', 'race', '-e', 'QA']);
    for (let i = 0; i < 50 && value.out !== 'other\n'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      value = await cfgctl(['get', 'race', '-e', 'QA']);
    }
    expect(value.out).to.equal('other\n');
    const history = ok(await cfgctl(['history', 'race', '-e', 'QA', '--json']));
    expect(JSON.parse(history.out).total).to.equal(2);
  });

  it('refuses a promotion that would re-type a key (exit 5), naming it', async function () {
    ok(await cfgctl(['set', 'port', '8080', '--type', 'Integer']));
    ok(await cfgctl(['set', 'port', '8080x', '-e', 'Development']));
    const refused = await cfgctl(['promote', 'Staging', 'Development', '--keys', 'port']);
    expect(refused.code).to.equal(5);
    const lines = refused.err.trimEnd().split('\n');
    expect(lines[0]).to.equal(
      'cfgctl: promote Staging → Development: refused, 1 error; nothing written',
    );
    expect(lines[1]).to.match(/^ {2}keys\.port: .*never re-typed/);
  });

  it('promotes into an approval-required environment as ONE change request, approved with cfgctl approve', async function () {
    const pending = ok(await cfgctl(['promote', 'Staging', 'Production', '--keys', 'name,limits']));
    const lines = pending.out.trimEnd().split('\n');
    const id = /change request (cs_[0-9a-f]{32})/.exec(lines[0]!)?.[1];
    expect(lines[0]).to.equal(
      `promote Staging → Production: became change request ${id} (2 keys), awaiting 1 approval ` +
        'in Production; nothing written yet',
    );
    expect(lines.slice(1)).to.deep.equal([
      `  approve it with: cfgctl approve ${id}`,
      '  KEY     ACTION',
      '  name    Create',
      '  limits  Create',
    ]);
    expect(ok(await cfgctl(['get', '-e', 'Production'])).out).to.equal('');
    // Approvers find it among the change requests.
    const listed = ok(await bob(['requests', '--status', 'Pending', '-e', 'Production']));
    expect(listed.out.split('\n')[0]).to.match(/^ID +STATUS +ENV +KEY +PROPOSED +APPROVALS +BY$/);
    expect(listed.out).to.match(
      new RegExp(
        `\\n${id} +Pending +Production +2 keys: name, limits +\\(promotion from Staging\\) +0/1 +alice\\n`,
      ),
    );
    const listedJson = JSON.parse(ok(await bob(['requests', '--status', 'Pending', '--json'])).out);
    expect(listedJson.changeSets.map((c: { changeSetId: string }) => c.changeSetId)).to.deep.equal([
      id,
    ]);
    expect((await bob(['requests', '--status', 'Approved', '--json'])).code).to.equal(0);
    expect((await bob(['requests', '--status', 'Nope'])).code).to.equal(2);
    // The requester cannot approve their own; another approver applies both keys at once.
    expect((await cfgctl(['approve', id!])).code).to.equal(1);
    const approved = ok(await bob(['approve', id!, '-m', 'ship it']));
    expect(approved.out).to.equal(`change request ${id}: Applied\n`);
    const prod = JSON.parse(ok(await cfgctl(['get', '-e', 'Production', '--json'])).out);
    expect(prod.configs).to.deep.equal({ name: 'shop', limits: { max: 5, burst: [1, 2] } });

    const json = JSON.parse(
      ok(await cfgctl(['promote', 'Staging', 'Production', '--keys', 'banner', '--json'])).out,
    );
    expect(json.outcome).to.equal('Pending');
    const rejected = ok(await bob(['reject', json.changeSet.changeSetId, '-m', 'no']));
    expect(rejected.out).to.equal(`change request ${json.changeSet.changeSetId}: Rejected\n`);
  });

  for (const [format, name, target] of [
    ['yaml', 'staging.yaml', 'Yaml'],
    ['env', '.env', 'Imported'],
    ['json', 'staging.json', 'Json'],
    ['properties', 'staging.properties', 'Props'],
  ] as const) {
    it(`exports and imports back (${format}): a dry run, then an identical environment`, async function () {
      const exported = file(name);
      const wrote = ok(await cfgctl(['export', exported]));
      expect(wrote.out).to.match(
        new RegExp(
          `^wrote Staging to ${exported.replace(/\./g, '\\.')} \\(${format}, \\d+ bytes\\)\\n$`,
        ),
      );
      const content = await readFile(exported, 'utf8');
      // The same file on stdout.
      expect(ok(await cfgctl(['export', '--format', format])).out).to.equal(content);

      const dry = ok(await cfgctl(['import', exported, '-e', target, '--dry-run']));
      expect(dry.out.split('\n')[0]).to.equal(
        `import ${exported} into ${target} (dry run): 5 to create, 0 to update, 0 unchanged, 0 errors; nothing written`,
      );
      expect(ok(await cfgctl(['get', '-e', target])).out).to.equal('');
      const done = ok(await cfgctl(['import', exported, '-e', target, '-m', 'from Staging']));
      expect(done.out.split('\n')[0]).to.match(
        new RegExp(
          `^import .* into ${target}: 5 created, 0 updated, 0 unchanged \\(change set cs_`,
        ),
      );
      // Read your writes: the export of the target is the file imported.
      expect(ok(await cfgctl(['export', '--format', format, '-e', target])).out).to.equal(content);
      const again = ok(await cfgctl(['import', exported, '-e', target]));
      expect(again.out).to.equal(
        `import ${exported} into ${target}: nothing to change (5 keys unchanged)\n`,
      );
    });
  }

  it('imports into an approval-required environment as one change request, which its requester may cancel', async function () {
    const exported = file('for-production.json');
    ok(await cfgctl(['export', exported]));
    const pending = ok(await cfgctl(['import', exported, '-e', 'Production']));
    const [, id, count] =
      /became change request (cs_[0-9a-f]{32}) \((\d+) keys\), awaiting 1 approval in Production; nothing written yet\n/.exec(
        pending.out,
      ) ?? [];
    expect(id, pending.out).to.be.a('string');
    // One row per key of the set (those Production lacks or has otherwise), each to be written
    // once approved.
    const rows = pending.out.trimEnd().split('\n').slice(3);
    expect(rows).to.have.length(Number(count)).and.to.have.length.above(0);
    for (const row of rows) expect(row).to.match(/^ {2}\S+ +(Create|Update)$/);
    expect(pending.out).to.match(
      /^import .*for-production\.json into Production: became change request/,
    );
    const cancelled = ok(await cfgctl(['cancel', id!]));
    expect(cancelled.out).to.equal(`change request ${id}: Cancelled\n`);
    expect((await bob(['approve', id!])).code).to.equal(1);
  });

  it('imports from stdin with a format, and refuses bad lines naming them (exit 5); nothing written', async function () {
    const content = 'fresh=ok\nhttp.timeout=eighty\n';
    const dry = await cfgctl(['import', '-', '--format', 'env', '-e', 'Development', '--dry-run'], {
      stdin: content,
    });
    expect(dry.code, JSON.stringify(dry)).to.equal(5);
    expect(dry.out).to.equal('');
    const lines = dry.err.trimEnd().split('\n');
    expect(lines[0]).to.equal(
      'cfgctl: import stdin into Development: refused, 1 error; nothing written',
    );
    expect(lines.slice(1)).to.have.length(1);
    expect(lines[1]).to.match(/^ {2}line 2: 'http\.timeout'/);
    const unreadable = file('bad.env');
    await writeFile(unreadable, 'a=1\nthis line is wrong\n');
    const bad = await cfgctl(['import', unreadable, '-e', 'Development', '--json']);
    expect(bad.code, JSON.stringify(bad)).to.equal(5);
    expect(JSON.parse(bad.out)).to.deep.include({ field: 'content', line: 2 });
    expect(bad.err.split('\n')[1]).to.match(/^ {2}line 2: /);
    const missing = await cfgctl(['import', file('nope.env')]);
    expect(missing).to.deep.include({
      code: 1,
      err: `cfgctl: cannot read ${file('nope.env')} (ENOENT)\n`,
    });
    const format = await cfgctl(['export', '--format', 'toml']);
    expect(format.code).to.equal(2);
    const development = JSON.parse(ok(await cfgctl(['get', '-e', 'Development', '--json'])).out);
    expect(development.configs).not.to.have.property('fresh');
  });

  it('uploads a big file as it is (beyond the 1 MB JSON limit), with progress on stderr', async function () {
    const big = file('big.env');
    const lines = Array.from({ length: 40 }, (_, i) => `big.k${i}=${'v'.repeat(50_000)}`);
    await writeFile(big, `${lines.join('\n')}\n`);
    const dry = await cfgctl(['import', big, '-e', 'QA', '--dry-run']);
    expect(dry.code, dry.err).to.equal(0);
    expect(dry.out.split('\n')[0]).to.equal(
      `import ${big} into QA (dry run): 40 to create, 0 to update, 0 unchanged, 0 errors; nothing written`,
    );
    const progress = dry.err.trimEnd().split('\n');
    expect(progress[0]).to.match(/^parsing: bytes \d{7}, lines \d+$/);
    expect(progress).to.include('validating: keys 40, of 40');
    expect(progress.at(-1)).to.equal('planning: keys 40');
  });
});
