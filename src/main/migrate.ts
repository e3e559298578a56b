// Creates the database if it does not exist, then applies pending migrations (npm run migrate).
import pg from 'pg';
import { migrate } from '../infrastructure/migrate.js';
import { settingsOrExit } from './run.js';

const settings = settingsOrExit({ requireJwtSecret: false });
const config = settings.postgres.config;
const database =
  config.database ??
  (config.connectionString ? new URL(config.connectionString).pathname.slice(1) : undefined);

if (database) {
  const admin = new pg.Client(
    config.connectionString
      ? { connectionString: config.connectionString.replace(/\/[^/?]*(\?|$)/, '/postgres$1') }
      : { ...config, database: 'postgres' },
  );
  try {
    await admin.connect();
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      database,
    ]);
    if (!rowCount) {
      await admin.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
      console.log(`created database ${database}`);
    }
  } catch (error) {
    // No rights on the maintenance database: assume the database was made for us.
    console.log(`could not check for database ${database}: ${(error as Error).message}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

const applied = await migrate(config, (msg) => console.log(msg));
console.log(applied.length ? `applied ${applied.length} migration(s)` : 'database is up to date');
