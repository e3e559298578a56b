// Exports the event log (the source of truth) as NDJSON, for backups and moves:
//   npm run events:export -- [--tenant <id>] [--out events.ndjson]
// Without --out the NDJSON goes to stdout; progress goes to stderr. With --out the file is written
// as <file>.partial and renamed when complete, so a failed export never looks like a good backup.
import { open, rename, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { pino } from 'pino';
import { buildServices } from '../composition.js';
import { createLogger } from '../core/observability/logger.js';
import { exportEvents } from '../features/backup/event-transfer.js';
import { cliArgs, settingsOrExit } from './run.js';
import { describeFailure } from '../core/failures.js';

const USAGE = 'usage: npm run events:export -- [--tenant <id>] [--out <file.ndjson>]';
const say = (msg: string) => process.stderr.write(`${msg}\n`);

const { values: args } = cliArgs(
  { tenant: { type: 'string' }, out: { type: 'string' } } as const,
  USAGE,
);

const settings = settingsOrExit();
const target = args.out;
const partial = target ? `${target}.partial` : undefined;
// Open the file first: a bad path fails before anything connects.
let file;
try {
  file = partial ? await open(partial, 'w') : undefined;
} catch (error) {
  say(`export failed: ${describeFailure(error)}`);
  process.exit(1);
}
const out = file ? file.createWriteStream() : process.stdout;
// Write errors (a full disk, a closed pipe) reject the export's pending write; do not crash here.
out.on('error', () => undefined);

// stdout may carry the export: logs go to stderr.
const logger = pino(
  { name: 'events-export', level: createLogger(settings.logLevel).level },
  pino.destination({ dest: 2, sync: true }),
);
const services = await buildServices(settings, { logger, poolSize: 2 });
let exitCode = 0;
try {
  let reported = 0;
  const { written, head } = await exportEvents(services.store, {
    tenantId: args.tenant,
    out,
    onProgress: ({ written, position, head }) => {
      if (written - reported >= 1000) {
        reported = written;
        say(`exported ${written} events (position ${position} of ${head})`);
      }
    },
  });
  if (partial && target) {
    out.end();
    await finished(out);
    await rename(partial, target);
  }
  say(
    `exported ${written} events${args.tenant ? ` of tenant '${args.tenant}'` : ''} ` +
      `(log head ${head})${target ? ` to ${target}` : ''}`,
  );
} catch (error) {
  exitCode = 1;
  say(`export failed: ${describeFailure(error)}`);
  if (partial) {
    out.destroy();
    await rm(partial, { force: true }).catch(() => undefined);
  }
} finally {
  await services.close();
}
process.exitCode = exitCode;
