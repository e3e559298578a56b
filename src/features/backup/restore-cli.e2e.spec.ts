import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { history } from '../../../test/support/history.js';
import { startHarness, type Harness } from '../../../test/support/harness.js';
import { snapshotReadTables } from '../../../test/support/snapshot.js';
import { npmRun, processEnv } from '../../../test/support/processes.js';
import { testDatabaseName, testDbConfig } from '../../../test/support/test-env.js';

/** The README's backup and restore, run as it shows: export, migrate, import --rebuild. */
describe('restore with the CLIs (e2e)', function () {
  this.timeout(240_000);
  let h: Harness;
  let dir: string;
  const restored = `${testDatabaseName}_restored`;

  before(async function () {
    h = await startHarness();
    await history(h);
    await h.project();
    dir = mkdtempSync(path.join(tmpdir(), 'cfgsvc-restore-'));
  });
  after(async function () {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
    const admin = new pg.Client({ ...testDbConfig, database: 'postgres' });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${restored}" WITH (FORCE)`);
    await admin.end();
  });

  it('events:import --rebuild restores every read table, and no pool size can deadlock a rebuild', async function () {
    const file = path.join(dir, 'backup.ndjson');
    const env = processEnv();
    const exported = await npmRun('events:export', ['--out', file], env);
    expect(exported.code, exported.stderr).to.equal(0);

    // Into a database that does not exist yet: migrate creates it.
    const target = processEnv({
      ConnectionStrings__PostgreSQL: env.ConnectionStrings__PostgreSQL!.replace(
        `Database=${testDatabaseName}`,
        `Database=${restored}`,
      ),
    });
    const migrated = await npmRun('migrate', [], target);
    expect(migrated.code, migrated.stderr).to.equal(0);
    // Before the fix the import's two connections were held by the rebuild lock and the switch
    // transaction while the switch waited for a third to read the log: it never finished.
    const imported = await npmRun('events:import', ['--in', file, '--rebuild'], target, 120_000);
    expect(imported.code, imported.stderr).to.equal(0);
    expect(imported.stderr).to.match(/projections rebuilt/);

    const restoredPool = new pg.Pool({ ...testDbConfig, database: restored });
    try {
      expect(await snapshotReadTables(restoredPool)).to.deep.equal(
        await snapshotReadTables(h.services.pool),
      );
      // The same rebuild with a pool of one connection (Maximum Pool Size=1) finishes too.
      const single = processEnv({
        ...target,
        ConnectionStrings__PostgreSQL: `${target.ConnectionStrings__PostgreSQL};Maximum Pool Size=1`,
      });
      const rebuilt = await npmRun('projections:rebuild', [], single, 120_000);
      expect(rebuilt.code, rebuilt.stderr).to.equal(0);
      expect(rebuilt.stdout).to.match(/^done$/m);
      expect(await snapshotReadTables(restoredPool)).to.deep.equal(
        await snapshotReadTables(h.services.pool),
      );
    } finally {
      await restoredPool.end();
    }
  });
});
