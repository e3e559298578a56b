/**
 * What every process and CLI in src/main shares: settings or a one-line exit, flags with --help,
 * failures as one line, the schema check at start-up, and a shutdown that always ends.
 *
 * Exit codes: 0 done; 1 a known failure (one line on stderr: a database that cannot be reached,
 * a schema that needs `npm run migrate`, a shutdown past its time); 2 bad usage or settings (with
 * the usage); 128 + n after a second signal n.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { constants } from 'node:os';
import type pg from 'pg';
import { loadSettings, SettingsError, type Settings } from '../core/settings/settings.js';
import { schemaStatus } from '../core/postgres/migrate.js';
import { describeFailure } from '../core/failures.js';
import type { Logger } from '../core/observability/logger.js';
import type { Services, ShutdownStep } from '../composition.js';
import { DEFAULT_METRICS_PORTS, startMetricsServer } from '../core/observability/metrics-server.js';

const say = (msg: string) => process.stderr.write(`${msg}\n`);

/** Loads settings or exits with a message naming the bad variable; prints its warnings. */
export function settingsOrExit(options: { requireJwtSecret?: boolean } = {}): Settings {
  try {
    const settings = loadSettings(process.env, undefined, options);
    for (const warning of settings.warnings) say(`warning: ${warning}`);
    return settings;
  } catch (error) {
    if (error instanceof SettingsError) {
      say(error.message);
      process.exit(2);
    }
    throw error;
  }
}

/**
 * Parses a CLI's flags. `--help` prints the usage on stdout and exits 0; an unknown flag or a
 * bad value prints the problem and the usage on stderr and exits 2.
 */
export function cliArgs<O extends NonNullable<ParseArgsConfig['options']>>(
  options: O,
  usage: string,
  config: { positionals?: boolean } = {},
) {
  let parsed;
  try {
    parsed = parseArgs({
      options: { ...options, help: { type: 'boolean', short: 'h' } } as O,
      strict: true,
      allowPositionals: config.positionals ?? false,
    });
  } catch (error) {
    usageError((error as Error).message, usage);
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return parsed;
}

export function usageError(problem: string, usage: string): never {
  say(`${problem}\n${usage}`);
  process.exit(2);
}

/** Runs a CLI's work: a failure is one line on stderr (`<name> failed: …`) and exit code 1. */
export async function runCli(name: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    say(`${name} failed: ${describeFailure(error)}`);
    process.exitCode = 1;
  }
}

/**
 * Start-up check of the projector and the worker: the schema this build needs must be there.
 * Behind: one line and exit 1 (run `npm run migrate`). PostgreSQL not answering yet: waits,
 * saying so, as a process started beside its database must.
 */
export async function requireSchema(pool: pg.Pool, logger: Logger): Promise<void> {
  let waiting = false;
  for (;;) {
    try {
      const status = await schemaStatus(pool);
      if (status.ok) return;
      say(status.message);
      logger.flush?.();
      process.exit(1);
    } catch (error) {
      if (!waiting) logger.warn(`waiting for PostgreSQL: ${describeFailure(error)}`);
      waiting = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

/**
 * SIGTERM/SIGINT: logs, runs `stop`, exits 0 when it finishes (1 when it fails). It always ends:
 * past `timeoutMs` the process exits 1 whatever is still waiting (an unreachable Redis, a job
 * that does not finish), and a second signal exits at once.
 */
export function onShutdown(
  logger: Logger,
  timeoutMs: number,
  stop: (step: ShutdownStep) => Promise<void>,
): void {
  let stopping = false;
  const exit = (code: number) => {
    logger.flush?.();
    process.exit(code);
  };
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      exit(128 + constants.signals[signal]);
      return;
    }
    stopping = true;
    const started = Date.now();
    logger.info({ signal, timeoutMs }, 'shutting down');
    const pending = new Set<string>();
    const step: ShutdownStep = (name, work) => {
      pending.add(name);
      return work.finally(() => pending.delete(name));
    };
    setTimeout(() => {
      logger.error(
        { timeoutMs, waitingFor: [...pending] },
        'shutdown did not finish in time; exiting',
      );
      exit(1);
    }, timeoutMs);
    stop(step).then(
      () => {
        logger.info({ ms: Date.now() - started }, 'stopped');
        exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/**
 * A process without an API (the projector, the worker): settings, services, the schema check,
 * /metrics on its port, the work, and a shutdown that stops the work before the services.
 */
export async function runBackgroundProcess(
  kind: keyof typeof DEFAULT_METRICS_PORTS,
  usage: string,
  start: (services: Services) => { stop(): Promise<void>; started: Record<string, unknown> },
): Promise<void> {
  cliArgs({}, usage);
  const settings = settingsOrExit();
  // Imported here: the CLIs that share this file (migrate, token) need none of the service.
  const { buildServices } = await import('../composition.js');
  const services = await buildServices(settings, { poolSize: 6 });
  await requireSchema(services.pool, services.logger);
  const work = start(services);
  const metricsServer = await startMetricsServer(
    services.metrics,
    settings.metricsPort ?? DEFAULT_METRICS_PORTS[kind],
    services.logger,
  );
  onShutdown(services.logger, settings.shutdownTimeoutMs, async (step) => {
    metricsServer.close();
    await step(kind, work.stop());
    await step('services', services.close(step));
  });
  services.logger.info(work.started, `${kind} started`);
}
