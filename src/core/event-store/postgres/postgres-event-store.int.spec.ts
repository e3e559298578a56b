import pg from 'pg';
import { expect } from 'chai';
import { describeEventStoreConformance, newEvent } from '../conformance.js';
import { PostgresEventStore } from './postgres-event-store.js';
import { createPool } from '../../postgres/postgres.js';
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

describe('PostgreSQL event store: batched appends', function () {
  let store: PostgresEventStore;
  let pool: pg.Pool;
  before(function () {
    pool = createPool(testDbConfig);
    store = new PostgresEventStore(pool, testDbConfig);
  });
  after(async function () {
    await store.close();
    await pool.end();
  });

  it('fails only the append whose payload jsonb cannot hold, not the others batched with it', async function () {
    const id = () => `batch-${Math.random().toString(36).slice(2)}`;
    const append = (data: unknown) =>
      store.append([{ streamId: id(), expected: 'no_stream', events: [newEvent('T', data)] }]);
    // The first goes out at once; the next three wait for it and go out as one batch.
    const results = await Promise.allSettled([
      append({ n: 0 }),
      append({ v: 'fine' }),
      append({ v: 'nul\u0000byte' }),
      append({ v: 'also fine' }),
    ]);
    expect(results.map((r) => r.status)).to.deep.equal([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
  });
});
