/**
 * One line for an operator out of the errors a dependency gives (node-postgres, ioredis, Node's
 * sockets): what could not be reached or done, and the next step when there is an obvious one.
 */
import { MIGRATE_HINT } from './postgres/migrate-hint.js';

interface SystemishError {
  code?: string;
  address?: string;
  port?: number;
  hostname?: string;
  message?: string;
  errors?: SystemishError[];
}

export function describeFailure(error: unknown): string {
  const e = (error ?? {}) as SystemishError;
  // Node reports a host with several addresses as an AggregateError of per-address errors.
  const first = e.errors?.[0] ?? e;
  const where = first.address ? `${first.address}${first.port ? `:${first.port}` : ''}` : '';
  switch (first.code) {
    case 'ECONNREFUSED':
      return `cannot connect to ${where || 'the server'}: connection refused (is it running?)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve host ${first.hostname ?? where}`;
    case 'ETIMEDOUT':
      return `connecting to ${where || 'the server'} timed out`;
    case '28P01':
    case '28000':
      return `PostgreSQL refused the login: ${first.message}`;
    case '3D000':
      return `${first.message}: create it with \`npm run migrate\``;
    case '42P01':
    case '42703':
      return `${first.message}: ${MIGRATE_HINT}`;
  }
  const message = (error as Error | undefined)?.message ?? String(error);
  return message.split('\n')[0]!;
}
