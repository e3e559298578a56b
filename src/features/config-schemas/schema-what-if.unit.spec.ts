import { expect } from 'chai';
import { evaluateWhatIf, historyOf, type HistoryEvent } from './schema-what-if.js';
import { validatorOf } from './schema-registry.js';

const id = { configId: 'cfg_1', tenantId: 'acme', key: 'retry', environment: 'Staging' };
let position = 0n;
const at = (type: string, data: Record<string, unknown>): HistoryEvent => ({
  type,
  data: { ...id, type: 'JSON', ...data },
  position: ++position,
  metadata: { timestamp: `2026-01-0${Number(position % 9n) + 1}T00:00:00.000Z`, userId: 'alice' },
});
const v = (n: number) => JSON.stringify({ maxAttempts: n });
const created = (value: string, extra: Record<string, unknown> = {}) =>
  at('ConfigurationCreated', {
    version: 1,
    value,
    previousValue: null,
    description: null,
    tags: [],
    isSensitive: false,
    defaultValue: null,
    schemaId: null,
    changeDescription: null,
    ...extra,
  });
const updated = (version: number, value: string, extra: Record<string, unknown> = {}) =>
  at('ConfigurationUpdated', {
    version,
    value,
    previousValue: null,
    changeDescription: null,
    isSensitive: false,
    ...extra,
  });

const atMost5 = validatorOf({
  type: 'object',
  required: ['maxAttempts'],
  properties: { maxAttempts: { type: 'integer', maximum: 5 } },
});

describe('schema what-if (unit)', function () {
  it('folds a history: each version, the default where it is set, deployments', function () {
    const h = historyOf([
      created(v(3), { defaultValue: v(2) }),
      updated(2, v(9), { schemaId: 'retry' }),
      at('ConfigurationDeploymentStarted', { deploymentId: 'dep_1', value: v(7) }),
      at('ConfigurationDeploymentEnded', { deploymentId: 'dep_1', outcome: 'RolledBack' }),
      updated(3, v(4)),
      at('ConfigurationDeleted', { version: 4, value: v(4), previousValue: v(4) }),
    ])!;
    expect(h).to.include({ configId: 'cfg_1', currentVersion: 4, deleted: true });
    expect(h.activeDeploymentId).to.equal(null);
    expect(h.values.map((x) => [x.version, x.field, x.schemaIdThen])).to.deep.equal([
      [1, 'value', null],
      [1, 'defaultValue', null],
      [2, 'value', 'retry'],
      [2, 'defaultValue', 'retry'],
      [2, 'deployment', 'retry'],
      [3, 'value', 'retry'],
    ]);
    expect(historyOf([])).to.equal(undefined);
  });

  it('names every failing version with path and message, and counts', function () {
    const h = historyOf([
      created(v(3)),
      updated(2, v(9)),
      updated(3, JSON.stringify({ retries: 1 })),
      updated(4, v(2)),
    ])!;
    const r = evaluateWhatIf(atMost5, [h]);
    expect(r.counts).to.deep.equal({
      configs: 1,
      versionsChecked: 4,
      valuesChecked: 4,
      failedValues: 2,
      failedVersions: 2,
      failedConfigs: 1,
    });
    expect(r.configs[0]!.failedVersions).to.deep.equal([2, 3]);
    expect(r.failures.map((f) => [f.version, f.field, f.current, f.errors])).to.deep.equal([
      [2, 'value', false, [{ path: '/maxAttempts', message: 'must be <= 5' }]],
      [3, 'value', false, [{ path: '/', message: "must have required property 'maxAttempts'" }]],
    ]);
    // Version 4 (in use) passes: defining it would not be refused.
    expect(r.wouldBeRefused).to.equal(false);
    expect(r.truncated).to.equal(false);
  });

  it('flags values in use: the current version, its default, a running deployment', function () {
    const live = historyOf([created(v(2), { defaultValue: v(8) })])!;
    const r1 = evaluateWhatIf(atMost5, [live]);
    expect(r1.failures.map((f) => [f.field, f.current])).to.deep.equal([['defaultValue', true]]);
    expect(r1.wouldBeRefused).to.equal(true);

    const rolling = historyOf([
      created(v(2)),
      at('ConfigurationDeploymentStarted', { deploymentId: 'dep_2', value: v(6) }),
    ])!;
    const r2 = evaluateWhatIf(atMost5, [rolling]);
    expect(r2.failures[0]).to.include({
      field: 'deployment',
      deploymentId: 'dep_2',
      current: true,
    });
    expect(r2.wouldBeRefused).to.equal(true);

    // A deleted configuration's last value fails, but nothing live uses it.
    const deleted = historyOf([
      created(v(9)),
      at('ConfigurationDeleted', { version: 2, value: v(9), previousValue: v(9) }),
    ])!;
    const r3 = evaluateWhatIf(atMost5, [deleted]);
    expect(r3.failures.map((f) => [f.version, f.current])).to.deep.equal([[1, false]]);
    expect(r3.wouldBeRefused).to.equal(false);
  });

  it('checks values by their type and lists at most `limit` failures', function () {
    const ints = historyOf([
      created('7', { type: 'Integer' }),
      updated(2, '3', { type: 'Integer' }),
      updated(3, '8', { type: 'Integer' }),
    ])!;
    const r = evaluateWhatIf(validatorOf({ type: 'integer', maximum: 5 }), [ints], 1);
    expect(r.counts.failedValues).to.equal(2);
    expect(r.failures).to.have.length(1);
    expect(r.failures[0]).to.include({ version: 1 });
    expect(r.truncated).to.equal(true);
  });
});
