// Rebuilds projections from position zero (npm run projections:rebuild [-- name …]).
import { buildServices, createProjector } from '../composition.js';
import { rebuildProjections } from '../core/projections/rebuild.js';
import { PROJECTIONS } from '../features/operations/admin.routes.js';
import { cliArgs, runCli, settingsOrExit, usageError } from './run.js';

const USAGE = `usage: npm run projections:rebuild [-- <projection> …]
Rebuilds the named projections (all when none: ${PROJECTIONS.join(', ')}) from the event log
while the service keeps serving; the switch to the rebuilt tables is one transaction.`;

const { positionals: names } = cliArgs({}, USAGE, { positionals: true });
const unknown = names.filter((n) => !(PROJECTIONS as readonly string[]).includes(n));
if (unknown.length) usageError(`unknown projection(s): ${unknown.join(', ')}`, USAGE);
const settings = settingsOrExit();
const services = await buildServices(settings);
const projector = createProjector(services);
await runCli('rebuild', async () => {
  try {
    await rebuildProjections(services, projector, names, (msg) => console.log(msg));
    console.log('done');
  } finally {
    await projector.stop();
    await services.close();
  }
});
