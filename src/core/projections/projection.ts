import type pg from 'pg';
import type { RecordedEvent } from '../event-store/event-store.js';

/** A projection into PostgreSQL read tables. `apply` runs inside the batch's transaction. */
export interface PostgresProjection {
  name: string;
  /** Streams it reads; events from other streams never reach it. */
  streamPrefixes: readonly string[];
  /** Tables it owns, emptied (in this order) when it is rebuilt from position zero. */
  tables: readonly string[];
  /**
   * `signal` (while following the log) aborts when the runner stops or loses its lock: work
   * outside the transaction that may wait for long (a job add to a Redis never reached) gives up
   * on it, and the batch rolls back.
   */
  apply(client: pg.PoolClient, events: RecordedEvent[], signal?: AbortSignal): Promise<void>;
}

/**
 * A feature's share of the `read-model` projection: the rows of one stream kind. The parts are
 * applied in one projection (read-model.ts) because their tables reference each other.
 */
export interface ReadModelPart {
  streamPrefix: string;
  /** Its tables, children first (the order they are emptied in). */
  tables: readonly string[];
  apply(client: pg.PoolClient, event: RecordedEvent): Promise<void>;
  /** After the batch's last event, with the same client: rows the part kept for the end. */
  finish?(client: pg.PoolClient): Promise<void>;
}

/** Spec TIMESTAMP columns hold UTC wall time. */
export const utc = (date: Date | string) => (typeof date === 'string' ? date : date.toISOString());

/**
 * When an event happened: the time its command was decided (metadata), which export and import
 * keep, so a restored log rebuilds identical rows. The store's own recording time is the fallback.
 */
export const eventTime = (e: RecordedEvent): string =>
  typeof e.metadata.timestamp === 'string' ? e.metadata.timestamp : e.recordedAt.toISOString();
