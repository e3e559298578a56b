import { pino, type Logger } from 'pino';

/** The deployment guide's .NET log levels, mapped onto pino's. */
const LEVELS: Record<string, string> = {
  Trace: 'trace',
  Debug: 'debug',
  Information: 'info',
  Warning: 'warn',
  Error: 'error',
  Critical: 'fatal',
  None: 'silent',
};

export function createLogger(level: string, name = 'config-service'): Logger {
  return pino({ name, level: LEVELS[level] ?? 'info' });
}

export type { Logger };
