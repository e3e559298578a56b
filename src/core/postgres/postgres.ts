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
 * One read-write endpoint is all this service can use: node-postgres connects to one host, and
 * the event store must append on the primary. A list of hosts (Npgsql's failover form) is
 * refused with this advice rather than cut to its first host.
 */
export const SINGLE_ENDPOINT_ADVICE =
  'this service needs one read-write endpoint that follows the primary: a CloudNativePG ' +
  '`<cluster>-rw` service, Patroni behind HAProxy (its primary port), or PgBouncer in front of ' +
  'the primary';

/** Npgsql keywords that mean nothing to node-postgres: accepted, with no effect. */
const NO_EFFECT = new Set([
  'pooling',
  'minimumpoolsize',
  'minpoolsize',
  'includeerrordetail',
  'enlist',
  'persistsecurityinfo',
  'trustservercertificate',
  'noresetonclose',
  'maxautoprepare',
  'autoprepareminusages',
  'connectionpruninginterval',
  'connectionlifetime',
]);

function seconds(key: string, value: string): number {
  if (!/^\d{1,7}$/.test(value.trim())) throw new Error(`${key} '${value}' must be whole seconds`);
  return Number(value) * 1000;
}

/**
 * Accepts both the deployment guide's ADO.NET form (`Host=…;Port=…;Database=…;Username=…;
 * Password=…`) and a `postgres://` URL. A keyword it does not understand is refused, naming it.
 */
export function parsePostgresConnectionString(value: string): PgConfig {
  const trimmed = value.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) {
    // postgres://h1,h2/db or ?target_session_attrs=…: a list of servers (libpq's failover form).
    const authority = /^[a-z]+:\/\/(?:[^@/?#]*@)?([^/?#]*)/i.exec(trimmed)?.[1] ?? '';
    if (authority.includes(',') || /[?&]target_session_attrs=/i.test(trimmed)) {
      throw new Error(`lists several servers; ${SINGLE_ENDPOINT_ADVICE}`);
    }
    return { connectionString: trimmed };
  }
  const config: PgConfig = {};
  let sslMode: string | undefined;
  let rootCertificate: string | undefined;
  for (const [key, val, raw] of adoNetPairs(trimmed)) {
    switch (key) {
      case 'host':
      case 'server':
        if (val.includes(',')) {
          throw new Error(`Host lists several servers (${val}); ${SINGLE_ENDPOINT_ADVICE}`);
        }
        config.host = val;
        break;
      case 'targetsessionattributes':
      case 'loadbalancehosts':
        throw new Error(
          `${key === 'loadbalancehosts' ? 'Load Balance Hosts' : 'Target Session Attributes'} chooses among several servers; ${SINGLE_ENDPOINT_ADVICE}`,
        );
      case 'timeout':
        config.connectionTimeoutMillis = seconds('Timeout', val);
        break;
      case 'commandtimeout':
        config.statement_timeout = seconds('Command Timeout', val);
        break;
      case 'applicationname':
        config.application_name = val;
        break;
      case 'keepalive':
        config.keepAlive = true;
        config.keepAliveInitialDelayMillis = seconds('Keepalive', val);
        break;
      case 'connectionidlelifetime':
        config.idleTimeoutMillis = seconds('Connection Idle Lifetime', val);
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
        if (NO_EFFECT.has(key)) break;
        throw new Error(
          `'${raw}' is not a connection string keyword this service understands (it reads Host, ` +
            'Port, Database, Username, Password, SSL Mode, Root Certificate, Maximum Pool Size, ' +
            'Timeout, Command Timeout, Application Name, Keepalive, Connection Idle Lifetime)',
        );
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
function adoNetPairs(text: string): [string, string, string][] {
  const pairs: [string, string, string][] = [];
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
    const raw = text.slice(i, eq).trim();
    const key = raw.toLowerCase().replace(/\s+/g, '');
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
    pairs.push([key, value, raw]);
  }
  return pairs;
}

export function createPool(config: PgConfig, max = 10): pg.Pool {
  return guardPool(new pg.Pool({ max, ...config }));
}

/**
 * A connection PostgreSQL drops (a restart, a failover) must never crash the process: the pool
 * handles its idle clients' errors, but a client checked out between two queries (a transaction
 * in progress) emits its 'error' with no one listening, which Node turns into an uncaught
 * exception. The query that needed it fails instead, and the pool replaces it.
 */
export function guardPool(pool: pg.Pool): pg.Pool {
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
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
