/**
 * Ctrl-C / SIGTERM during a benchmark: run the registered cleanups (database, Redis keys,
 * processes), then exit. Work still in flight fails against the dropped database, which is fine:
 * the process exits right after. A second signal exits at once.
 */
import { cleanUp } from './support.js';

export function cleanUpOnSignal(bench: string): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(130);
    signalled = true;
    console.error(`\n${signal}: ${bench} stops; cleaning up ...`);
    void cleanUp().then((ok) => process.exit(ok ? 130 : 1));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
