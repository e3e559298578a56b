// The HTTP API: commands, queries and the apps' hot read path (npm start).
import { buildServices, createApi } from '../composition.js';
import { onShutdown, settingsOrExit } from './run.js';

const settings = settingsOrExit();
const services = await buildServices(settings);
const api = createApi(services);
api.server.listen(settings.port, () => {
  services.logger.info(
    { port: settings.port, environment: settings.environment },
    'config service API listening',
  );
});
onShutdown(async () => {
  await api.close();
  await services.close();
});
