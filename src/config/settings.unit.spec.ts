import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  flattenSettings,
  loadSettings,
  parseIsoDuration,
  SettingsError,
  type Settings,
} from './settings.js';

const NOWHERE = '/nonexistent';
const SECRET = 'a-production-secret-that-is-long-enough';

/** Runs loadSettings and returns the SettingsError it throws (fails the test when none). */
function settingsError(env: Record<string, string | undefined>, dir = NOWHERE): SettingsError {
  try {
    loadSettings(env, dir);
  } catch (error) {
    expect(error).to.be.instanceOf(SettingsError);
    expect((error as Error).name).to.equal('SettingsError');
    return error as SettingsError;
  }
  expect.fail('loadSettings accepted the settings');
}

describe('settings', function () {
  describe('defaults', function () {
    it('loads the documented defaults from an empty environment', function () {
      const s = loadSettings({}, NOWHERE);
      const { jwt, ...rest } = s;
      expect(rest).to.deep.equal({
        environment: 'Development',
        port: 5000,
        postgres: {
          raw: 'Host=127.0.0.1;Port=5432;Database=config_service;Username=postgres',
          config: { host: '127.0.0.1', port: 5432, database: 'config_service', user: 'postgres' },
        },
        redis: { host: '127.0.0.1', port: 6379 },
        redisQueue: { host: '127.0.0.1', port: 6379 },
        metricsPort: 9464,
        eventStoreConnectionString: undefined,
        defaultEnvironment: 'Development',
        cacheTtlMs: 300_000,
        maxConfigsPerTenant: 1000,
        redisKeyPrefix: 'cfgsvc:',
        readYourWritesTimeoutMs: 5000,
        maxWatchers: 10_000,
        approvalExpiry: { defaultMs: 3 * 86_400_000, minMs: 300_000, maxMs: 30 * 86_400_000 },
        telemetry: { jaegerEndpoint: undefined, samplingRate: 1 },
        rateLimits: { configGet: 1000, configCreate: 100, deployments: 10 },
        logLevel: 'Information',
      } satisfies Omit<Settings, 'jwt'>);
      expect(jwt.issuer).to.equal('https://config.example.com');
      expect(jwt.audience).to.equal('config-service-api');
      // The development fallback secret is long enough for HS256.
      expect(jwt.secret.length).to.be.at.least(32);
    });

    it('uses the development secret in Test too', function () {
      expect(loadSettings({ ASPNETCORE_ENVIRONMENT: 'Test' }, NOWHERE).jwt.secret).to.equal(
        loadSettings({}, NOWHERE).jwt.secret,
      );
    });

    it('takes JWT__Secret, JWT__Issuer and JWT__Audience from the environment', function () {
      const s = loadSettings(
        { JWT__Secret: SECRET, JWT__Issuer: 'https://issuer.test', JWT__Audience: 'aud' },
        NOWHERE,
      );
      expect(s.jwt).to.deep.equal({
        secret: SECRET,
        issuer: 'https://issuer.test',
        audience: 'aud',
      });
    });
  });

  describe('ASPNETCORE_URLS', function () {
    for (const [urls, port] of [
      ['http://+:5000', 5000],
      ['http://0.0.0.0:8080', 8080],
      ['http://localhost:8081/', 8081],
      ['http://+:80;https://+:443', 80],
    ] as const) {
      it(`takes port ${port} from ${urls}`, function () {
        expect(loadSettings({ ASPNETCORE_URLS: urls }, NOWHERE).port).to.equal(port);
      });
    }

    it('names ASPNETCORE_URLS when it has no port', function () {
      expect(settingsError({ ASPNETCORE_URLS: 'http://localhost' }).message).to.include(
        'ASPNETCORE_URLS',
      );
    });
  });

  describe('ConnectionStrings__PostgreSQL', function () {
    it('reads the ADO.NET form', function () {
      const raw = 'Host=db.internal;Port=6543;Database=configs;Username=svc;Password=s3cr3t';
      expect(loadSettings({ ConnectionStrings__PostgreSQL: raw }, NOWHERE).postgres).to.deep.equal({
        raw,
        config: {
          host: 'db.internal',
          port: 6543,
          database: 'configs',
          user: 'svc',
          password: 's3cr3t',
        },
      });
    });

    it('reads the postgres:// form', function () {
      const raw = 'postgres://svc:p%40ss@db.internal:6543/configs?sslmode=require';
      expect(loadSettings({ ConnectionStrings__PostgreSQL: raw }, NOWHERE).postgres).to.deep.equal({
        raw,
        config: { connectionString: raw },
      });
    });

    it('names the variable when the string is invalid', function () {
      const message = settingsError({
        ConnectionStrings__PostgreSQL: 'Port=5432;Database=x',
      }).message;
      expect(message).to.include('ConnectionStrings__PostgreSQL');
      expect(message).to.include('Host is missing');
    });
  });

  describe('ConnectionStrings__Redis', function () {
    it('reads the host:port,password=… form', function () {
      expect(
        loadSettings(
          {
            ConnectionStrings__Redis:
              'cache.internal:6380,password=r3d!s,ssl=true,defaultDatabase=2',
          },
          NOWHERE,
        ).redis,
      ).to.deep.equal({ host: 'cache.internal', port: 6380, password: 'r3d!s', tls: {}, db: 2 });
    });

    it('reads the redis:// form', function () {
      expect(
        loadSettings(
          { ConnectionStrings__Redis: 'redis://app:p%40ss@cache.internal:6381/4' },
          NOWHERE,
        ).redis,
      ).to.deep.equal({
        host: 'cache.internal',
        port: 6381,
        username: 'app',
        password: 'p@ss',
        db: 4,
      });
    });

    it('names the variable when the port is not a number', function () {
      expect(settingsError({ ConnectionStrings__Redis: 'cache:port' }).message).to.include(
        'ConnectionStrings__Redis',
      );
    });
  });

  describe('ConfigService__CacheTTL and other durations', function () {
    for (const [value, ms] of [
      ['PT5M', 300_000],
      ['PT1H30M', 5_400_000],
      ['P1D', 86_400_000],
      ['PT30S', 30_000],
      ['PT0.5S', 500],
      ['P1DT2H', 93_600_000],
    ] as const) {
      it(`reads ${value} as ${ms} ms`, function () {
        expect(loadSettings({ ConfigService__CacheTTL: value }, NOWHERE).cacheTtlMs).to.equal(ms);
      });
    }

    it('reads ConfigService__ReadYourWritesTimeout', function () {
      expect(
        loadSettings({ ConfigService__ReadYourWritesTimeout: 'PT2S' }, NOWHERE)
          .readYourWritesTimeoutMs,
      ).to.equal(2000);
    });

    for (const bad of ['five minutes', 'P', 'PT', '5M', 'PT-5M', '300']) {
      it(`names ConfigService__CacheTTL for '${bad}'`, function () {
        const message = settingsError({ ConfigService__CacheTTL: bad }).message;
        expect(message).to.include('ConfigService__CacheTTL');
      });
    }

    it('parseIsoDuration rejects garbage with a message quoting the value', function () {
      expect(() => parseIsoDuration('five minutes')).to.throw(
        "'five minutes' is not an ISO-8601 duration such as PT5M",
      );
    });
  });

  describe('other values', function () {
    it('reads ConfigService__MaxConfigsPerTenant as a number', function () {
      expect(
        loadSettings({ ConfigService__MaxConfigsPerTenant: '250' }, NOWHERE).maxConfigsPerTenant,
      ).to.equal(250);
    });

    for (const bad of ['abc', '0', '1.5', '-3']) {
      it(`names ConfigService__MaxConfigsPerTenant for '${bad}'`, function () {
        expect(settingsError({ ConfigService__MaxConfigsPerTenant: bad }).message).to.include(
          'ConfigService__MaxConfigsPerTenant',
        );
      });
    }

    it('accepts a KurrentDB ConnectionStrings__EventStore', function () {
      const raw = 'esdb://localhost:2113?tls=false';
      expect(
        loadSettings({ ConnectionStrings__EventStore: raw }, NOWHERE).eventStoreConnectionString,
      ).to.equal(raw);
    });

    it("names ConnectionStrings__EventStore for 'http://x'", function () {
      expect(settingsError({ ConnectionStrings__EventStore: 'http://x' }).message).to.include(
        'ConnectionStrings__EventStore',
      );
    });

    it('names JWT__Secret when it is shorter than 32 characters', function () {
      const message = settingsError({ JWT__Secret: 'too-short' }).message;
      expect(message).to.include('JWT__Secret');
      expect(message).to.include('at least 32 characters');
    });

    for (const environment of ['Production', 'Staging']) {
      it(`names JWT__Secret when it is missing in ${environment}`, function () {
        const message = settingsError({ ASPNETCORE_ENVIRONMENT: environment }).message;
        expect(message).to.include('JWT__Secret');
        expect(message).to.include(environment);
      });
    }

    it('accepts Production with a JWT__Secret', function () {
      const s = loadSettings(
        { ASPNETCORE_ENVIRONMENT: 'Production', JWT__Secret: SECRET },
        NOWHERE,
      );
      expect(s.environment).to.equal('Production');
      expect(s.jwt.secret).to.equal(SECRET);
    });

    it('names every bad variable at once', function () {
      const message = settingsError({
        ConfigService__CacheTTL: 'soon',
        ConfigService__MaxConfigsPerTenant: 'many',
        Logging__LogLevel__Default: 'Loud',
      }).message;
      expect(message).to.include('ConfigService__CacheTTL');
      expect(message).to.include('ConfigService__MaxConfigsPerTenant');
      expect(message).to.include('Logging__LogLevel__Default');
    });

    it('treats an empty environment variable as unset', function () {
      expect(loadSettings({ ConfigService__CacheTTL: '' }, NOWHERE).cacheTtlMs).to.equal(300_000);
    });
  });

  describe('appsettings files', function () {
    let dir: string;
    beforeEach(function () {
      dir = mkdtempSync(path.join(tmpdir(), 'cfgsvc-settings-'));
    });
    afterEach(function () {
      rmSync(dir, { recursive: true, force: true });
    });
    const write = (name: string, content: unknown) =>
      writeFileSync(
        path.join(dir, name),
        typeof content === 'string' ? content : JSON.stringify(content),
      );

    it('reads nested keys from appsettings.json', function () {
      write('appsettings.json', {
        ConnectionStrings: {
          PostgreSQL: 'Host=file-db;Database=fromfile',
          Redis: 'file-cache:6390',
        },
        ConfigService: { CacheTTL: 'PT10M', MaxConfigsPerTenant: 42, RedisKeyPrefix: 'file:' },
        JWT: { Issuer: 'https://file.issuer' },
        Logging: { LogLevel: { Default: 'Warning' } },
      });
      const s = loadSettings({}, dir);
      expect(s.postgres.config).to.deep.equal({ host: 'file-db', database: 'fromfile' });
      expect(s.redis).to.deep.equal({ host: 'file-cache', port: 6390 });
      expect(s.cacheTtlMs).to.equal(600_000);
      expect(s.maxConfigsPerTenant).to.equal(42);
      expect(s.redisKeyPrefix).to.equal('file:');
      expect(s.jwt.issuer).to.equal('https://file.issuer');
      expect(s.logLevel).to.equal('Warning');
    });

    it('lets environment variables win over appsettings.json', function () {
      write('appsettings.json', { ConfigService: { CacheTTL: 'PT10M', MaxConfigsPerTenant: 42 } });
      const s = loadSettings({ ConfigService__CacheTTL: 'PT1M' }, dir);
      expect(s.cacheTtlMs).to.equal(60_000);
      expect(s.maxConfigsPerTenant).to.equal(42);
    });

    it('keeps the file value when the environment variable is empty', function () {
      write('appsettings.json', { ConfigService: { CacheTTL: 'PT10M' } });
      expect(loadSettings({ ConfigService__CacheTTL: '' }, dir).cacheTtlMs).to.equal(600_000);
    });

    it('lets appsettings.{Environment}.json override appsettings.json', function () {
      write('appsettings.json', { ConfigService: { CacheTTL: 'PT10M', MaxConfigsPerTenant: 42 } });
      write('appsettings.Staging.json', { ConfigService: { CacheTTL: 'PT20M' } });
      write('appsettings.Development.json', { ConfigService: { CacheTTL: 'PT30M' } });
      const s = loadSettings({ ASPNETCORE_ENVIRONMENT: 'Staging', JWT__Secret: SECRET }, dir);
      expect(s.environment).to.equal('Staging');
      expect(s.cacheTtlMs).to.equal(1_200_000);
      expect(s.maxConfigsPerTenant).to.equal(42);
    });

    it('reads appsettings.Development.json when no environment is set', function () {
      write('appsettings.json', { ConfigService: { CacheTTL: 'PT10M' } });
      write('appsettings.Development.json', { ConfigService: { CacheTTL: 'PT30M' } });
      expect(loadSettings({}, dir).cacheTtlMs).to.equal(1_800_000);
    });

    it('takes the environment from appsettings.json when the variable is not set', function () {
      write('appsettings.json', { ASPNETCORE_ENVIRONMENT: 'Staging', JWT: { Secret: SECRET } });
      write('appsettings.Staging.json', { ConfigService: { MaxConfigsPerTenant: 7 } });
      const s = loadSettings({}, dir);
      expect(s.environment).to.equal('Staging');
      expect(s.maxConfigsPerTenant).to.equal(7);
    });

    it('lets environment variables win over appsettings.{Environment}.json', function () {
      write('appsettings.Development.json', { ConfigService: { CacheTTL: 'PT30M' } });
      expect(loadSettings({ ConfigService__CacheTTL: 'PT1M' }, dir).cacheTtlMs).to.equal(60_000);
    });

    it('treats an empty ASPNETCORE_ENVIRONMENT as unset when choosing the environment file', function () {
      // Regression: loadSettings picks the file with `env.ASPNETCORE_ENVIRONMENT ?? …`, so '' reads
      // 'appsettings..json' while the merged settings (which skip empty variables) say
      // Development: appsettings.Development.json is silently ignored.
      write('appsettings.Development.json', { ConfigService: { CacheTTL: 'PT30M' } });
      const s = loadSettings({ ASPNETCORE_ENVIRONMENT: '' }, dir);
      expect(s.environment).to.equal('Development');
      expect(s.cacheTtlMs).to.equal(1_800_000);
    });

    it('names the file when appsettings.json is not valid JSON', function () {
      write('appsettings.json', '{ "ConfigService": ');
      const message = settingsError({}, dir).message;
      expect(message).to.include(path.join(dir, 'appsettings.json'));
    });

    it('names the variable when a file value is invalid', function () {
      write('appsettings.json', { ConfigService: { CacheTTL: 'ten minutes' } });
      expect(settingsError({}, dir).message).to.include('ConfigService__CacheTTL');
    });
  });

  describe('flattenSettings', function () {
    it('joins nested keys with __ and stringifies leaves, skipping null', function () {
      expect(flattenSettings({ A: { B: 1, C: { D: true } }, E: 'x', F: null })).to.deep.equal({
        A__B: '1',
        A__C__D: 'true',
        E: 'x',
      });
    });
  });
});
