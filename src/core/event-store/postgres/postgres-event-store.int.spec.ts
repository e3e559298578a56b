import pg from 'pg';
import { expect } from 'chai';
import { describeEventStoreConformance, newEvent } from '../conformance.js';
import { PostgresEventStore } from './postgres-event-store.js';
import { createPool } from '../../../infrastructure/postgres.js';
import { testDbConfig } from '../../../../test/support/test-env.js';

describeEventStoreConformance('PostgreSQL', {
  open: async () => new PostgresEventStore(createPool(testDbConfig), testDbConfig),
  // Two transactions: the one that starts first commits last. The global lock makes the second
  // wait, so positions still follow commit order and no reader can see a hole.
  appendOutOfOrder: async (_store, first, second) => {
    const a = new pg.Client(testDbConfig);
    const b = new pg.Client(testDbConfig);
    await Promise.all([a.connect(), b.connect()]);
    try {
      const payload = (stream: string) =>
        JSON.stringify([{ streamId: stream, expected: 'any', events: [newEvent()] }]);
      await a.query('BEGIN');
      await a.query('SELECT es_append($1::jsonb)', [payload(first)]);
      await b.query('BEGIN');
      const bAppend = b.query('SELECT es_append($1::jsonb)', [payload(second)]);
      // b is blocked behind a's lock; a reader now must see neither event.
      await new Promise((r) => setTimeout(r, 100));
      const reader = new pg.Client(testDbConfig);
      await reader.connect();
      const { rows } = await reader.query(
        'SELECT count(*)::int AS n FROM es_events WHERE stream_id = ANY($1)',
        [[first, second]],
      );
      await reader.end();
      expect(rows[0].n).to.equal(0);
      await a.query('COMMIT');
      await bAppend;
      await b.query('COMMIT');
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  },
});
