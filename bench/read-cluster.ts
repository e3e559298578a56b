/**
 * bench:read --cluster <n>: the API as it runs on every core (`ConfigService__ApiWorkers=n`, Node
 * cluster workers on one port, the way `npm start` ships it), beside a node:http cluster of n
 * workers answering the same bytes, in the same run. Both are processes of their own; their CPU
 * is the primary's and every worker's.
 */
import { childPids, freePort, ROOT, start, startBaselineProcess } from './processes.js';
import type { ServerCpu } from './load.js';
import type { Canned } from './read-targets.js';

export interface ClusterTargets {
  workers: number;
  app: { port: number; server: ServerCpu };
  baseline: { port: number; server: ServerCpu };
}

/** Primary and workers, for the CPU accounting. */
function clusterCpu(primary: number): ServerCpu {
  return {
    statPath: `/proc/${primary}/stat`,
    morePaths: childPids(primary).map((p) => `/proc/${p}/stat`),
    separate: true,
  };
}

/**
 * Starts the API with `workers` cluster workers (from dist/ with `production`, else from source
 * through tsx) on the same database and Redis prefix, waits until every route answers 200, and
 * starts the baseline cluster.
 */
export async function startClusterTargets(
  workers: number,
  env: NodeJS.ProcessEnv,
  canned: Map<string, Canned>,
  token: string,
  keepAliveTimeout: number,
  command: string[],
): Promise<ClusterTargets> {
  const port = await freePort();
  const api = start(`API cluster (${workers} workers)`, command, {
    ...env,
    ConfigService__ApiWorkers: String(workers),
    ASPNETCORE_URLS: `http://127.0.0.1:${port}`,
    METRICS_PORT: String(await freePort()),
  });
  const deadline = Date.now() + 120_000;
  // Enough answers in a row that every worker (round-robin) has served each route once.
  let inARow = 0;
  while (inARow < 4 * workers) {
    if (Date.now() > deadline) throw new Error(`the API cluster never answered:\n${api.tail()}`);
    try {
      const statuses = await Promise.all(
        [...canned.keys()].map((path) =>
          fetch(`http://127.0.0.1:${port}${path}`, {
            headers: { authorization: `Bearer ${token}`, connection: 'close' },
          }).then(async (r) => (await r.arrayBuffer(), r.status)),
        ),
      );
      inARow = statuses.every((s) => s === 200) ? inARow + 1 : 0;
    } catch {
      inARow = 0; // not listening yet
    }
    if (inARow === 0) await new Promise((r) => setTimeout(r, 200));
  }
  const baseline = await startBaselineProcess(canned, keepAliveTimeout, [], workers);
  return {
    workers,
    app: { port, server: clusterCpu(api.pid) },
    baseline: { port: baseline.port, server: clusterCpu(baseline.child.pid) },
  };
}

/** `npm start` from source: the API entry point through tsx's loader. */
export const sourceApiCommand = [process.execPath, '--import', 'tsx', `${ROOT}/src/main/api.ts`];
