import { expect } from 'chai';
import { diffLines, linesOf } from './ui/diff.js';

describe('console: the side-by-side diff', function () {
  it('pairs a changed line and keeps the same ones', function () {
    const rows = diffLines(['a', 'b', 'c'], ['a', 'B', 'c']);
    expect(rows).to.deep.equal([
      { left: 'a', right: 'a', kind: 'same' },
      { left: 'b', right: 'B', kind: 'changed' },
      { left: 'c', right: 'c', kind: 'same' },
    ]);
  });

  it('shows additions and removals on their own side', function () {
    expect(diffLines(['a'], ['a', 'b'])).to.deep.equal([
      { left: 'a', right: 'a', kind: 'same' },
      { left: null, right: 'b', kind: 'added' },
    ]);
    expect(diffLines(['a', 'b'], ['b'])).to.deep.equal([
      { left: 'a', right: null, kind: 'removed' },
      { left: 'b', right: 'b', kind: 'same' },
    ]);
    expect(diffLines([], ['x'])).to.deep.equal([{ left: null, right: 'x', kind: 'added' }]);
  });

  it('pretty-prints JSON so a change shows on its own line', function () {
    const before = linesOf('{"retries":3,"timeout":30}', 'JSON');
    const after = linesOf('{"retries":3,"timeout":45}', 'JSON');
    const changed = diffLines(before, after).filter((r) => r.kind !== 'same');
    expect(changed).to.deep.equal([
      { left: '  "timeout": 30', right: '  "timeout": 45', kind: 'changed' },
    ]);
    // A masked value is not JSON: shown as it is.
    expect(linesOf('********', 'JSON')).to.deep.equal(['********']);
    expect(linesOf(null, 'String')).to.deep.equal([]);
  });

  it('compares line by line beyond the size it diffs', function () {
    const a = Array.from({ length: 600 }, (_, i) => `l${i}`);
    const b = a.map((l, i) => (i === 10 ? 'changed' : l));
    const rows = diffLines(a, b);
    expect(rows).to.have.length(600);
    expect(rows.filter((r) => r.kind !== 'same')).to.deep.equal([
      { left: 'l10', right: 'changed', kind: 'changed' },
    ]);
  });
});
