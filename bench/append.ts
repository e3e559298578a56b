/**
 * npm run bench:append: appends per second through the PostgreSQL event store (`es_append`, which
 * serialises appends on one row lock to keep the global order gapless and commit-ordered), next to
 * a baseline measured in the same run: plain INSERTs of the same rows into a table keyed by a
 * sequence (no lock, the order readers could skip late commits in). Same connections, same
 * payloads, same concurrency. Also without the adapter's batching (one commit per append), to
 * show what sharing commits buys.
 *
 * With --hash both (the default) the store's appends are measured with the hash chain on and
 * off (the adapter sends no content digests, es_append links nothing), alternating on/off runs
 * in the same database so a loaded machine weighs on both alike; --hash on / off runs one.
 *
 *   npm run bench:append [-- --seconds 5 --concurrency 16 --hash both|on|off --rounds 2]
 */
import pg from 'pg';
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { migrate } from '../src/core/postgres/migrate.js';
import { PostgresEventStore } from '../src/core/event-store/postgres/postgres-event-store.js';
import { createPool, parsePostgresConnectionString } from '../src/core/postgres/postgres.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '16' },
    hash: { type: 'string', default: 'both' },
    rounds: { type: 'string', default: '2' },
  },
});
if (!['both', 'on', 'off'].includes(values.hash)) {
  console.error('--hash must be both, on or off');
  process.exit(2);
}
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);

const admin = parsePostgresConnectionString(
  process.env.BENCH_POSTGRES_ADMIN ??
    'Host=127.0.0.1;Port=5432;Database=postgres;Username=postgres',
);
const database = `cfgsvc_bench_append_${randomBytes(4).toString('hex')}`;

const event = () => ({
  id: randomUUID(),
  type: 'ConfigurationUpdated',
  data: { configId: 'cfg_x', value: 'v'.repeat(64), version: 2 },
  metadata: { userId: 'bench', timestamp: new Date().toISOString(), schemaVersion: 1 },
});

async function run(label: string, work: (i: number) => Promise<void>) {
  const latencies: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const i = n++;
        const started = performance.now();
        await work(i);
        latencies.push(performance.now() - started);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const rate = latencies.length / seconds;
  const p = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  console.log(
    `${label.padEnd(34)} ${Math.round(rate).toLocaleString('en').padStart(7)} appends/s  p50 ${p(0.5).toFixed(2)} ms  p99 ${p(0.99).toFixed(2)} ms`,
  );
  return rate;
}

const adminClient = new pg.Client(admin);
await adminClient.connect();
await adminClient.query(`CREATE DATABASE "${database}"`);
const config = { ...admin, database };
const pool = createPool(config, concurrency);
const store = new PostgresEventStore(pool, config);
const unhashed = new PostgresEventStore(pool, config, { hashChain: false });
try {
  await migrate(config);
  await pool.query(`CREATE TABLE baseline_events (
      position BIGSERIAL PRIMARY KEY, stream_id TEXT NOT NULL, stream_revision BIGINT NOT NULL,
      event_id UUID NOT NULL UNIQUE, event_type TEXT NOT NULL, data JSONB NOT NULL,
      metadata JSONB NOT NULL, recorded_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
      UNIQUE (stream_id, stream_revision))`);
  console.log(
    `${seconds} s each, ${concurrency} concurrent writers, one event per append, each to its own stream`,
  );
  const baseline = await run('baseline: INSERT, sequence order', async (i) => {
    const e = event();
    await pool.query(
      `INSERT INTO baseline_events (stream_id, stream_revision, event_id, event_type, data, metadata)
       VALUES ($1, 0, $2, $3, $4, $5)`,
      [`s-${i}`, e.id, e.type, e.data, e.metadata],
    );
  });
  // The store without its batching: one transaction (one commit) per append.
  await run('es_append: one commit each', async (i) => {
    const e = event();
    await pool.query('SELECT es_append($1::jsonb)', [
      JSON.stringify([{ streamId: `single-${i}`, expected: 'no_stream', events: [e] }]),
    ]);
  });
  const store1 = await run('store.append: batched commits', async (i) => {
    await store.append([{ streamId: `config-${i}`, expected: 'no_stream', events: [event()] }]);
  });
  const store2 = await run('store.append: two streams at once', async (i) => {
    await store.append([
      { streamId: `tenant-b${i}`, expected: 'no_stream', events: [event()] },
      { streamId: `config-b${i}`, expected: 'no_stream', events: [event()] },
    ]);
  });
  console.log(
    `\nratio es_append / baseline: ${(store1 / baseline).toFixed(2)} (single), ${(store2 / baseline).toFixed(2)} (two streams)`,
  );
  if (values.hash !== 'on') {
    // Hash chain on vs off, alternating, same payloads (the ones above were hashed).
    const on: number[] = [];
    const off: number[] = [];
    for (let r = 0; r < rounds; r++) {
      if (values.hash === 'both') {
        on.push(
          await run(`hash chain ON  (round ${r + 1})`, async (i) => {
            await store.append([
              { streamId: `h${r}-${i}`, expected: 'no_stream', events: [event()] },
            ]);
          }),
        );
      }
      off.push(
        await run(`hash chain OFF (round ${r + 1})`, async (i) => {
          await unhashed.append([
            { streamId: `u${r}-${i}`, expected: 'no_stream', events: [event()] },
          ]);
        }),
      );
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    if (on.length) {
      console.log(
        `hashing overhead: ${((1 - mean(on) / mean(off)) * 100).toFixed(1)} % fewer appends/s ` +
          `(on ${Math.round(mean(on))}, off ${Math.round(mean(off))}; mean of ${rounds} rounds)`,
      );
    }
  }
} finally {
  await store.close();
  await unhashed.close();
  await pool.end();
  await adminClient.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await adminClient.end();
}
