// API, projector and worker in one process: for a laptop (npm run dev). Production runs them as
// three processes from the same image.
import { buildServices, createApi, createProjector } from '../composition.js';
import { startWorkers } from '../core/jobs/workers.js';
import { cliArgs, onShutdown, requireSchema, settingsOrExit } from './run.js';

cliArgs(
  {},
  `usage: npm run dev   (npm run start:all from dist/)
API, projector and worker in one process, for development. Run \`npm run migrate\` first.`,
);
const settings = settingsOrExit();
const services = await buildServices(settings);
await requireSchema(services.pool, services.logger);
const projector = createProjector(services);
const workers = startWorkers(services);
const api = createApi(services);
onShutdown(services.logger, settings.shutdownTimeoutMs, async (step) => {
  // Independent parts stop together: each may wait a little for an unreachable Redis, and one
  // after the other those waits added up past the grace.
  await Promise.all([
    step('api', api.close()),
    step('worker', workers.close()),
    step('projector', projector.stop()),
  ]);
  await step('services', services.close(step));
});
projector.start();
api.server.listen(settings.port, () => {
  const base = `http://localhost:${settings.port}`;
  services.logger.info(
    { port: settings.port, environment: settings.environment },
    'config service (API + projector + worker) listening',
  );
  // For the person at the terminal: where everything is.
  process.stderr.write(
    [
      '',
      `  API        ${base}/api/v1`,
      `  Swagger    ${base}/swagger`,
      `  Dashboard  ${base}/admin/queues?access_token=<token>`,
      `             token: npm run -s token -- --sub ops --role platform-admin --expires 1h`,
      `  Health     ${base}/health/ready     Metrics  ${base}/metrics`,
      '',
      '',
    ].join('\n'),
  );
});
