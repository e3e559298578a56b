import { expect } from 'chai';
import { HttpProblem } from '../../core/http/problem.js';
import { EnvironmentDirectory } from './environment-directory.js';

/** A read table whose answers the test releases one at a time. */
function table(initial: Record<string, string[]>) {
  const rows = { ...initial };
  const loads: { tenantId: string; release: () => void }[] = [];
  let held = false;
  return {
    rows,
    loads,
    hold() {
      held = true;
    },
    load(tenantId: string): Promise<string[]> {
      const answer = [...(rows[tenantId] ?? [])];
      if (!held) return Promise.resolve(answer);
      return new Promise((resolve) => loads.push({ tenantId, release: () => resolve(answer) }));
    },
  };
}

const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (error) {
    return error as HttpProblem;
  }
  throw new Error('expected a refusal');
};

describe('environment directory (hot read path)', function () {
  it('resolves any case to the declared spelling from memory once loaded', async function () {
    const t = table({ acme: ['Development', 'Production'] });
    const d = new EnvironmentDirectory(t.load, () => 60_000);
    expect(d.peek('acme', 'production')).to.equal(undefined);
    expect(await d.resolve('acme', 'PRODUCTION')).to.equal('Production');
    expect(d.peek('acme', 'production')).to.equal('Production');
    expect(d.peek('acme', 'Development')).to.equal('Development');
    expect(d.peek('acme', 'Prod')).to.equal(false);
  });

  it('refuses an undeclared name with 404 naming the declared ones', async function () {
    const d = new EnvironmentDirectory(table({ acme: ['Staging'] }).load, () => 60_000);
    const error = await refusal(d.resolve('acme', 'Nope'));
    expect(error).to.be.instanceOf(HttpProblem);
    expect(error.status).to.equal(404);
    expect(error.extra).to.deep.include({
      field: 'environment',
      declaredEnvironments: ['Staging'],
    });
  });

  it('waits for the read model to settle before refusing, then reloads once', async function () {
    const t = table({ acme: ['Staging'] });
    let settled = 0;
    const d = new EnvironmentDirectory(
      t.load,
      () => 60_000,
      async () => {
        settled++;
        t.rows.acme = ['Staging', 'QA']; // the projection caught up meanwhile
      },
    );
    expect(await d.resolve('acme', 'qa')).to.equal('QA');
    expect(settled).to.equal(1);
    // Settled: a miss is now an answer, without waiting again.
    await refusal(d.resolve('acme', 'Nope'));
    expect(settled).to.equal(1);
    // A read of its own write re-checks.
    await refusal(d.resolve('acme', 'Nope', { fresh: true }));
    expect(settled).to.equal(2);
  });

  it('drops a tenant on invalidation, and never keeps a load the invalidation overtook', async function () {
    const t = table({ acme: ['Staging'] });
    const d = new EnvironmentDirectory(t.load, () => 60_000);
    t.hold();
    const before = d.resolve('acme', 'Staging');
    t.rows.acme = ['Staging', 'QA'];
    d.invalidate('acme'); // QA declared while the load was in flight
    t.loads[0]!.release();
    expect(await before).to.equal('Staging');
    expect(d.peek('acme', 'QA')).to.equal(undefined); // the old load was not kept
    const after = d.resolve('acme', 'QA');
    t.loads[1]!.release();
    expect(await after).to.equal('QA');
    d.clear();
    expect(d.peek('acme', 'QA')).to.equal(undefined);
  });

  it('keeps an entry only as long as the TTL of the moment', async function () {
    let ttl = 60_000;
    const d = new EnvironmentDirectory(table({ acme: ['Staging'] }).load, () => ttl);
    ttl = -1; // pub/sub down: entries expire at once
    await d.resolve('acme', 'Staging');
    expect(d.peek('acme', 'Staging')).to.equal(undefined);
  });
});
