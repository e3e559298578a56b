// Rebuilds projections from position zero (npm run projections:rebuild [-- name …]).
import { buildServices, createProjector } from '../composition.js';
import { rebuildProjections } from '../../projections/rebuild.js';
import { settingsOrExit } from './run.js';

const settings = settingsOrExit();
const services = await buildServices(settings);
const projector = createProjector(services);
const names = process.argv.slice(2);
try {
  await rebuildProjections(services, projector, names, (msg) => console.log(msg));
  console.log('done');
} finally {
  await services.close();
  await projector.stop();
}
