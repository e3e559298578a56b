/**
 * `ConfigService__ApiWorkers` > 1: this process becomes the primary of a Node cluster that runs
 * that many API processes on the one port (the primary accepts connections and hands them out
 * round-robin; it serves nothing itself). One Node process answers on one core; on a machine with
 * more, workers let the API use them without a second port or a load balancer in front. Every
 * worker is a full API (its own pools, in-process cache and invalidation subscription), as
 * separate replicas behind one address would be.
 *
 * A worker that dies is started again after a second. The primary exits once every worker has
 * stopped (each drains within the shutdown timeout, as a single API process does).
 */
import cluster from 'node:cluster';
import type { Logger } from '../core/observability/logger.js';

export function runApiWorkers(count: number, shutdownTimeoutMs: number, logger: Logger): void {
  let stopping = false;
  for (let i = 0; i < count; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    logger.error(
      { pid: worker.process.pid, code, signal },
      'API worker exited; starting another in 1 s',
    );
    setTimeout(() => {
      if (!stopping) cluster.fork();
    }, 1000).unref();
  });
  const terminate = () => {
    const workers = Object.values(cluster.workers ?? {});
    if (workers.length === 0) process.exit(0);
    for (const w of workers) w?.process.kill('SIGTERM');
  };
  // SIGTERM (an orchestrator stopping the container) reaches this process only: pass it on.
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    terminate();
  });
  // Ctrl-C reaches every process of the group, workers included, and a second signal makes a
  // worker exit at once: give them their shutdown time, then stop whoever is left.
  process.on('SIGINT', () => {
    if (stopping) return;
    stopping = true;
    setTimeout(terminate, shutdownTimeoutMs + 1000).unref();
  });
  logger.info({ workers: count }, 'config service API: starting workers');
}
