import { expect } from 'chai';
import { coalesced } from './coalesced.js';

describe('coalesced re-reads (unit)', function () {
  const tick = () => new Promise((r) => setTimeout(r, 5));

  it('never overlaps, and runs once more after checks made while running', async function () {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const reads = coalesced(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs++;
      await tick();
      active--;
    });
    reads.check();
    reads.check();
    reads.check();
    await tick();
    await tick();
    await tick();
    expect(maxActive).to.equal(1);
    expect(runs).to.equal(2); // the first, then one for the checks made meanwhile
  });

  it('keeps going after a run that throws, and stops when told', async function () {
    let runs = 0;
    const reads = coalesced(async () => {
      runs++;
      if (runs === 1) throw new Error('down');
    });
    reads.check();
    await tick();
    reads.check();
    await tick();
    expect(runs).to.equal(2);
    reads.stop();
    reads.check();
    await tick();
    expect(runs).to.equal(2);
    expect(reads.stopped).to.equal(true);
  });
});
