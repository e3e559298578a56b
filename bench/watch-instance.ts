/**
 * One process of bench:watch --scale, started by it with the run's settings in its environment:
 * `api` (an API instance: prints `PORT <n>` once it listens and follows Redis invalidations) or
 * `projector` (follows the log: what announces the changes; prints `READY`). SIGTERM stops it.
 */
import { buildServices, createApi, createProjector } from '../src/composition.js';
import { loadSettings } from '../src/core/settings/settings.js';
import { listen } from './support.js';

const role = process.argv[2];
if (role !== 'api' && role !== 'projector') {
  console.error('usage: watch-instance.ts api|projector');
  process.exit(2);
}
const services = await buildServices(loadSettings(process.env));
let stop: () => Promise<void>;
if (role === 'projector') {
  const projector = createProjector(services, { idleWaitMs: 1000 });
  projector.start();
  stop = () => projector.stop();
  console.log('READY');
} else {
  const api = createApi(services);
  const port = await listen(api.server);
  while (!api.cache.isSubscribed) await new Promise((r) => setTimeout(r, 20));
  stop = () => api.close();
  console.log(`PORT ${port}`);
}
process.once('SIGTERM', () => {
  void stop()
    .then(() => services.close())
    .finally(() => process.exit(0));
});
