import { readFileSync } from 'node:fs';
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
  let sslMode: string | undefined;
  let rootCertificate: string | undefined;
  for (const [key, val] of adoNetPairs(trimmed)) {
    switch (key) {
      case 'host':
      case 'server':
        config.host = val;
        break;
      case 'port':
        config.port = parsePort(val);
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
        sslMode = val.toLowerCase();
        break;
      case 'rootcertificate':
      case 'sslrootcert':
        rootCertificate = val;
        break;
      case 'maximumpoolsize':
      case 'maxpoolsize': {
        const max = /^\d{1,4}$/.test(val.trim()) ? Number(val) : NaN;
        if (!(max >= 1)) throw new Error(`Maximum Pool Size '${val}' must be a whole number >= 1`);
        config.max = max;
        break;
      }
      default:
        // Other ADO.NET keywords (Pooling, Timeout, …) have no meaning for node-postgres.
        break;
    }
  }
  if (!config.host) throw new Error('Host is missing');
  // Npgsql's SSL Mode: Require encrypts without checking the certificate; VerifyCA and
  // VerifyFull check it (against Root Certificate if given) — never silently plaintext.
  switch (sslMode) {
    case undefined:
    case 'disable':
      break;
    case 'allow':
    case 'prefer':
      // Npgsql may fall back to plaintext here; node-postgres cannot fall back from TLS, so these
      // connect without it (as Npgsql does against a server without TLS). Use Require or above
      // to insist on encryption.
      break;
    case 'require':
      config.ssl = { rejectUnauthorized: false };
      break;
    case 'verifyca':
    case 'verify-ca':
    case 'verifyfull':
    case 'verify-full':
      config.ssl = {
        rejectUnauthorized: true,
        ...(rootCertificate ? { ca: readFileSync(rootCertificate, 'utf8') } : {}),
        // VerifyCA checks the chain only, not that the certificate names the host.
        ...(sslMode.startsWith('verifyca') || sslMode === 'verify-ca'
          ? { checkServerIdentity: () => undefined }
          : {}),
      };
      break;
    default:
      throw new Error(
        `SSL Mode '${sslMode}' is not one of Disable, Allow, Prefer, Require, VerifyCA, VerifyFull`,
      );
  }
  return config;
}

/** A TCP port, 1-65535. */
export function parsePort(value: string): number {
  const port = /^\d{1,5}$/.test(value.trim()) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535))
    throw new Error(`port '${value}' must be a number from 1 to 65535`);
  return port;
}

/** Splits `Key=Value;Key="quoted;value"` (ADO.NET style, '' or "" quoting) into pairs. */
function adoNetPairs(text: string): [string, string][] {
  const pairs: [string, string][] = [];
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    const semi = text.indexOf(';', i);
    if (eq < 0 || (semi >= 0 && semi < eq)) {
      const part = text.slice(i, semi < 0 ? undefined : semi).trim();
      if (part) throw new Error(`'${part}' is not a key=value pair`);
      i = semi < 0 ? text.length : semi + 1;
      continue;
    }
    const key = text.slice(i, eq).trim().toLowerCase().replace(/\s+/g, '');
    if (!key) {
      const end = text.indexOf(';', i);
      throw new Error(
        `'${text.slice(i, end < 0 ? undefined : end).trim()}' is not a key=value pair`,
      );
    }
    let j = eq + 1;
    while (text[j] === ' ') j++;
    let value: string;
    const quote = text[j];
    if (quote === '"' || quote === "'") {
      value = '';
      j++;
      for (;;) {
        if (j >= text.length) throw new Error(`unterminated quote in the value of ${key}`);
        if (text[j] === quote) {
          if (text[j + 1] === quote) {
            value += quote;
            j += 2;
            continue;
          }
          j++;
          break;
        }
        value += text[j++];
      }
      const end = text.indexOf(';', j);
      i = end < 0 ? text.length : end + 1;
    } else {
      const end = text.indexOf(';', j);
      value = text.slice(j, end < 0 ? undefined : end).trim();
      i = end < 0 ? text.length : end + 1;
    }
    pairs.push([key, value]);
  }
  return pairs;
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
