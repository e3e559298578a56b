// The HTTP API: commands, queries and the apps' hot read path (npm start).
import { buildServices, createApi } from '../composition.js';
import { schemaStatus } from '../core/postgres/migrate.js';
import cluster from 'node:cluster';
import { cliArgs, onShutdown, settingsOrExit } from './run.js';
import { runApiWorkers } from './api-workers.js';
import { createLogger } from '../core/observability/logger.js';

cliArgs(
  {},
  `usage: npm start   (node --import ./dist/src/main/instrument.js dist/src/main/api.js)
Serves the HTTP API on ASPNETCORE_URLS (default http://+:5000); ConfigService__ApiWorkers=n
runs n API processes on that port (Node cluster). Settings come from the environment and
appsettings.json: see the README's Settings table.`,
);
const settings = settingsOrExit();
if (settings.apiWorkers > 1 && cluster.isPrimary) {
  runApiWorkers(
    settings.apiWorkers,
    settings.shutdownTimeoutMs,
    createLogger(settings.logLevel, 'config-service-api'),
  );
} else {
  await serve();
}

async function serve(): Promise<void> {
  const services = await buildServices(settings);
  const api = createApi(services);
  onShutdown(services.logger, settings.shutdownTimeoutMs, async (step) => {
    await step('api', api.close());
    await step('services', services.close(step));
  });
  // Started before `npm run migrate`? Say so once; /health/ready stays 503 with the same message.
  void schemaStatus(services.pool).then(
    (status) => {
      if (!status.ok) services.logger.error(`${status.message}; not ready until then`);
    },
    () => undefined, // PostgreSQL unreachable: /health/ready says so
  );
  api.server.listen(settings.port, () => {
    services.logger.info(
      { port: settings.port, environment: settings.environment },
      'config service API listening',
    );
  });
}
