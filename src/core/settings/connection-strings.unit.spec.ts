import { expect } from 'chai';
import pg from 'pg';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePostgresConnectionString } from '../postgres/postgres.js';
import { parseRedisConnectionString } from '../redis/redis.js';

/** What node-postgres will actually connect with, given the parsed config. */
function pgSees(config: pg.PoolConfig) {
  const client = new pg.Client(config);
  return {
    host: client.host,
    port: client.port,
    user: client.user,
    database: client.database,
    password: client.password,
  };
}

describe('connection strings', function () {
  describe('parsePostgresConnectionString', function () {
    it('reads the ADO.NET form', function () {
      expect(
        parsePostgresConnectionString(
          'Host=db.internal;Port=6543;Database=configs;Username=svc;Password=s3cr3t',
        ),
      ).to.deep.equal({
        host: 'db.internal',
        port: 6543,
        database: 'configs',
        user: 'svc',
        password: 's3cr3t',
      });
    });

    it('leaves the port unset when none is given (node-postgres defaults to 5432)', function () {
      const config = parsePostgresConnectionString('Host=db;Database=x');
      expect(config).to.deep.equal({ host: 'db', database: 'x' });
      expect(pgSees(config).port).to.equal(5432);
    });

    it('accepts keys in any case, with spaces, aliases, empty parts and a trailing ;', function () {
      expect(
        parsePostgresConnectionString(
          ' SERVER = db.internal ;; port=5433; User ID = svc ; DATABASE=configs;',
        ),
      ).to.deep.equal({ host: 'db.internal', port: 5433, user: 'svc', database: 'configs' });
      expect(parsePostgresConnectionString('Host=h;User=u')).to.deep.equal({
        host: 'h',
        user: 'u',
      });
    });

    it('keeps = and other special characters inside the password', function () {
      expect(parsePostgresConnectionString('Host=h;Password=a=b==c').password).to.equal('a=b==c');
      expect(parsePostgresConnectionString('Host=h;Password=p@ss:w/rd!#%$').password).to.equal(
        'p@ss:w/rd!#%$',
      );
    });

    it('reads a quoted password containing ;', function () {
      // Regression: ADO.NET/Npgsql connection strings quote values that contain ';' ("…" or '…'); the
      // parser splits on every ';' and throws `'ss"' is not a key=value pair`.
      expect(parsePostgresConnectionString('Host=h;Password="p;ss";Database=d')).to.deep.equal({
        host: 'h',
        password: 'p;ss',
        database: 'd',
      });
    });

    it('maps SSL Mode=Require and Maximum Pool Size', function () {
      expect(
        parsePostgresConnectionString('Host=h;SSL Mode=Require;Maximum Pool Size=50'),
      ).to.deep.equal({ host: 'h', ssl: { rejectUnauthorized: false }, max: 50 });
      expect(parsePostgresConnectionString('Host=h;SslMode=Disable')).to.deep.equal({ host: 'h' });
    });

    it('verifies the server certificate for VerifyFull and VerifyCA, never falling back to plaintext', function () {
      const full = parsePostgresConnectionString('Host=h;SSL Mode=VerifyFull');
      expect(full.ssl).to.deep.equal({ rejectUnauthorized: true });
      const ca = parsePostgresConnectionString('Host=h;SSL Mode=VerifyCA');
      expect(ca.ssl).to.include({ rejectUnauthorized: true });
      // The chain is checked, the host name is not.
      expect((ca.ssl as { checkServerIdentity: () => unknown }).checkServerIdentity()).to.equal(
        undefined,
      );
      const dir = mkdtempSync(path.join(tmpdir(), 'cfgsvc-ca-'));
      const file = path.join(dir, 'root.crt');
      writeFileSync(file, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
      try {
        const pinned = parsePostgresConnectionString(
          `Host=h;SSL Mode=VerifyFull;Root Certificate=${file}`,
        );
        expect(pinned.ssl).to.deep.equal({
          rejectUnauthorized: true,
          ca: readFileSync(file, 'utf8'),
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      // Prefer and Allow may be plaintext (node-postgres cannot fall back from TLS).
      expect(parsePostgresConnectionString('Host=h;SSL Mode=Prefer').ssl).to.equal(undefined);
    });

    it('refuses an unknown SSL Mode and a Maximum Pool Size that is not a number', function () {
      expect(() => parsePostgresConnectionString('Host=h;SSL Mode=Strict')).to.throw(/SSL Mode/);
      expect(() => parsePostgresConnectionString('Host=h;Maximum Pool Size=many')).to.throw(
        /Maximum Pool Size/,
      );
    });

    it('maps the Npgsql keywords node-postgres has, and accepts those with no meaning here', function () {
      expect(
        parsePostgresConnectionString(
          'Host=h;Pooling=true;Timeout=15;Command Timeout=30;Application Name=cfg;Keepalive=10;' +
            'Connection Idle Lifetime=300;Minimum Pool Size=1;Include Error Detail=true',
        ),
      ).to.deep.equal({
        host: 'h',
        connectionTimeoutMillis: 15_000,
        statement_timeout: 30_000,
        application_name: 'cfg',
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        idleTimeoutMillis: 300_000,
      });
    });

    it('refuses a keyword it does not understand, naming it', function () {
      expect(() => parsePostgresConnectionString('Host=h;Search Pth=x')).to.throw(
        "'Search Pth' is not a connection string keyword this service understands",
      );
      expect(() => parsePostgresConnectionString('Host=h;Timeout=soon')).to.throw(
        "Timeout 'soon' must be whole seconds",
      );
    });

    for (const value of [
      'Host=pg1,pg2;Database=d;Username=u',
      'Host=pg1:5432,pg2:5432;Database=d',
      'Host=pg1;Target Session Attributes=read-write',
      'Host=pg1;Load Balance Hosts=true',
      'postgres://u:p@pg1:5432,pg2:5432/d',
      'postgresql://pg1/d?target_session_attrs=read-write',
    ]) {
      it(`refuses several servers (${value}), pointing at a read-write endpoint`, function () {
        expect(() => parsePostgresConnectionString(value))
          .to.throw(/one read-write endpoint/)
          .with.property('message')
          .that.matches(/CloudNativePG `<cluster>-rw` service/)
          .and.matches(/Patroni behind HAProxy/)
          .and.matches(/PgBouncer/);
      });
    }

    for (const port of ['abc', '1.5', '54 32']) {
      it(`rejects Port=${port}`, function () {
        expect(() => parsePostgresConnectionString(`Host=h;Port=${port}`)).to.throw(
          `port '${port}' must be a number from 1 to 65535`,
        );
      });
    }

    it('rejects ports outside 1-65535', function () {
      // Regression: Number('') is 0 and any integer passes, so 'Port=' gives port 0 and 'Port=70000'
      // or 'Port=-1' are accepted; start-up should stop with a message naming the variable.
      for (const port of ['', '0', '-1', '70000']) {
        expect(() => parsePostgresConnectionString(`Host=h;Port=${port}`), `Port=${port}`).to.throw(
          /port/i,
        );
      }
    });

    for (const value of ['Port=5432;Database=x', 'Host=;Database=x', '', '   ', 'Database=x;']) {
      it(`rejects ${JSON.stringify(value)}: Host is missing`, function () {
        expect(() => parsePostgresConnectionString(value)).to.throw('Host is missing');
      });
    }

    it('rejects a part that is not key=value', function () {
      expect(() => parsePostgresConnectionString('Host=h;garbage')).to.throw(
        "'garbage' is not a key=value pair",
      );
      expect(() => parsePostgresConnectionString('Host=h;=value')).to.throw(
        "'=value' is not a key=value pair",
      );
    });

    for (const url of [
      'postgres://svc:s3cr3t@db.internal:6543/configs',
      'postgresql://svc:s3cr3t@db.internal:6543/configs',
      'POSTGRES://svc:s3cr3t@db.internal:6543/configs',
    ]) {
      it(`passes ${url.split(':')[0]}:// URLs through to node-postgres`, function () {
        const config = parsePostgresConnectionString(`  ${url}  `);
        expect(config).to.deep.equal({ connectionString: url });
        expect(pgSees(config)).to.deep.equal({
          host: 'db.internal',
          port: 6543,
          user: 'svc',
          database: 'configs',
          password: 's3cr3t',
        });
      });
    }

    it('leaves percent-encoded special characters in URL passwords for node-postgres to decode', function () {
      const config = parsePostgresConnectionString(
        'postgres://svc:p%40ss%3Aw%2Frd%23%3B%3D@db.internal/configs',
      );
      expect(pgSees(config)).to.deep.equal({
        host: 'db.internal',
        port: 5432,
        user: 'svc',
        database: 'configs',
        password: 'p@ss:w/rd#;=',
      });
    });
  });

  describe('parseRedisConnectionString', function () {
    it('reads a bare host with the default port', function () {
      expect(parseRedisConnectionString('cache.internal')).to.deep.equal({
        host: 'cache.internal',
        port: 6379,
      });
    });

    it('reads host:port', function () {
      expect(parseRedisConnectionString(' cache.internal:6380 ')).to.deep.equal({
        host: 'cache.internal',
        port: 6380,
      });
    });

    it('reads the StackExchange options', function () {
      expect(
        parseRedisConnectionString(
          'cache:6380, Password=p@ss:w/rd!, user=app, ssl=True, defaultDatabase=3',
        ),
      ).to.deep.equal({
        host: 'cache',
        port: 6380,
        password: 'p@ss:w/rd!',
        username: 'app',
        tls: {},
        db: 3,
      });
    });

    it('keeps = inside the password', function () {
      expect(parseRedisConnectionString('cache:6379,password=a=b=').password).to.equal('a=b=');
    });

    it('reads ssl=false, and accepts the StackExchange options that mean nothing here', function () {
      expect(
        parseRedisConnectionString(
          'cache:6379,ssl=false,abortConnect=false,allowAdmin=true,connectRetry=3,syncTimeout=5000',
        ),
      ).to.deep.equal({ host: 'cache', port: 6379 });
      expect(
        parseRedisConnectionString('cache:6379,connectTimeout=5000,keepAlive=60,name=cfg'),
      ).to.deep.equal({
        host: 'cache',
        port: 6379,
        connectTimeout: 5000,
        keepAlive: 60_000,
        connectionName: 'cfg',
      });
    });

    it('refuses an option it does not understand, naming it', function () {
      expect(() => parseRedisConnectionString('cache:6379,pasword=x')).to.throw(
        "option 'pasword' is not understood",
      );
      expect(() => parseRedisConnectionString('cache:6379,ssl=yes')).to.throw(
        "ssl 'yes' must be true or false",
      );
      expect(() => parseRedisConnectionString('redis://cache:6379/0?family=6')).to.throw(
        'query parameters are not read',
      );
    });

    it('reads Sentinel: the hosts are sentinels, serviceName the master', function () {
      expect(
        parseRedisConnectionString(
          's1:26379, s2:26380 ,s3,serviceName=mymaster,password=pw,sentinelPassword=spw,defaultDatabase=1',
        ),
      ).to.deep.equal({
        sentinels: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26380 },
          { host: 's3', port: 26379 },
        ],
        name: 'mymaster',
        password: 'pw',
        sentinelPassword: 'spw',
        db: 1,
      });
      expect(parseRedisConnectionString('s1,serviceName=m,ssl=true')).to.deep.equal({
        sentinels: [{ host: 's1', port: 26379 }],
        name: 'm',
        tls: {},
        enableTLSForSentinelMode: true,
        sentinelTLS: {},
      });
    });

    it('refuses several hosts without serviceName instead of keeping the first', function () {
      expect(() => parseRedisConnectionString('host1:6379,host2:6379')).to.throw(
        'lists 2 hosts: for Redis Sentinel name the master with serviceName=<name>',
      );
      expect(() => parseRedisConnectionString('s1,serviceName=')).to.throw(
        'serviceName must name the Sentinel master',
      );
    });

    for (const value of ['', ',password=x', 'password=x', '  ']) {
      it(`rejects ${JSON.stringify(value)}: the host is missing`, function () {
        expect(() => parseRedisConnectionString(value)).to.throw(
          'the first part must be host:port',
        );
      });
    }

    it('rejects a port that is not a number', function () {
      expect(() => parseRedisConnectionString('cache:port')).to.throw(
        "port 'port' must be a number from 1 to 65535",
      );
      expect(() => parseRedisConnectionString('cache:63.5')).to.throw(
        'must be a number from 1 to 65535',
      );
    });

    it('rejects ports outside 1-65535', function () {
      // Regression: 'cache:' gives port 0 (Number('')), and -1 or 70000 pass the isInteger check; the
      // redis:// form rejects 70000 (WHATWG URL) but the host:port form does not.
      for (const value of ['cache:', 'cache:0', 'cache:-1', 'cache:70000']) {
        expect(() => parseRedisConnectionString(value), value).to.throw(/port/);
      }
    });

    it('rejects a defaultDatabase that is not a number', function () {
      // Regression: Number('abc') is NaN and is passed on as db; the URL form does the same for
      // 'redis://cache/abc'. ioredis then fails on SELECT at run time, not at start-up.
      expect(() => parseRedisConnectionString('cache:6379,defaultDatabase=abc')).to.throw();
      expect(() => parseRedisConnectionString('redis://cache:6379/abc')).to.throw();
    });

    it('reads IPv6 endpoints without the brackets (which ioredis cannot resolve)', function () {
      // Regression: '[::1]:6379' and 'redis://[::1]:6379' both give host '[::1]' (URL.hostname keeps the
      // brackets); ioredis then fails with getaddrinfo ENOTFOUND [::1].
      expect(parseRedisConnectionString('[::1]:6379')).to.deep.equal({ host: '::1', port: 6379 });
      expect(parseRedisConnectionString('redis://[::1]:6380')).to.deep.equal({
        host: '::1',
        port: 6380,
      });
    });

    it('reads redis:// URLs with the default port', function () {
      expect(parseRedisConnectionString('redis://cache.internal')).to.deep.equal({
        host: 'cache.internal',
        port: 6379,
      });
      expect(parseRedisConnectionString('REDIS://cache.internal:6381/')).to.deep.equal({
        host: 'cache.internal',
        port: 6381,
      });
    });

    it('decodes percent-encoded user names and passwords with special characters', function () {
      expect(
        parseRedisConnectionString('redis://app%20user:p%40ss%3Aw%2Frd%23%2C%3D@cache:6380/2'),
      ).to.deep.equal({
        host: 'cache',
        port: 6380,
        username: 'app user',
        password: 'p@ss:w/rd#,=',
        db: 2,
      });
    });

    it('reads a password-only URL', function () {
      expect(parseRedisConnectionString('redis://:s3cr3t@cache')).to.deep.equal({
        host: 'cache',
        port: 6379,
        password: 's3cr3t',
      });
    });

    it('turns on TLS for rediss://', function () {
      expect(parseRedisConnectionString('rediss://cache:6380')).to.deep.equal({
        host: 'cache',
        port: 6380,
        tls: {},
      });
    });

    it('rejects a URL port above 65535', function () {
      expect(() => parseRedisConnectionString('redis://cache:70000')).to.throw();
    });

    it('rejects a URL with credentials but no host', function () {
      expect(() => parseRedisConnectionString('redis://:pw@/')).to.throw();
    });
  });
});
