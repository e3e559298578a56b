import { expect } from 'chai';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { scratchDatabase, type ScratchDatabase } from '../../../test/support/scratch-db.js';
import { npmRun, processEnv } from '../../../test/support/processes.js';
import { PostgresEventStore } from '../../core/event-store/postgres/postgres-event-store.js';
import { contentDigest, linkHash, publicKeyOf } from '../../core/event-store/chain.js';
import { MIGRATIONS_DIR } from '../../core/postgres/migrate.js';
import { exportEvents } from '../backup/event-transfer.js';
import { CheckpointSigner, startCheckpointSigning } from './integrity.checkpoints.js';
import type { CheckpointData } from './integrity.events.js';
import { loadSettings } from '../../core/settings/settings.js';
import { pino } from 'pino';

const silentLogger = pino({ level: 'silent' });
import { verifyChain, type VerifyReport } from './integrity.verifier.js';
import { fileSource, liveFacts, liveSource } from './integrity.sources.js';
import type { CommandContext } from '../../core/commands/command-handling.js';

const ctx: CommandContext = { userId: 'auditor', correlationId: randomUUID() };
const meta = () => ({ userId: 'u1', timestamp: new Date().toISOString(), schemaVersion: 1 });
const ev = (type: string, data: unknown) => ({ id: randomUUID(), type, data, metadata: meta() });

/** Up parts of the migration files, in order, for a database migrated by hand. */
function upSql(file: string): string {
  const text = readFileSync(path.join(MIGRATIONS_DIR, file), 'utf8');
  return text.split('-- Down Migration')[0]!;
}

describe('verifiable history: hash chain and signed checkpoints (integration)', function () {
  this.timeout(120_000);
  let db: ScratchDatabase;
  let pool: pg.Pool;
  let store: PostgresEventStore;
  const { privateKey } = generateKeyPairSync('ed25519');
  const trustedKeys = [publicKeyOf(privateKey)];
  const verify = async (): Promise<VerifyReport> =>
    verifyChain(liveSource(pool), { ...(await liveFacts(pool)), trustedKeys });

  before(async () => {
    db = await scratchDatabase('chain');
    pool = new pg.Pool({ ...db.config, max: 4 });
    store = new PostgresEventStore(pool, db.config);
    await store.append([
      {
        streamId: 'tenant-t1',
        expected: 'no_stream',
        events: [ev('TenantCreated', { tenantId: 't1' })],
      },
      {
        streamId: 'config-a',
        expected: 'no_stream',
        // Values whose JSON text jsonb rewrites: the digest must survive the round trip.
        events: [
          ev('ConfigurationCreated', {
            tenantId: 't1',
            value: 'naïve ✓ "quoted" \\ \n',
            big: 1e21,
            small: 1.5e-7,
            list: [3, 1, { z: 1, a: [] }],
            nothing: null,
          }),
        ],
      },
    ]);
    for (let i = 1; i <= 3; i++) {
      await store.append([
        {
          streamId: 'config-a',
          expected: 'any',
          events: [ev('ConfigurationUpdated', { tenantId: 't1', value: `v${i}`, version: i + 1 })],
        },
      ]);
    }
    await store.append([
      {
        streamId: 'config-b',
        expected: 'no_stream',
        events: [
          ev('ConfigurationCreated', { tenantId: 't1', value: 'b0' }),
          ev('ConfigurationUpdated', { tenantId: 't1', value: 'b1' }),
          ev('ConfigurationUpdated', { tenantId: 't1', value: 'b2' }),
        ],
      },
    ]);
  });

  after(async () => {
    await store?.close();
    await pool?.end();
    await db?.drop();
  });

  async function row(streamId: string, revision: number) {
    const { rows } = await pool.query<{ position: string; event_id: string; data: unknown }>(
      `SELECT position::text, event_id, data FROM es_events
        WHERE stream_id = $1 AND stream_revision = $2`,
      [streamId, revision],
    );
    return rows[0]!;
  }

  it('chains every appended event, and the log verifies', async () => {
    const report = await verify();
    expect(report.breaks).to.deep.equal([]);
    expect(report.ok).to.equal(true);
    expect(report.events).to.equal(8);
    expect(report.chained).to.equal(8);
    const { rows } = await pool.query(
      'SELECT count(*)::int AS n FROM es_events WHERE hash IS NOT NULL',
    );
    expect(rows[0].n).to.equal(8);
  });

  it('signs a tenant checkpoint over its stream heads, once per change', async () => {
    const signer = new CheckpointSigner(pool, store, privateKey);
    const signed = await signer.sign('t1', ctx);
    expect(signed).to.not.equal(undefined);
    expect(signed!.checkpoint.heads.map((h) => [h.streamId, h.revision])).to.deep.equal([
      ['config-a', '3'],
      ['config-b', '2'],
      ['tenant-t1', '0'],
    ]);
    // The order of the tenant's events in the log, as indexes into the heads: tenant-t1, then
    // four of config-a, then three of config-b.
    expect(signed!.checkpoint).to.include({ after: '0', order: '2,0*4,1*3' });
    // Nothing changed since: no second checkpoint.
    expect(await signer.sign('t1', ctx)).to.equal(undefined);
    const report = await verify();
    expect(report.breaks).to.deep.equal([]);
    expect(report.checkpoints).to.deep.equal({ verified: 1, tenants: ['t1'] });
  });

  it('names the event whose payload was edited with SQL', async () => {
    const target = await row('config-a', 1);
    await pool.query(
      `UPDATE es_events SET data = jsonb_set(data, '{value}', '"v2"')
        WHERE stream_id = 'config-a' AND stream_revision = 1`,
    );
    try {
      const report = await verify();
      expect(report.ok).to.equal(false);
      expect(report.breaks).to.have.length(1);
      expect(report.breaks[0]).to.include({
        streamId: 'config-a',
        revision: 1n,
        position: BigInt(target.position),
        eventId: target.event_id,
      });
      expect(report.breaks[0]!.expected).to.not.equal(report.breaks[0]!.found);
    } finally {
      await pool.query(
        `UPDATE es_events SET data = $1 WHERE stream_id = 'config-a' AND stream_revision = 1`,
        [target.data],
      );
    }
    expect((await verify()).ok).to.equal(true);
  });

  it('names a deleted event', async () => {
    const { rows } = await pool.query(
      `DELETE FROM es_events WHERE stream_id = 'config-b' AND stream_revision = 1 RETURNING *`,
    );
    const deleted = rows[0];
    try {
      const report = await verify();
      expect(report.ok).to.equal(false);
      expect(report.breaks[0]).to.include({ streamId: 'config-b', revision: 2n });
      expect(report.breaks[0]!.problem).to.equal('revision 1 of the stream is missing');
    } finally {
      await pool.query(
        `INSERT INTO es_events (position, stream_id, stream_revision, event_id, event_type, data,
                                metadata, recorded_at, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          deleted.position,
          deleted.stream_id,
          deleted.stream_revision,
          deleted.event_id,
          deleted.event_type,
          deleted.data,
          deleted.metadata,
          deleted.recorded_at,
          deleted.hash,
        ],
      );
    }
    expect((await verify()).ok).to.equal(true);
  });

  it('names a deleted last event (against the store heads)', async () => {
    const { rows } = await pool.query(
      `DELETE FROM es_events WHERE stream_id = 'config-a' AND stream_revision = 3 RETURNING *`,
    );
    const deleted = rows[0];
    try {
      const report = await verify();
      expect(report.ok).to.equal(false);
      const named = report.breaks.filter((b) => b.streamId === 'config-a');
      expect(named.map((b) => b.revision)).to.include(3n);
      expect(report.breaks.every((b) => b.streamId === 'config-a')).to.equal(true);
    } finally {
      await pool.query(
        `INSERT INTO es_events (position, stream_id, stream_revision, event_id, event_type, data,
                                metadata, recorded_at, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          deleted.position,
          deleted.stream_id,
          deleted.stream_revision,
          deleted.event_id,
          deleted.event_type,
          deleted.data,
          deleted.metadata,
          deleted.recorded_at,
          deleted.hash,
        ],
      );
    }
    expect((await verify()).ok).to.equal(true);
  });

  it('names re-ordered events', async () => {
    const swap = async () => {
      // Two events of one stream trade places in the log.
      await pool.query(`UPDATE es_events SET stream_revision = -1
                         WHERE stream_id = 'config-a' AND stream_revision = 1`);
      await pool.query(`UPDATE es_events SET stream_revision = 1
                         WHERE stream_id = 'config-a' AND stream_revision = 2`);
      await pool.query(`UPDATE es_events SET stream_revision = 2
                         WHERE stream_id = 'config-a' AND stream_revision = -1`);
    };
    const first = await row('config-a', 1);
    await swap();
    try {
      const report = await verify();
      expect(report.ok).to.equal(false);
      expect(report.breaks[0]).to.include({
        streamId: 'config-a',
        revision: 2n,
        position: BigInt(first.position),
      });
      expect(report.breaks[0]!.problem).to.match(/revision 1 of the stream is missing/);
    } finally {
      await swap();
    }
    expect((await verify()).ok).to.equal(true);
  });

  it('names events of different streams that traded places in the log (live and in an export)', async () => {
    // config-a revision 3 and config-b revision 0 are neighbours in the log: swapping their
    // positions breaks no stream's chain (each stream keeps its order); the signed order does.
    const a3 = await row('config-a', 3);
    const b0 = await row('config-b', 0);
    expect(BigInt(b0.position)).to.equal(BigInt(a3.position) + 1n);
    const swap = async () => {
      await pool.query('UPDATE es_events SET position = -1 WHERE position = $1', [a3.position]);
      await pool.query('UPDATE es_events SET position = $1 WHERE position = $2', [
        a3.position,
        b0.position,
      ]);
      await pool.query('UPDATE es_events SET position = $1 WHERE position = -1', [b0.position]);
    };
    const expectBoth = (report: VerifyReport) => {
      expect(report.ok).to.equal(false);
      expect(
        report.breaks.map((b) => [b.streamId, b.revision, b.position, b.eventId]),
      ).to.deep.equal([
        ['config-b', 0n, BigInt(a3.position), b0.event_id],
        ['config-a', 3n, BigInt(b0.position), a3.event_id],
      ]);
      expect(report.breaks[0]!.problem).to.match(
        /^out of place: the signed checkpoint at position \d+ orders it after config-a revision 3/,
      );
      expect(report.breaks[0]).to.include({
        expected: 'after config-a revision 3',
        found: 'before config-a revision 3',
      });
      expect(report.breaks[1]!.problem).to.match(/orders it before config-b revision 0/);
    };
    await swap();
    try {
      expectBoth(await verify());
      // The same in an export file, offline.
      const chunks: string[] = [];
      await exportEvents(store, {
        out: new Writable({
          write(chunk: Buffer, _e, cb) {
            chunks.push(chunk.toString('utf8'));
            cb();
          },
        }),
      });
      const file = path.join(mkdtempSync(path.join(tmpdir(), 'reorder-')), 'events.ndjson');
      writeFileSync(file, chunks.join(''));
      expectBoth(await verifyChain(fileSource(file), { trustedKeys }));
      // And by the command, offline: exit 1, the first misplaced event named first.
      const env = processEnv({ ConnectionStrings__PostgreSQL: db.connectionString });
      const cli = await npmRun(
        'audit:verify',
        ['--file', file, '--public-key', trustedKeys[0]!],
        env,
      );
      expect(cli.code, cli.stderr).to.equal(1);
      expect(cli.stdout).to.contain(
        `BROKEN: first broken event: config-b revision 0 (position ${a3.position}, event ${b0.event_id}): out of place`,
      );
      expect(cli.stdout).to.contain(
        `also: config-a revision 3 (position ${b0.position}, event ${a3.event_id}): out of place`,
      );
    } finally {
      await swap();
    }
    expect((await verify()).ok).to.equal(true);
  });

  it('names an event moved out of the window its checkpoint signed', async () => {
    // config-b revision 2 is the last event the checkpoint ordered (its upTo); the checkpoint
    // itself comes right after. Swapped, the event sits past upTo: no chain breaks, the window does.
    const b2 = await row('config-b', 2);
    const { rows } = await pool.query<{ position: string; data: CheckpointData }>(
      `SELECT position::text, data FROM es_events WHERE stream_id = 'integrity-t1'`,
    );
    const checkpoint = rows[0]!;
    expect(checkpoint.data.upTo).to.equal(b2.position);
    const swap = async () => {
      await pool.query('UPDATE es_events SET position = -1 WHERE position = $1', [b2.position]);
      await pool.query('UPDATE es_events SET position = $1 WHERE position = $2', [
        b2.position,
        checkpoint.position,
      ]);
      await pool.query('UPDATE es_events SET position = $1 WHERE position = -1', [
        checkpoint.position,
      ]);
    };
    await swap();
    try {
      const report = await verify();
      expect(report.breaks.map((b) => [b.streamId, b.revision, b.position])).to.deep.equal([
        ['config-b', 2n, BigInt(checkpoint.position)],
      ]);
      expect(report.breaks[0]).to.include({
        expected: `position in (0, ${b2.position}]`,
        found: `position ${checkpoint.position}`,
      });
    } finally {
      await swap();
    }
    expect((await verify()).ok).to.equal(true);
  });

  it('a rewritten chain (edit, then every hash recomputed) fails the signed checkpoint', async () => {
    const target = await row('config-a', 2);
    const { rows } = await pool.query(
      `SELECT event_id, event_type, data, metadata, stream_revision::int AS revision, hash
         FROM es_events WHERE stream_id = 'config-a' ORDER BY stream_revision`,
    );
    const original = rows.map((r) => ({ id: r.event_id as string, data: r.data, hash: r.hash }));
    // The forger edits revision 2 and re-links it and everything after it.
    rows[2].data = { ...rows[2].data, value: 'forged' };
    let prev: Buffer | null = rows[1].hash as Buffer;
    for (const r of rows.slice(2)) {
      const h = linkHash(
        prev,
        'config-a',
        BigInt(r.revision),
        contentDigest({ id: r.event_id, type: r.event_type, data: r.data, metadata: r.metadata }),
      );
      await pool.query('UPDATE es_events SET data = $1, hash = $2 WHERE event_id = $3', [
        r.data,
        h,
        r.event_id,
      ]);
      prev = h;
    }
    await pool.query(`UPDATE es_streams SET head_hash = $1 WHERE stream_id = 'config-a'`, [prev]);
    try {
      const report = await verify();
      expect(report.ok).to.equal(false);
      // The links are consistent again; only the signature pins the old head.
      expect(report.breaks.map((b) => [b.streamId, b.revision])).to.deep.equal([['config-a', 3n]]);
      expect(report.breaks[0]!.problem).to.match(/differs from the signed checkpoint/);
      expect(target.event_id).to.be.a('string');
    } finally {
      for (const o of original) {
        await pool.query('UPDATE es_events SET data = $1, hash = $2 WHERE event_id = $3', [
          o.data,
          o.hash,
          o.id,
        ]);
      }
      await pool.query(`UPDATE es_streams SET head_hash = $1 WHERE stream_id = 'config-a'`, [
        original.at(-1)!.hash,
      ]);
    }
    expect((await verify()).ok).to.equal(true);
  });

  it('a forged checkpoint signature is named', async () => {
    const { rows } = await pool.query(
      `SELECT event_id, data FROM es_events WHERE stream_id = 'integrity-t1'`,
    );
    const { privateKey: other } = generateKeyPairSync('ed25519');
    const report = await verifyChain(liveSource(pool), {
      ...(await liveFacts(pool)),
      trustedKeys: [publicKeyOf(other)],
    });
    expect(report.ok).to.equal(false);
    expect(report.breaks[0]).to.include({ streamId: 'integrity-t1', eventId: rows[0].event_id });
    expect(report.breaks[0]!.problem).to.match(/untrusted key/);
  });

  it('verifies an export file offline, and the CLI names the first broken event', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'chain-'));
    const file = path.join(dir, 'events.ndjson');
    const chunks: string[] = [];
    await exportEvents(store, {
      out: new Writable({
        write(chunk: Buffer, _e, cb) {
          chunks.push(chunk.toString('utf8'));
          cb();
        },
      }),
    });
    writeFileSync(file, chunks.join(''));
    const report = await verifyChain(fileSource(file), { trustedKeys });
    expect(report.breaks).to.deep.equal([]);
    expect(report.checkpoints.verified).to.equal(1);

    // One byte of one payload changed in the file.
    const lines = chunks.join('').split('\n');
    const i = lines.findIndex((l) => l.includes('"b1"'));
    lines[i] = lines[i]!.replace('"b1"', '"b7"');
    const tampered = path.join(dir, 'tampered.ndjson');
    writeFileSync(tampered, lines.join('\n'));
    const env = processEnv({ ConnectionStrings__PostgreSQL: db.connectionString });
    const key = trustedKeys[0]!;
    const bad = await npmRun('audit:verify', ['--file', tampered, '--public-key', key], env);
    expect(bad.code, bad.stderr).to.equal(1);
    const b1 = await row('config-b', 1);
    expect(bad.stdout).to.contain(
      `BROKEN: first broken event: config-b revision 1 (position ${b1.position}, event ${b1.event_id})`,
    );
    const good = await npmRun('audit:verify', ['--public-key', key], env);
    expect(good.code, good.stdout + good.stderr).to.equal(0);
    expect(good.stdout).to.contain('OK: every chained event and checkpoint verifies');
    expect(good.stdout).to.contain('1 signed checkpoints verified (tenants: t1)');
  });

  it('the worker signs checkpoints at intervals, with the key from the settings', async () => {
    const seed = randomBytes(32).toString('base64');
    const settings = loadSettings(
      { ConfigService__Audit__SigningKey: seed, ConfigService__Audit__CheckpointInterval: 'PT1S' },
      '/nonexistent',
    );
    expect(() =>
      loadSettings({ ConfigService__Audit__SigningKey: 'too-short' }, '/nonexistent'),
    ).to.throw(/ConfigService__Audit__SigningKey: must be an Ed25519 private key/);
    const key = settings.audit.signingKey!;
    const before = (await pool.query(`SELECT count(*)::int AS n FROM es_events`)).rows[0].n;
    await store.append([
      {
        streamId: 'config-b',
        expected: 'any',
        events: [ev('ConfigurationUpdated', { tenantId: 't1', value: 'b3' })],
      },
    ]);
    const signing = startCheckpointSigning({ settings, pool, store, logger: silentLogger });
    try {
      const deadline = Date.now() + 30_000;
      let signed: { data: CheckpointData }[] = [];
      while (Date.now() < deadline) {
        ({ rows: signed } = await pool.query(
          `SELECT data FROM es_events WHERE stream_id = 'integrity-t1' AND position > $1`,
          [before],
        ));
        if (signed.length) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(signed).to.have.length(1);
      expect(signed[0]!.data.publicKey).to.equal(publicKeyOf(key));
      expect(signed[0]!.data.heads.find((h) => h.streamId === 'config-b')!.revision).to.equal('3');
    } finally {
      signing.stop();
    }
    const report = await verifyChain(liveSource(pool), {
      ...(await liveFacts(pool)),
      trustedKeys: [...trustedKeys, publicKeyOf(key)],
    });
    expect(report.breaks).to.deep.equal([]);
    expect(report.checkpoints.verified).to.equal(2);
  });

  it('an existing log: the migration records where chaining began; later events chain', async () => {
    const old = await scratchDatabase('prechain', { migrated: false });
    const oldPool = new pg.Pool({ ...old.config, max: 2 });
    try {
      const files = readdirSync(MIGRATIONS_DIR)
        .filter((f) => f.endsWith('.sql'))
        .sort();
      const chainFile = files.find((f) => f.includes('event-hash-chain'))!;
      for (const f of files.filter((f) => f < chainFile)) await oldPool.query(upSql(f));
      // Events appended by the unchained store.
      await oldPool.query('SELECT es_append($1::jsonb)', [
        JSON.stringify([
          { streamId: 'config-old', expected: 'no_stream', events: [ev('X', { tenantId: 'o' })] },
        ]),
      ]);
      await oldPool.query(upSql(chainFile));
      const { rows } = await oldPool.query('SELECT started_after::int AS p FROM es_chain');
      expect(rows[0].p).to.equal(1);
      const oldStore = new PostgresEventStore(oldPool, old.config);
      await oldStore.append([
        { streamId: 'config-old', expected: 0n, events: [ev('Y', { tenantId: 'o' })] },
      ]);
      const report = await verifyChain(liveSource(oldPool), await liveFacts(oldPool));
      expect(report.breaks).to.deep.equal([]);
      expect(report).to.include({ events: 2, chained: 1, chainStartedAfter: 1n });
      const tenant = await oldPool.query(
        `SELECT tenant_id FROM es_streams WHERE stream_id = 'config-old'`,
      );
      expect(tenant.rows[0].tenant_id).to.equal('o');
      await oldStore.close();
    } finally {
      await oldPool.end();
      await old.drop();
    }
  });
});
