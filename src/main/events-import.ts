// Imports an NDJSON export of the event log (a restore):
//   npm run events:import -- --in events.ndjson [--rebuild]
// The file is checked whole first (nothing is appended when any line is malformed), then imported
// in file order. Meant for an empty store; importing the same file again appends nothing (events
// are idempotent by id). With --rebuild, every projection is then rebuilt from the imported log.
// Progress goes to stderr.
import { createReadStream } from 'node:fs';
import { buildServices, createProjector } from '../composition.js';
import { rebuildProjections } from '../core/projections/rebuild.js';
import { importEvents, type ImportProgress } from '../features/backup/event-transfer.js';
import { cliArgs, settingsOrExit } from './run.js';
import { describeFailure } from '../core/failures.js';

const USAGE = 'usage: npm run events:import -- --in <file.ndjson> [--rebuild]';
const say = (msg: string) => process.stderr.write(`${msg}\n`);

const { values: args } = cliArgs(
  { in: { type: 'string' }, rebuild: { type: 'boolean', default: false } } as const,
  USAGE,
);
if (!args.in) {
  say(`--in is required\n${USAGE}`);
  process.exit(2);
}
const file = args.in;

/** Prints every 1000 events. */
function reporter(verb: string) {
  let reported = 0;
  return ({ events, lines }: ImportProgress) => {
    if (events - reported < 1000) return;
    reported = events;
    say(`${verb} ${events} events (line ${lines})`);
  };
}

const settings = settingsOrExit();
const services = await buildServices(settings, { poolSize: 2 });
const projector = args.rebuild ? createProjector(services) : undefined;
let exitCode = 0;
try {
  const checked = await importEvents(services.store, {
    input: createReadStream(file),
    dryRun: true,
    onProgress: reporter('checked'),
  });
  say(`checked ${checked.events} events in ${file}`);
  const headBefore = await services.store.headPosition();
  const { events } = await importEvents(services.store, {
    input: createReadStream(file),
    onProgress: reporter('imported'),
  });
  // Events already in the store (same ids) are skipped, so a re-run moves the head by nothing.
  const headAfter = await services.store.headPosition();
  say(`imported ${events} events; log head ${headBefore} -> ${headAfter}`);
  if (projector) {
    await rebuildProjections(services, projector, [], say);
    say('projections rebuilt');
  }
} catch (error) {
  exitCode = 1;
  say(`import failed: ${describeFailure(error)}`);
} finally {
  await projector?.stop();
  await services.close();
}
process.exitCode = exitCode;
