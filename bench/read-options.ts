/**
 * bench:read's options (--help prints USAGE), the seeded tenant's names and the routes measured.
 */
import { parseArgs } from 'node:util';
import { integer, UsageError } from './support.js';

export const GOAL = 0.9;
/** At one connection, the app's p50 may exceed the bare server's by this much. */
export const P50_GOAL_US = 20;
/** Other processes using more than this (cores) during a run make its req/s unreliable. */
export const DISTURBED_CORES = 0.25;
export const TENANT = 'bench-tenant';
// Not Production: direct writes there need an approval (change requests), which seeding does not do.
export const ENVIRONMENT = 'Staging';
export const SINGLE_KEY = 'checkout.retry-policy';
/** --encrypted: a value encrypted at rest in the environment, read by a caller who may reveal it. */
export const SECRET_KEY = 'db.password';
export const ctx = { userId: 'bench', correlationId: 'bench' };

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

export const USAGE = `usage: npm run bench:read -- [options]
  --duration <s>      seconds per measured run (default 10; 3 for a quick look)
  --connections <n>   concurrent connections (default 50)
  --pipelining <n>    requests in flight per connection (default 1)
  --rounds <n>        baseline-then-app pairs per route; the median is reported (default 3)
  --warmup <s>        unmeasured seconds per target and route before measuring (default 1, 0 = none)
  --configs <n>       configs in the benchmarked environment (default 50)
  --generator <g>     autocannon (default) or wrk (must be on PATH: apt-get install -y wrk)
  --threads <n>       wrk threads (default 2)
  --in-process        run autocannon on the servers' thread instead of a worker thread
  --api-key           also measure an app reading with an API key (X-API-Key) beside the JWT
                      reader (not with --production)
  --production        benchmark the built service (npm run build, then npm start, start:projector
                      and start:worker, ASPNETCORE_ENVIRONMENT=Production) against a bare
                      node:http server in a process of its own
  --skip-build        with --production: use dist/ as it is
  --instructions <n>  with --production: run the API and the baseline under valgrind's callgrind
                      and count the instructions each executes for <n> requests, --rounds times
                      (load-independent; minutes per round; needs valgrind)
  --encrypted         add a value encrypted at rest (its own route) and read everything as a
                      tenant admin, who gets it decrypted (Encryption__MasterKey: a random one)
  --cluster <n>       also the API with ConfigService__ApiWorkers=n (Node cluster workers on one
                      port; from dist/ with --production, else from source) beside a node:http
                      cluster of n workers (default 2; 0 or 1: leave out)
  --api-flags <flags> with --production: more node flags for the API process, space-separated
                      (e.g. --api-flags='--cpu-prof --cpu-prof-dir=/tmp/prof' for a profile
                      written when the run ends, or --api-flags=--trace-gc); its output goes to the
                      log the run prints when the API fails, and to --api-log <file>
  --api-log <file>    with --production: also write the API's stdout and stderr to <file>
  --tracing           with --production: set OpenTelemetry__JaegerEndpoint (a port nobody listens
                      on) and OpenTelemetry__SamplingRate=0.1, as the deployment guide's production
  --help`;

export function parseOptions() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      pipelining: { type: 'string', default: '1' },
      rounds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      configs: { type: 'string', default: '50' },
      generator: { type: 'string', default: 'autocannon' },
      threads: { type: 'string', default: '2' },
      'in-process': { type: 'boolean', default: false },
      'api-key': { type: 'boolean', default: false },
      production: { type: 'boolean', default: false },
      'skip-build': { type: 'boolean', default: false },
      tracing: { type: 'boolean', default: false },
      encrypted: { type: 'boolean', default: false },
      cluster: { type: 'string', default: '2' },
      instructions: { type: 'string', default: '0' },
      'api-flags': { type: 'string' },
      'api-log': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const generator = values.generator;
  if (generator !== 'autocannon' && generator !== 'wrk') {
    throw new UsageError(`--generator must be autocannon or wrk, not '${generator}'`);
  }
  if (generator === 'wrk' && values.pipelining !== '1') {
    throw new UsageError('--pipelining needs --generator autocannon');
  }
  if (
    (values['skip-build'] ||
      values.tracing ||
      values.instructions !== '0' ||
      values['api-flags'] !== undefined ||
      values['api-log'] !== undefined) &&
    !values.production
  ) {
    throw new UsageError(
      '--skip-build, --tracing, --instructions, --api-flags and --api-log go with --production',
    );
  }
  if (values.instructions !== '0' && generator !== 'autocannon') {
    throw new UsageError('--instructions sends a fixed number of requests: autocannon only');
  }
  return {
    generator: generator as 'autocannon' | 'wrk',
    threads: integer('threads', values.threads, 1),
    configs: integer('configs', values.configs, 1),
    production: values.production,
    skipBuild: values['skip-build'],
    tracing: values.tracing,
    instructions: integer('instructions', values.instructions, 0),
    apiFlags: values['api-flags']?.split(/\s+/).filter(Boolean) ?? [],
    apiLog: values['api-log'],
    help: values.help,
    duration: integer('duration', values.duration, 1),
    connections: integer('connections', values.connections, 1),
    pipelining: integer('pipelining', values.pipelining, 1),
    rounds: integer('rounds', values.rounds, 1),
    warmup: integer('warmup', values.warmup, 0),
    inProcess: values['in-process'],
    apiKey: values['api-key'],
    encrypted: values.encrypted,
    cluster: integer('cluster', values.cluster, 0),
  };
}

export type Options = ReturnType<typeof parseOptions>;
export const ROUTE_BASE = `/api/v1/tenants/${TENANT}/environments/${ENVIRONMENT}/configs`;
export const ROUTES = [
  { name: 'single key', path: `${ROUTE_BASE}/${SINGLE_KEY}` },
  { name: 'environment', path: ROUTE_BASE },
];
