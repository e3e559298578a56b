import { expect } from 'chai';
import { ConfigRegistry } from './tenant.registry.js';

const c = (key: string, environment = 'Staging') => ({ key, environment });
const ids = (r: ConfigRegistry) => [...r.keys()];

describe('tenant: ConfigRegistry', function () {
  it('registers, finds and releases configurations', function () {
    const r = ConfigRegistry.empty().with('a', c('x')).with('b', c('y', 'Production'));
    expect(r.size).to.equal(2);
    expect(r.has('a')).to.equal(true);
    expect(r.get('b')).to.deep.equal(c('y', 'Production'));
    expect(r.idOf('Production', 'y')).to.equal('b');
    expect(r.idOf('Staging', 'y')).to.equal(undefined);
    const released = r.without('a');
    expect(released.size).to.equal(1);
    expect(released.has('a')).to.equal(false);
    expect(released.idOf('Staging', 'x')).to.equal(undefined);
    expect(ids(released)).to.deep.equal(['b']);
    expect(released.without('a')).to.equal(released); // nothing to release
  });

  it('leaves every earlier version as it was', function () {
    const v1 = ConfigRegistry.empty().with('a', c('x'));
    const v2 = v1.with('b', c('y'));
    const v3 = v2.without('a');
    const v4 = v3.with('a', c('x'));
    expect([v1, v2, v3, v4].map(ids)).to.deep.equal([['a'], ['a', 'b'], ['b'], ['a', 'b']]);
    expect([v1, v2, v3, v4].map((r) => r.size)).to.deep.equal([1, 2, 1, 2]);
    expect(v3.idOf('Staging', 'x')).to.equal(undefined);
    expect(v4.idOf('Staging', 'x')).to.equal('a');
  });

  it('an older version extended again the same way is the version that followed it', function () {
    const kept = ConfigRegistry.empty().with('a', c('x'));
    const staged = kept.with('b', c('y')).with('c', c('z'));
    // The command handler folds the appended events again onto the state it kept.
    const refolded = kept.with('b', c('y')).with('c', c('z'));
    expect(ids(refolded)).to.deep.equal(ids(staged));
    expect(refolded.size).to.equal(3);
  });

  it('an older version extended another way gets a future of its own', function () {
    const base = ConfigRegistry.empty().with('a', c('x'));
    const left = base.with('b', c('y'));
    const right = base.with('c', c('z')); // an attempt that staged 'b' was never appended
    const rightMore = right.without('a').with('d', c('w'));
    expect(ids(left)).to.deep.equal(['a', 'b']);
    expect(ids(right)).to.deep.equal(['a', 'c']);
    expect(ids(rightMore)).to.deep.equal(['c', 'd']);
    expect(ids(base)).to.deep.equal(['a']);
    expect(left.idOf('Staging', 'z')).to.equal(undefined);
    expect(right.idOf('Staging', 'y')).to.equal(undefined);
    // And the first future goes on where it was.
    expect(ids(left.with('e', c('v')))).to.deep.equal(['a', 'b', 'e']);
  });

  it('a configuration registered again under another key is found under the new one only', function () {
    const r = ConfigRegistry.empty().with('a', c('x')).with('a', c('renamed'));
    expect(r.size).to.equal(1);
    expect(r.idOf('Staging', 'x')).to.equal(undefined);
    expect(r.idOf('Staging', 'renamed')).to.equal('a');
  });
});
