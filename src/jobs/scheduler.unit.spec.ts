import { expect } from 'chai';
import type { RecordedEvent } from '../core/event-store/event-store.js';
import { jobScheduler } from './scheduler.js';
import type { Queues } from './queues.js';

describe('job scheduler (unit)', function () {
  it('times a step from when it was decided, so a restored log keeps what is left of a bake', async function () {
    const added: { data: unknown; opts: { delay?: number } }[] = [];
    const queues = {
      steps: {
        add: async (_n: string, data: unknown, opts: { delay?: number }) =>
          void added.push({ data, opts }),
      },
      expiry: { add: async () => undefined },
    } as unknown as Queues;
    const decided = Date.parse('2026-11-27T10:00:00Z');
    const started: RecordedEvent = {
      id: '00000000-0000-0000-0000-000000000001',
      type: 'DeploymentStarted',
      streamId: 'deployment-dep_1',
      revision: 0n,
      position: 1n,
      // Imported an hour later: recordedAt is the import's time.
      recordedAt: new Date(decided + 3_600_000),
      data: { deploymentId: 'dep_1', strategy: 'Canary', bakeTimeSeconds: 60 },
      metadata: { timestamp: new Date(decided).toISOString(), schemaVersion: 1 },
    };
    const scheduler = jobScheduler(queues, () => decided + 10_000);
    await scheduler.apply(undefined as never, [started]);
    expect(added).to.have.length(1);
    expect(added[0]!.opts.delay).to.equal(50_000);
    expect(added[0]!.data).to.include({ deploymentId: 'dep_1', stepIndex: 0, bake: 1 });
  });
});
