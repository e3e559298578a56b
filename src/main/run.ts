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
