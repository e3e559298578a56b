// The projector: follows the event log into the read tables and the Redis cache
// (npm run start:projector). Several may run; each projection is active in one of them.
import { createProjector } from '../composition.js';
import { runBackgroundProcess } from './run.js';
import { DEFAULT_METRICS_PORTS } from '../core/observability/metrics-server.js';

await runBackgroundProcess(
  'projector',
  `usage: npm run start:projector   (npm run dev:projector from source)
Follows the event log into the read tables and the Redis cache. /metrics on METRICS_PORT
(default ${DEFAULT_METRICS_PORTS.projector}).`,
  (services) => {
    const projector = createProjector(services);
    projector.start();
    return {
      stop: () => projector.stop(),
      started: {
        projections: [
          ...projector.runners.map((r) => r.projection.name),
          projector.redisCache.name,
        ],
      },
    };
  },
);
