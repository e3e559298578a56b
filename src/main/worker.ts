// The BullMQ worker (npm run start:worker): timed and long work. See src/jobs/.
import { startWorkers } from '../jobs/workers.js';
import { buildServices } from '../composition.js';
import { onShutdown, settingsOrExit } from './run.js';
import { startMetricsServer } from '../infrastructure/metrics-server.js';

const settings = settingsOrExit();
const services = await buildServices(settings, { poolSize: 6 });
const workers = startWorkers(services);
services.logger.info({ queues: workers.queues }, 'worker started');
const metricsServer = startMetricsServer(services.metrics, settings.metricsPort);
onShutdown(async () => {
  metricsServer.close();
  await workers.close();
  await services.close();
});
