// Creates the database if it does not exist, then applies pending migrations (npm run migrate).
import pg from 'pg';
import { migrate } from '../core/postgres/migrate.js';
import { cliArgs, runCli, settingsOrExit } from './run.js';

cliArgs(
  {},
  `usage: npm run migrate
Creates the database named in ConnectionStrings__PostgreSQL if it does not exist, then applies
the migrations in migrations/ that it lacks (safe to run again, and beside running processes).`,
);
const settings = settingsOrExit({ requireJwtSecret: false });
const config = settings.postgres.config;
const database =
  config.database ??
  (config.connectionString ? new URL(config.connectionString).pathname.slice(1) : undefined);

await runCli('migrate', async () => {
  if (database) await createIfMissing(database);
  const applied = await migrate(config, (msg) => console.log(msg));
  console.log(applied.length ? `applied ${applied.length} migration(s)` : 'database is up to date');
});

async function createIfMissing(name: string) {
  const admin = new pg.Client(
    config.connectionString
      ? { connectionString: config.connectionString.replace(/\/[^/?]*(\?|$)/, '/postgres$1') }
      : { ...config, database: 'postgres' },
  );
  admin.on('error', () => undefined);
  try {
    await admin.connect();
  } catch (error) {
    const code = (error as { code?: string }).code;
    // The server itself is unreachable: the migration below would fail the same way.
    if (code && /^E[A-Z]+$/.test(code)) throw error;
    // No rights on the maintenance database: assume the database was made for us.
    console.log(`could not check for database ${name}: ${(error as Error).message}`);
    return;
  }
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      console.log(`created database ${name}`);
    }
  } catch (error) {
    console.log(`could not check for database ${name}: ${(error as Error).message}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
}
