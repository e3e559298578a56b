// API, projector and worker in one process: for a laptop (npm run dev). Production runs them as
// three processes from the same image.
import { buildServices, createApi, createProjector } from '../composition.js';
import { startWorkers } from '../jobs/workers.js';
import { onShutdown, settingsOrExit } from './run.js';

const settings = settingsOrExit();
const services = await buildServices(settings);
const projector = createProjector(services);
projector.start();
const workers = startWorkers(services);
const api = createApi(services);
api.server.listen(settings.port, () => {
  services.logger.info(
    { port: settings.port, environment: settings.environment },
    'config service (API + projector + worker) listening',
  );
});
onShutdown(async () => {
  await api.close();
  await workers.close();
  await projector.stop();
  await services.close();
});
