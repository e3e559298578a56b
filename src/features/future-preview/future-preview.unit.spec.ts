import { expect } from 'chai';
import { previewEnvironment, type CurrentConfig, type PendingChange } from './future-preview.js';

const now = new Date('2030-01-01T00:00:00.000Z');
const hours = (n: number) => new Date(now.getTime() + n * 3_600_000).toISOString();
const config = (key: string, value: string, extra: Partial<CurrentConfig> = {}): CurrentConfig => ({
  configId: `cfg_${key}`,
  key,
  type: 'String',
  value,
  version: 1,
  deleted: false,
  sensitive: false,
  heldBy: null,
  ...extra,
});
let n = 0;
const change = (
  kind: PendingChange['kind'],
  key: string,
  value: string,
  extra: Partial<PendingChange> = {},
): PendingChange => ({
  kind,
  id: `${kind === 'ScheduledChange' ? 'sch' : 'apr'}_${++n}`,
  configId: `cfg_${key}`,
  key,
  type: 'String',
  action: 'Update',
  value,
  baseVersion: 1,
  applyAt: null,
  createdAt: hours(-1),
  expiresAt: null,
  sensitive: false,
  strategy: kind === 'ChangeRequest' ? 'Direct' : null,
  requestedBy: 'alice',
  approved: false,
  ...extra,
});

describe('future preview (unit)', function () {
  it('applies what is due by then in time order; later changes are counted, not applied', function () {
    const s1 = change('ScheduledChange', 'banner', 'sale', { applyAt: hours(2) });
    const cr = change('ChangeRequest', 'theme', 'dark'); // on approval: now
    const s2 = change('ScheduledChange', 'theme', 'light', { applyAt: hours(1), baseVersion: 2 });
    const s3 = change('ScheduledChange', 'banner', 'later', { applyAt: hours(5), baseVersion: 2 });
    const p = previewEnvironment(
      [config('banner', 'none'), config('theme', 'plain')],
      [s1, cr, s2, s3],
      { at: new Date(hours(3)), now },
    );
    expect(
      p.applied.map((a) => [a.id, a.key, a.fromVersion, a.toVersion, a.assumes]),
    ).to.deep.equal([
      [cr.id, 'theme', 1, 2, 'approval'],
      [s2.id, 'theme', 2, 3, null],
      [s1.id, 'banner', 1, 2, null],
    ]);
    expect(p.applied[0]!.effectiveAt).to.equal(now.toISOString());
    expect(p.configs).to.deep.equal({ banner: 'sale', theme: 'light' });
    expect(p.versions).to.deep.equal({ banner: 2, theme: 3 });
    expect(p.later).to.equal(1);
    expect(p.notApplied).to.deep.equal([]);
  });

  it('a change made against a version the key has left is stale, as its command would find', function () {
    const first = change('ScheduledChange', 'banner', 'a', { applyAt: hours(1) });
    const second = change('ChangeRequest', 'banner', 'b', { applyAt: hours(2) });
    const p = previewEnvironment([config('banner', 'none')], [second, first], {
      at: new Date(hours(3)),
      now,
    });
    expect(p.applied.map((a) => a.id)).to.deep.equal([first.id]);
    expect(p.notApplied).to.deep.equal([
      {
        kind: 'ChangeRequest',
        id: second.id,
        configId: 'cfg_banner',
        key: 'banner',
        effectiveAt: hours(2),
        reason: 'stale: made against version 1, the configuration is at version 2 by then',
      },
    ]);
    expect(p.configs).to.deep.equal({ banner: 'a' });
  });

  it('new keys, deletes, types, masking, expiry, held keys and direct writes refused', function () {
    const newKey = change('ChangeRequest', 'limit', '42', { type: 'Integer', baseVersion: 0 });
    const del = change('ChangeRequest', 'old', '', { action: 'Delete' });
    const secret = change('ChangeRequest', 'token', 'abc');
    const expired = change('ChangeRequest', 'theme', 'x', {
      applyAt: hours(4),
      expiresAt: hours(2),
    });
    const held = change('ChangeRequest', 'canary', 'y');
    const direct = change('ScheduledChange', 'banner', 'z', { applyAt: hours(1) });
    const carried = change('ScheduledChange', 'banner', 'w', { applyAt: hours(2), approved: true });
    const p = previewEnvironment(
      [
        config('old', 'x'),
        config('token', 'secret', { sensitive: true }),
        config('theme', 'plain'),
        config('canary', 'c', { heldBy: 'dep_1' }),
        config('banner', 'none'),
      ],
      [newKey, del, secret, expired, held, direct, carried],
      { at: new Date(hours(5)), now, directWritesBlocked: 'Production needs approvals' },
    );
    expect(p.configs).to.deep.equal({
      banner: 'w',
      canary: 'c',
      limit: 42,
      theme: 'plain',
      token: '********',
    });
    expect(p.versions).to.include({ limit: 1, token: 2, banner: 2 });
    expect(p.applied.map((a) => [a.key, a.action])).to.deep.equal([
      ['limit', 'Update'],
      ['old', 'Delete'],
      ['token', 'Update'],
      ['banner', 'Update'],
    ]);
    expect(p.notApplied.map((x) => [x.key, x.reason])).to.deep.equal([
      ['canary', 'a deployment (dep_1) holds the configuration now'],
      ['banner', 'Production needs approvals'],
      ['theme', `the request expires at ${hours(2)}, before it takes effect`],
    ]);
    // A request for a new key whose key exists by then is refused like its approval would be.
    const twice = previewEnvironment([], [newKey, { ...newKey, id: 'apr_x' }], {
      at: new Date(hours(1)),
      now,
    });
    expect(twice.notApplied[0]!.reason).to.match(/^the key exists by then \(version 1\)/);
  });
});
