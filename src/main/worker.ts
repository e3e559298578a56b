// The BullMQ worker (npm run start:worker): timed and long work. See src/core/jobs/.
import { startWorkers } from '../core/jobs/workers.js';
import { runBackgroundProcess } from './run.js';
import { DEFAULT_METRICS_PORTS } from '../core/observability/metrics-server.js';

await runBackgroundProcess(
  'worker',
  `usage: npm run start:worker   (npm run dev:worker from source)
Runs the jobs: canary steps, change-request expiry, projection rebuilds, the job reconciler.
/metrics on METRICS_PORT (default ${DEFAULT_METRICS_PORTS.worker}).`,
  (services) => {
    const workers = startWorkers(services);
    return { stop: () => workers.close(), started: { queues: workers.queues } };
  },
);
