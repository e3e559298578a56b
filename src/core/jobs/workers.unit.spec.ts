import { expect } from 'chai';
import { progressReporter, rebuildPercent } from './workers.js';
import { sleep } from '../event-store/event-store.js';

describe('rebuild progress (unit)', () => {
  it('weighs finished projections and the share of the current one', () => {
    expect(
      rebuildPercent({ projection: 'a', position: 0n, head: 10n, done: 0, total: 3 }),
    ).to.equal(0);
    expect(
      rebuildPercent({ projection: 'b', position: 5n, head: 10n, done: 1, total: 3 }),
    ).to.equal(50);
    expect(
      rebuildPercent({ projection: '', position: 10n, head: 10n, done: 3, total: 3 }),
    ).to.equal(100);
    expect(rebuildPercent({ projection: '', position: 0n, head: 0n, done: 0, total: 1 })).to.equal(
      100,
    );
  });

  it('delivers reports in order even when earlier sends are slower, and ends on the last one', async () => {
    const stored: number[] = [];
    // The first send is the slowest: unchained, 100 would land before 67 and be overwritten.
    const delays: Record<number, number> = { 33: 30, 67: 20, 100: 0 };
    const report = progressReporter(async (p) => {
      await sleep(delays[p] ?? 0);
      stored.push(p);
    });
    void report(33);
    void report(67);
    await report(100);
    expect(stored).to.deep.equal([33, 67, 100]);
  });

  it('never goes backwards and keeps going after a failed send', async () => {
    const stored: number[] = [];
    const report = progressReporter(async (p) => {
      if (p === 20) throw new Error('redis blip');
      stored.push(p);
    });
    void report(10);
    void report(20).catch(() => undefined);
    void report(15);
    await report(90);
    expect(stored).to.deep.equal([10, 90]);
  });
});
