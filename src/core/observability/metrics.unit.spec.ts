import { expect } from 'chai';
import { createMetrics } from './metrics.js';

const samples = async (m: ReturnType<typeof createMetrics>, name: string) =>
  (await m.registry.metrics()).split('\n').filter((l) => l.startsWith(`${name} `));

describe('metrics (unit)', function () {
  it('exports no cache_hit_rate sample without reads (no false LowCacheHitRate alert)', async function () {
    const m = createMetrics();
    expect(await samples(m, 'cache_hit_rate')).to.deep.equal([]);
    expect(await m.registry.metrics()).to.match(/^# TYPE cache_hit_rate gauge$/m);
    m.hotRead('key', 0.2, 'local', 200);
    m.hotRead('key', 0.2, 'local', 200);
    m.hotRead('key', 3, 'postgres', 200);
    m.hotRead('key', 0.1, 'error', 404); // problems are not cache lookups
    const [sample] = await samples(m, 'cache_hit_rate');
    expect(Number(sample!.split(' ')[1])).to.be.closeTo(2 / 3, 1e-9);
  });
});
