import type pg from 'pg';
import type { RecordedEvent } from '../src/core/event-store/event-store.js';

/** A projection into PostgreSQL read tables. `apply` runs inside the batch's transaction. */
export interface PostgresProjection {
  name: string;
  /** Streams it reads; events from other streams never reach it. */
  streamPrefixes: readonly string[];
  /** Tables it owns, emptied (in this order) when it is rebuilt from position zero. */
  tables: readonly string[];
  apply(client: pg.PoolClient, events: RecordedEvent[]): Promise<void>;
}

/** Spec TIMESTAMP columns hold UTC wall time. */
export const utc = (date: Date | string) => (typeof date === 'string' ? date : date.toISOString());
