/**
 * BullMQ queues and their workers (npm run start:worker). Queue names and options live here.
 */
import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Services } from '../composition.js';
import { createProjector } from '../composition.js';
import { rebuildProjections } from '../../projections/rebuild.js';

export const QUEUES = { rebuild: 'projection-rebuild' } as const;

export function bullConnection(s: Services): ConnectionOptions {
  // BullMQ's blocking commands need maxRetriesPerRequest: null.
  return { ...s.settings.redis, maxRetriesPerRequest: null } as ConnectionOptions;
}

export const bullPrefix = (s: Services) => `${s.settings.redisKeyPrefix}bull`;

export function rebuildQueue(s: Services): Queue {
  return new Queue(QUEUES.rebuild, { connection: bullConnection(s), prefix: bullPrefix(s) });
}

export interface RebuildJob {
  projections: string[];
}

export function startWorkers(s: Services) {
  const projector = createProjector(s);
  const rebuild = new Worker<RebuildJob>(
    QUEUES.rebuild,
    async (job: Job<RebuildJob>) => {
      const rebuilt = await rebuildProjections(
        s,
        projector,
        job.data.projections,
        (msg) => s.logger.info({ job: job.id }, msg),
        (done, total) => job.updateProgress(Math.round((done / total) * 100)),
      );
      return { rebuilt };
    },
    { connection: bullConnection(s), prefix: bullPrefix(s), concurrency: 1 },
  );
  rebuild.on('failed', (job, err) => s.logger.error({ job: job?.id, err }, 'rebuild failed'));
  return {
    queues: Object.values(QUEUES),
    async close() {
      await rebuild.close();
      await projector.stop();
    },
  };
}
