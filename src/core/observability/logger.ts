import { pino, type Logger } from 'pino';
import { activeSpanContext } from './trace-context.js';

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
  return pino({
    name,
    level: LEVELS[level] ?? 'info',
    // Every line logged inside a traced request or job carries its trace id.
    mixin() {
      const span = activeSpanContext();
      return span ? { trace_id: span.traceId, span_id: span.spanId } : {};
    },
  });
}

export type { Logger };
