// The projector: follows the event log into the read tables and the Redis cache
// (npm run start:projector). Several may run; each projection is active in one of them.
import { buildServices, createProjector } from '../composition.js';
import { onShutdown, settingsOrExit } from './run.js';
import { startMetricsServer } from '../infrastructure/metrics-server.js';

const settings = settingsOrExit();
const services = await buildServices(settings, { poolSize: 6 });
const projector = createProjector(services);
projector.start();
services.logger.info(
  { projections: [...projector.runners.map((r) => r.projection.name), projector.redisCache.name] },
  'projector started',
);
const metricsServer = startMetricsServer(services.metrics, settings.metricsPort);
onShutdown(async () => {
  metricsServer.close();
  await projector.stop();
  await services.close();
});
