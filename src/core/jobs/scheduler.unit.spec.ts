import { expect } from 'chai';
import type { RecordedEvent } from '../event-store/event-store.js';
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

  it('adds an expiry job for a change set awaiting approval, none for one applied at once', async function () {
    const added: { name: string; data: unknown; opts: { jobId: string; delay: number } }[] = [];
    const queues = {
      expiry: {
        add: async (name: string, data: unknown, opts: { jobId: string; delay: number }) =>
          void added.push({ name, data, opts }),
      },
    } as unknown as Queues;
    const now = Date.parse('2026-11-27T10:00:00Z');
    const requested = (changeSetId: string, requiredApprovals: number): RecordedEvent => ({
      id: '00000000-0000-0000-0000-00000000000' + requiredApprovals,
      type: 'ChangeSetRequested',
      streamId: `changeset-acme:${changeSetId}`,
      revision: 0n,
      position: 2n,
      recordedAt: new Date(now),
      data: {
        changeSetId,
        tenantId: 'acme',
        requiredApprovals,
        expiresAt: new Date(now + 60_000).toISOString(),
      },
      metadata: { timestamp: new Date(now).toISOString(), schemaVersion: 1 },
    });
    await jobScheduler(queues, () => now).apply(undefined as never, [
      requested('cs_a', 1),
      requested('cs_b', 0),
    ]);
    expect(added).to.have.length(1);
    expect(added[0]!.opts).to.deep.equal({ jobId: 'expire-cs_a', delay: 60_000 });
    expect(added[0]!.data).to.deep.include({ changeSetId: 'cs_a', tenantId: 'acme' });
  });
});
