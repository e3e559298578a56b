// Re-wraps the tenants' data keys under the current key-encryption key (npm run keys:rotate).
import pg from 'pg';
import { DataKeys } from '../core/crypto/data-keys.js';
import { keyWrapperOf } from '../core/crypto/encryption.js';
import { createPool } from '../core/postgres/postgres.js';
import { cliArgs, runCli, settingsOrExit, usageError } from './run.js';

const USAGE = `usage: npm run keys:rotate [-- --new-data-keys] [--tenant <id>]
Re-wraps every tenant's data keys under the current key-encryption key: the first key listed in
Encryption__MasterKey, or the newest version of the Vault Transit key (Vault__Address). Events
and stored values are not touched: they name their data key version, which stays.
  --new-data-keys  also give every tenant a new data key version for the values written from now
                   on (older values keep decrypting with their own version)
  --tenant <id>    only this tenant's keys
Exits 1 when a key could not be re-wrapped (each is named); the others are re-wrapped.`;

const { values } = cliArgs(
  { 'new-data-keys': { type: 'boolean' }, tenant: { type: 'string' } },
  USAGE,
);
const settings = settingsOrExit({ requireJwtSecret: false });
const wrapper = keyWrapperOf(settings.encryption);
if (!wrapper)
  usageError('Encryption is not configured: set Encryption__MasterKey or Vault__Address', USAGE);
const pool: pg.Pool = createPool(settings.postgres.config, 2);
await runCli('keys:rotate', async () => {
  try {
    const keys = new DataKeys(pool, wrapper, 0);
    if (values['new-data-keys']) {
      const { rows } = await pool.query<{ tenant_id: string }>(
        `SELECT tenant_id FROM tenant_data_keys GROUP BY tenant_id
         HAVING bool_and(destroyed_at IS NULL) AND ($1::text IS NULL OR tenant_id = $1)
         ORDER BY tenant_id`,
        [values.tenant ?? null],
      );
      for (const r of rows) {
        const version = await keys.addVersion(r.tenant_id);
        process.stdout.write(`${r.tenant_id}: new data key version ${version}\n`);
      }
    }
    const report = await keys.rewrapAll({ tenantId: values.tenant });
    process.stdout.write(
      `re-wrapped ${report.rewrapped} of ${report.keys} data keys under ${report.kek} ` +
        `(${report.keys - report.rewrapped - report.failures.length} were already)\n`,
    );
    for (const f of report.failures) {
      process.stderr.write(`${f.tenantId} version ${f.version}: not re-wrapped: ${f.error}\n`);
    }
    if (report.failures.length) process.exitCode = 1;
  } finally {
    await pool.end();
  }
});
