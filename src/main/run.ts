import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadSettings, SettingsError, type Settings } from '../config/settings.js';

/** Loads settings or exits with a message naming the bad variable. */
export function settingsOrExit(options: { requireJwtSecret?: boolean } = {}): Settings {
  try {
    return loadSettings(process.env, undefined, options);
  } catch (error) {
    if (error instanceof SettingsError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

/** Runs `stop` on SIGINT/SIGTERM, then exits. */
export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** Parses a CLI's flags (plus --help); a bad flag prints the usage and exits with 2. */
export function cliArgs<O extends NonNullable<ParseArgsConfig['options']>>(
  options: O,
  usage: string,
) {
  const say = (msg: string) => process.stderr.write(`${msg}\n`);
  try {
    const { values } = parseArgs({
      options: { ...options, help: { type: 'boolean', short: 'h' } } as O,
      strict: true,
      allowPositionals: false,
    });
    if ((values as { help?: boolean }).help) {
      say(usage);
      process.exit(0);
    }
    return values;
  } catch (error) {
    say(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
}
