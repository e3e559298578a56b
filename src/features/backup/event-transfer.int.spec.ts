import { expect } from 'chai';
import { history } from '../../../test/support/history.js';
import { snapshotReadTables } from '../../../test/support/snapshot.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import pg from 'pg';
import { deleteKeys } from '../../../test/support/test-env.js';
import {
  eventCount,
  startHarness,
  testSettings,
  type Harness,
} from '../../../test/support/harness.js';
import {
  testDatabaseName,
  testDbConfig,
  testDbConnectionString,
} from '../../../test/support/test-env.js';
import {
  buildServices,
  createProjector,
  type Projector,
  type Services,
} from '../../composition.js';
import { migrate } from '../../core/postgres/migrate.js';
import { rebuildProjections } from '../../core/projections/rebuild.js';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import {
  EventImportError,
  belongsToTenant,
  exportEvents,
  importEvents,
  type ExportedEvent,
} from './event-transfer.js';

const snapshot = (pool: pg.Pool) => snapshotReadTables(pool);

/** The log as stored, without what the store assigns at append time (recorded_at). */
async function storedLog(pool: pg.Pool) {
  const { rows } = await pool.query(
    `SELECT position, stream_id, stream_revision, event_id, event_type, data, metadata
       FROM es_events ORDER BY position`,
  );
  return rows;
}

async function exportToString(
  store: Services['store'],
  tenantId?: string,
): Promise<{ text: string; written: number; head: bigint }> {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const { written, head } = await exportEvents(store, { out, tenantId, pageSize: 97 });
  return { text: chunks.join(''), written, head };
}

const linesOf = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ExportedEvent);

async function readWholeLog(store: Services['store']): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readAll({ after: all.at(-1)?.position ?? 0n, limit: 1000 });
    if (page.length === 0) return all;
    all.push(...page);
  }
}

/** One NDJSON line of a made-up event. */
/** Lines of a hand-made export: positions rise line by line, as in a real one. */
let nextPosition = 1;
function line(streamId: string, revision: number, extra: Partial<ExportedEvent> = {}): string {
  return JSON.stringify({
    position: String(nextPosition++),
    streamId,
    revision: String(revision),
    id: randomUUID(),
    type: 'TransferTestEvent',
    data: { n: revision },
    metadata: { timestamp: new Date().toISOString(), schemaVersion: 1, userId: 'tester' },
    recordedAt: new Date().toISOString(),
    ...extra,
  });
}

describe('event export / import (integration)', function () {
  this.timeout(60_000);
  const restoreDb = `${testDatabaseName}_restore_${randomBytes(3).toString('hex')}`;
  let h: Harness;
  let created = false;
  let target: Services;
  let targetProjector: Projector;
  let tenants: string[];

  async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
    // Any database of the server will do for CREATE/DROP DATABASE: use this run's.
    const client = new pg.Client(testDbConfig);
    await client.connect();
    try {
      return await run(client);
    } finally {
      await client.end();
    }
  }

  before(async function () {
    h = await startHarness();
    await admin((c) => c.query(`CREATE DATABASE "${restoreDb}"`));
    created = true;
    await migrate({ ...testDbConfig, database: restoreDb });
    const settings = testSettings({
      ConnectionStrings__PostgreSQL: testDbConnectionString.replace(
        `Database=${testDatabaseName}`,
        `Database=${restoreDb}`,
      ),
    });
    target = await buildServices(settings, { poolSize: 5 });
    targetProjector = createProjector(target);
    tenants = await history(h);
  });

  after(async function () {
    await targetProjector?.stop().catch(() => undefined);
    if (target) {
      await deleteKeys(target.settings.redisKeyPrefix);
      await target.close();
    }
    await h?.close();
    if (created) await admin((c) => c.query(`DROP DATABASE IF EXISTS "${restoreDb}" WITH (FORCE)`));
  });

  it('restores the whole log into an empty store; rebuilt projections equal the live tables', async function () {
    await h.project();
    const live = await snapshot(h.services.pool);
    expect(live.configurations!.length).to.be.greaterThan(10);
    expect(live.deployments!.length).to.be.greaterThan(2);
    expect(live.approval_requests!.length).to.be.greaterThan(1);
    expect(live.approval_policies!.length).to.be.greaterThan(0);

    const progress: number[] = [];
    const chunks: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk.toString('utf8'));
        callback();
      },
    });
    const exported = await exportEvents(h.services.store, {
      out,
      pageSize: 50,
      onProgress: (p) => void progress.push(p.written),
    });
    const text = chunks.join('');
    const events = linesOf(text);
    // The whole log, in global order (this run's database holds other test files' events too).
    const log = await readWholeLog(h.services.store);
    expect(exported.written).to.equal(log.length);
    expect(events.map((e) => e.id)).to.deep.equal(log.map((e) => e.id));
    expect(events[0]).to.have.keys([
      'position',
      'streamId',
      'revision',
      'id',
      'type',
      'data',
      'metadata',
      'recordedAt',
      'hash',
    ]);
    expect(events.map((e) => e.position)).to.deep.equal(log.map((e) => e.position.toString()));
    expect(progress.at(-1)).to.equal(log.length);
    expect(progress.length).to.be.greaterThan(1);

    expect(await target.store.headPosition()).to.equal(0n);
    const imported = await importEvents(target.store, { input: Readable.from([text]) });
    expect(imported.events).to.equal(log.length);

    // Same events, same ids, streams, revisions and, into an empty store, the same positions.
    expect(await storedLog(target.pool)).to.deep.equal(await storedLog(h.services.pool));

    await rebuildProjections(target, targetProjector, []);
    const restored = await snapshot(target.pool);
    expect(restored).to.deep.equal(live);
  });

  it('importing the same file again appends nothing', async function () {
    const { text } = await exportToString(h.services.store);
    const before = await target.pool.query('SELECT count(*)::int AS n FROM es_events');
    // The target may already hold this log (previous test); import it so it surely does.
    await importEvents(target.store, { input: Readable.from([text]) });
    const once = (await target.pool.query('SELECT count(*)::int AS n FROM es_events')).rows[0].n;
    expect(once).to.be.at.least(before.rows[0].n);
    const head = await target.store.headPosition();
    const again = await importEvents(target.store, {
      // Split mid-line on purpose: lines are reassembled from any chunking.
      input: Readable.from([text.slice(0, 1001), text.slice(1001)]),
    });
    expect(again.events).to.equal(linesOf(text).length);
    const twice = (await target.pool.query('SELECT count(*)::int AS n FROM es_events')).rows[0].n;
    expect(twice).to.equal(once);
    expect(await target.store.headPosition()).to.equal(head);
  });

  it('exports one tenant: all of its events and nothing else, importable on their own', async function () {
    const tenantId = tenants[1]!;
    const { text, written, head } = await exportToString(h.services.store, tenantId);
    const events = linesOf(text);
    const expected = (await readWholeLog(h.services.store)).filter(
      (e) => e.position <= head && belongsToTenant(e, tenantId),
    );
    expect(written).to.equal(expected.length);
    expect(events.map((e) => e.id)).to.deep.equal(expected.map((e) => e.id));
    const streams = new Set(events.map((e) => e.streamId.replace(/-.*$/, '-')));
    expect([...streams].sort()).to.deep.equal(['approval-', 'config-', 'deployment-', 'tenant-']);
    for (const e of events) {
      expect(
        e.streamId === `tenant-${tenantId}` ||
          (e.data as { tenantId?: string }).tenantId === tenantId,
      ).to.equal(true);
    }
    // Every stream is whole (revisions 0..n), so the export restores into an empty store.
    const revisions = new Map<string, number[]>();
    for (const e of events) {
      revisions.set(e.streamId, [...(revisions.get(e.streamId) ?? []), Number(e.revision)]);
    }
    for (const [streamId, revs] of revisions) {
      expect(revs, streamId).to.deep.equal(revs.map((_, i) => i));
      expect((await h.services.store.readStream(streamId)).events.length, streamId).to.equal(
        revs.length,
      );
    }
    // Another tenant's events are not in it.
    expect(events.some((e) => belongsToTenant(e, tenants[0]!))).to.equal(false);
  });

  it('stops at a malformed line, naming it: the events before it are in, none after', async function () {
    const before = await eventCount(h);
    const first = `xfer-a-${randomUUID()}`;
    const second = `xfer-b-${randomUUID()}`;
    const text = [
      line(first, 0),
      line(first, 1),
      '',
      line(first, 2),
      '{"position": "9", "streamId": ',
      line(second, 0),
      line(second, 1),
    ].join('\n');
    let error: unknown;
    try {
      await importEvents(h.services.store, { input: Readable.from([text]) });
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(EventImportError);
    expect((error as EventImportError).line).to.equal(5);
    expect((error as Error).message).to.match(/^line 5: not valid JSON/);
    expect((await h.services.store.readStream(first)).events).to.have.length(3);
    expect((await h.services.store.readStream(second)).events).to.have.length(0);
    expect(await eventCount(h)).to.equal(before + 3);
  });

  it('finds a stream gap and lines out of order in the check pass, and refuses another log', async function () {
    const before = await eventCount(h);
    const s1 = `xfer-g-${randomUUID()}`;
    const s2 = `xfer-h-${randomUUID()}`;
    const gap = [line(s1, 0), line(s1, 2)].join('\n');
    const a = line(s2, 0);
    const b = line(s1, 0);
    const reordered = [b, a].join('\n'); // b was written after a
    for (const [text, message] of [
      [gap, /^line 2: stream '.*' continues at revision 2, not 1/],
      [reordered, /^line 2: position \d+ does not follow \d+/],
    ] as const) {
      // The check pass (what the CLI runs first) catches it, appending nothing.
      let error: unknown;
      try {
        await importEvents(h.services.store, { input: Readable.from([text]), dryRun: true });
      } catch (e) {
        error = e;
      }
      expect((error as Error).message).to.match(message);
    }
    expect(await eventCount(h)).to.equal(before);
    // The same id claimed at another revision is not "already imported".
    const s3 = `xfer-i-${randomUUID()}`;
    const first = line(s3, 0);
    await importEvents(h.services.store, {
      input: Readable.from([[first, line(s3, 1)].join('\n')]),
    });
    const moved = { ...(JSON.parse(first) as ExportedEvent), revision: '5', position: '999999' };
    let error: unknown;
    try {
      await importEvents(h.services.store, { input: Readable.from([JSON.stringify(moved)]) });
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).to.match(/at revision 0, not 5: not the same log/);
  });

  it('names the line and the field when one is missing or wrong; a dry run appends nothing', async function () {
    const before = await eventCount(h);
    const stream = `xfer-c-${randomUUID()}`;
    const missing = JSON.parse(line(stream, 1)) as Record<string, unknown>;
    delete missing.type;
    const cases: [string, RegExp][] = [
      [JSON.stringify(missing), /^line 2: missing field 'type'$/],
      [line(stream, 1, { id: 'not-a-uuid' }), /^line 2: 'id' must be a UUID$/],
      [line(stream, 1, { revision: '-1' }), /^line 2: 'revision' must be a non-negative integer/],
      ['[1, 2]', /^line 2: expected a JSON object/],
    ];
    for (const [bad, message] of cases) {
      let error: unknown;
      try {
        await importEvents(h.services.store, {
          input: Readable.from([`${line(stream, 0)}\n${bad}\n${line(stream, 2)}\n`]),
          dryRun: true,
        });
      } catch (e) {
        error = e;
      }
      expect((error as Error).message).to.match(message);
    }
    expect(await eventCount(h)).to.equal(before);
  });

  it('into a non-empty store, fails naming the stream when revisions do not line up', async function () {
    const stream = `xfer-d-${randomUUID()}`;
    await importEvents(h.services.store, {
      input: Readable.from([`${line(stream, 0)}\n${line(stream, 1)}\n`]),
    });
    // Other events claiming revision 1 (the stream is at 1 already) …
    let error: unknown;
    try {
      await importEvents(h.services.store, {
        input: Readable.from([`${line(stream, 1)}\n${line(stream, 2)}\n`]),
      });
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(EventImportError);
    expect((error as Error).message).to.include(`stream '${stream}' is at revision 1`);
    expect((error as Error).message).to.match(/^line 1: /);
    // … while a file that continues the stream where it ends goes in.
    await importEvents(h.services.store, { input: Readable.from([`${line(stream, 2)}\n`]) });
    expect((await h.services.store.readStream(stream)).revision).to.equal(2n);
  });
});
