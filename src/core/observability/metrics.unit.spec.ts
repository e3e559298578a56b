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

  it('counts hot reads per route and status in http_requests_total, across scrapes', async function () {
    const m = createMetrics();
    for (let i = 0; i < 300; i++) m.hotRead('key', 0.1, 'local', 200);
    m.hotRead('environment', 0.1, 'local', 200);
    m.hotRead('key', 0.1, 'error', 404);
    const hot = async () =>
      (await samples(m, 'http_requests_total'))
        .concat(
          (await m.registry.metrics())
            .split('\n')
            .filter((l) => l.startsWith('http_requests_total{') && l.includes('GET')),
        )
        .sort();
    const first = await hot();
    expect(
      first.some((l) => /status="200"/.test(l) && / 300$/.test(l)),
      first.join('\n'),
    ).to.equal(true);
    expect(first.some((l) => /status="404"/.test(l) && / 1$/.test(l))).to.equal(true);
    m.hotRead('key', 0.1, 'local', 200);
    const second = await hot();
    expect(
      second.some((l) => /status="200"/.test(l) && / 301$/.test(l)),
      second.join('\n'),
    ).to.equal(true);
  });

  it('keeps reads made after a quiet spell longer than the window in cache_hit_rate', async function () {
    const realNow = Date.now;
    let now = realNow();
    Date.now = () => now;
    try {
      const m = createMetrics();
      m.hotRead('key', 0.1, 'postgres', 200);
      expect(Number((await samples(m, 'cache_hit_rate'))[0]!.split(' ')[1])).to.equal(0);
      now += 400_000; // quieter than the five-minute window
      for (let i = 0; i < 10; i++) m.hotRead('key', 0.1, 'local', 200);
      // The miss aged out; the ten hits (not yet counted into a slot) are not lost.
      expect(Number((await samples(m, 'cache_hit_rate'))[0]!.split(' ')[1])).to.equal(1);
    } finally {
      Date.now = realNow;
    }
  });
});
