/**
 * The pure parts of compare, promote, export and import: how a comparison and an outcome read,
 * what a reviewed comparison asks of a promotion, which format a file name means, and the
 * usage errors caught before any request (no service needed).
 */
import { expect } from 'chai';
import { main } from '@config-service/cli';
import { outcomeLines, type ChangeSetOutcome } from '../src/commands/change-sets.js';
import {
  comparisonLines,
  expectationsOf,
  type Comparison,
} from '../src/commands/compare-promote.js';
import { formatOf } from '../src/commands/import-export.js';
import { UsageError } from '../src/errors.js';

const side = (value: string, version = 1, type = 'String') => ({ value, version, type });

const comparison = (items: Comparison['items']): Comparison => {
  const count = (s: string) => items.filter((i) => i.status === s).length;
  return {
    tenantId: 't',
    from: 'Staging',
    to: 'Production',
    summary: {
      equal: count('Equal'),
      different: count('Different'),
      onlyInFrom: count('OnlyInFrom'),
      onlyInTo: count('OnlyInTo'),
    },
    items,
  };
};

async function run(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: { CFGCTL_CONFIG: '/nonexistent/cfgctl.json' },
  });
  return { code, out, err };
}

describe('cfgctl compare / promote / export / import (unit)', function () {
  describe('comparisonLines', function () {
    const c = comparison([
      { key: 'a', status: 'Equal', from: side('x'), to: side('x') },
      { key: 'b', status: 'Different', from: side('1', 2, 'Integer'), to: side('1', 1) },
      { key: 'c', status: 'OnlyInFrom', from: side(`${'y'.repeat(50)}\nz`), to: null },
    ]);

    it('hides equal keys unless asked, marks a type difference, shortens long values', function () {
      expect(comparisonLines(c, false)).to.deep.equal([
        'Staging → Production: 1 different, 1 only in Staging, 0 only in Production, 1 equal',
        'KEY  STATUS            STAGING                                        PRODUCTION',
        'b    different (type)  1 (v2)                                         1 (v1)',
        `c    only in Staging   ${'y'.repeat(39)}… (v1)  -`,
        '(1 equal key not shown: --all shows them)',
      ]);
      const all = comparisonLines(c, true);
      expect(all).to.have.length(5);
      expect(all[2]).to.match(/^a {4}equal {13}x \(v1\) +x \(v1\)$/);
    });

    it('says so when nothing differs', function () {
      const same = comparison([
        { key: 'a', status: 'Equal', from: side('x'), to: side('x') },
        { key: 'b', status: 'Equal', from: side('y'), to: side('y') },
      ]);
      expect(comparisonLines(same, false)).to.deep.equal([
        'Staging → Production: 0 different, 0 only in Staging, 0 only in Production, 2 equal',
        '(2 equal keys not shown: --all shows them)',
      ]);
    });
  });

  describe('outcomeLines', function () {
    const outcome = (o: Partial<ChangeSetOutcome>): ChangeSetOutcome => ({
      outcome: 'Applied',
      summary: { create: 1, update: 1, unchanged: 1 },
      items: [
        { key: 'new', action: 'Create', version: 1 },
        { key: 'old', action: 'Update', version: 4 },
        { key: 'same', action: 'Unchanged', version: null },
      ],
      changeSet: null,
      position: '9',
      ...o,
    });

    it('a dry run: the summary with its error count, and the keys that would change', function () {
      expect(outcomeLines('import f into QA', outcome({ outcome: 'DryRun' }))).to.deep.equal([
        'import f into QA (dry run): 1 to create, 1 to update, 1 unchanged, 0 errors; nothing written',
        'KEY  ACTION',
        'new  Create',
        'old  Update',
      ]);
    });

    it('applied: counts, the change set and each new version', function () {
      const set = { changeSetId: 'cs_1', environment: 'QA', requiredApprovals: 0, items: [{}, {}] };
      expect(outcomeLines('import f into QA', outcome({ changeSet: set }))).to.deep.equal([
        'import f into QA: 1 created, 1 updated, 1 unchanged (change set cs_1)',
        'KEY  ACTION  VERSION',
        'new  Create  1',
        'old  Update  4',
      ]);
    });

    it('pending: the change request, its id, how to approve it', function () {
      const set = {
        changeSetId: 'cs_2',
        environment: 'Production',
        requiredApprovals: 2,
        items: [{}, {}],
      };
      const lines = outcomeLines(
        'promote A → Production',
        outcome({ outcome: 'Pending', changeSet: set }),
      );
      expect(lines.slice(0, 2)).to.deep.equal([
        'promote A → Production: became change request cs_2 (2 keys), awaiting 2 approvals in ' +
          'Production; nothing written yet',
        '  approve it with: cfgctl approve cs_2',
      ]);
    });

    it('unchanged: one line', function () {
      const none = outcome({
        outcome: 'Unchanged',
        summary: { create: 0, update: 0, unchanged: 1 },
        items: [{ key: 'same', action: 'Unchanged', version: null }],
      });
      expect(outcomeLines('promote A → B', none)).to.deep.equal([
        'promote A → B: nothing to change (1 key unchanged)',
      ]);
    });
  });

  describe('expectationsOf (promote --expect)', function () {
    const c = comparison([
      { key: 'a', status: 'Equal', from: side('x'), to: side('x', 3) },
      { key: 'b', status: 'Different', from: side('1'), to: side('2', 7) },
      { key: 'c', status: 'OnlyInFrom', from: side('y'), to: null },
      { key: 'd', status: 'OnlyInTo', from: null, to: side('z', 2) },
    ]);

    it('promotes what differed, expecting the target versions seen (0: absent)', function () {
      expect(expectationsOf(c, 'staging', 'PRODUCTION')).to.deep.equal({
        keys: ['b', 'c'],
        expectedVersions: { a: 3, b: 7, c: 0, d: 2 },
      });
    });

    it('refuses a comparison of other environments, or something else', function () {
      expect(() => expectationsOf(c, 'Staging', 'QA')).to.throw(
        '--expect: that comparison is of Staging → Production, not Staging → QA',
      );
      expect(() => expectationsOf({} as Comparison, 'Staging', 'QA')).to.throw(
        '--expect: not the output of `cfgctl compare --json`',
      );
    });
  });

  describe('formatOf', function () {
    it('--format wins, else the file name, else json', function () {
      expect(formatOf('yaml', 'x.json')).to.equal('yaml');
      expect(formatOf(undefined, 'dir/prod.yml')).to.equal('yaml');
      expect(formatOf(undefined, 'dir/.env')).to.equal('env');
      expect(formatOf(undefined, 'prod.env')).to.equal('env');
      expect(formatOf(undefined, 'APP.PROPERTIES')).to.equal('properties');
      expect(formatOf(undefined, 'notes.txt')).to.equal('json');
      expect(formatOf(undefined, '-')).to.equal('json');
      expect(formatOf(undefined, undefined)).to.equal('json');
      expect(() => formatOf('toml', undefined)).to.throw(UsageError, '--format is one of');
    });
  });

  describe('usage, before any request', function () {
    const service = ['--url', 'http://127.0.0.1:9', '--tenant', 't', '--token', 'x'];

    it('every new command has --help', async function () {
      for (const name of ['compare', 'promote', 'export', 'import']) {
        const r = await run([name, '--help']);
        expect(r.code).to.equal(0);
        expect(r.out).to.match(new RegExp(`^usage: cfgctl ${name} `));
      }
    });

    it('exits 2 on wrong usage', async function () {
      expect((await run(['compare', 'Staging', ...service])).err).to.match(
        /^cfgctl compare: missing <to>/,
      );
      const same = await run(['promote', 'QA', 'qa', ...service]);
      expect(same.code).to.equal(2);
      expect(same.err).to.match(/^cfgctl promote: <from> and <to> must be different environments/);
      expect((await run(['import', ...service])).code).to.equal(2);
      expect((await run(['export', '--format', 'xml', '-e', 'QA', ...service])).code).to.equal(2);
    });

    it('exits 1 when --expect or the file to import cannot be read', async function () {
      const expectMissing = await run([
        'promote',
        'A',
        'B',
        '--expect',
        '/nonexistent/c.json',
        ...service,
      ]);
      expect(expectMissing).to.deep.equal({
        code: 1,
        out: '',
        err: 'cfgctl: --expect: cannot read /nonexistent/c.json (ENOENT)\n',
      });
      const importMissing = await run(['import', '/nonexistent/x.env', '-e', 'QA', ...service]);
      expect(importMissing.err).to.equal('cfgctl: cannot read /nonexistent/x.env (ENOENT)\n');
    });
  });
});
