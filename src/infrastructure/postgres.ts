import pg from 'pg';

// BIGINT (int8) columns come back as bigint rather than strings: positions are bigints everywhere.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => BigInt(value));
// The spec's TIMESTAMP columns hold UTC wall time (we write ISO strings); read them back as UTC.
pg.types.setTypeParser(pg.types.builtins.TIMESTAMP, (value) =>
  value === 'infinity' || value === '-infinity' ? value : new Date(`${value.replace(' ', 'T')}Z`),
);

export type PgConfig = pg.PoolConfig;

/**
 * Accepts both the deployment guide's ADO.NET form (`Host=…;Port=…;Database=…;Username=…;
 * Password=…`) and a `postgres://` URL.
 */
export function parsePostgresConnectionString(value: string): PgConfig {
  const trimmed = value.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) return { connectionString: trimmed };
  const config: PgConfig = {};
  for (const part of trimmed.split(';')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`'${part}' is not a key=value pair`);
    const key = part.slice(0, eq).trim().toLowerCase().replace(/\s+/g, '');
    const val = part.slice(eq + 1).trim();
    switch (key) {
      case 'host':
      case 'server':
        config.host = val;
        break;
      case 'port':
        config.port = Number(val);
        if (!Number.isInteger(config.port)) throw new Error(`Port '${val}' is not a number`);
        break;
      case 'database':
        config.database = val;
        break;
      case 'username':
      case 'userid':
      case 'user':
        config.user = val;
        break;
      case 'password':
        config.password = val;
        break;
      case 'sslmode':
        if (val.toLowerCase() === 'require') config.ssl = { rejectUnauthorized: false };
        break;
      case 'maximumpoolsize':
      case 'maxpoolsize':
        config.max = Number(val);
        break;
      default:
        // Other ADO.NET keywords (Pooling, Timeout, …) have no meaning for node-postgres.
        break;
    }
  }
  if (!config.host) throw new Error('Host is missing');
  return config;
}

export function createPool(config: PgConfig, max = 10): pg.Pool {
  const pool = new pg.Pool({ max, ...config });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return pool;
}

export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
