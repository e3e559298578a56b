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
        metricsPort: undefined,
        eventStoreConnectionString: undefined,
        defaultEnvironment: 'Development',
        cacheTtlMs: 300_000,
        maxConfigsPerTenant: 1000,
        redisKeyPrefix: 'cfgsvc:',
        readYourWritesTimeoutMs: 5000,
        maxWatchers: 10_000,
        importMaxBytes: 33_554_432,
        webhooks: {
          allowPrivateNetworks: false,
          timeoutMs: 10_000,
          retryScheduleMs: [5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 28_800].map(
            (s) => s * 1000,
          ),
          deliveryRetentionMs: 30 * 86_400_000,
        },
        queueDashboardActions: false,
        jobReconcileIntervalMs: 30_000,
        audit: { signingKey: undefined, checkpointIntervalMs: 3_600_000 },
        heartbeatTimeoutMs: 30_000,
        acknowledgements: { instanceTtlMs: 300_000, retentionMs: 30 * 86_400_000 },
        shutdownTimeoutMs: 25_000,
        apiWorkers: 1,
        accessLogSampleRate: 1,
        hotReadLogSampleRate: 0,
        hotReadFastLane: true,
        warnings: [],
        approvalExpiry: { defaultMs: 3 * 86_400_000, minMs: 300_000, maxMs: 30 * 86_400_000 },
        telemetry: { jaegerEndpoint: undefined, samplingRate: 1 },
        rateLimits: { configGet: 1000, configCreate: 100, deployments: 10 },
        logLevel: 'Information',
        encryption: { masterKeys: undefined, vault: undefined, dataKeyCacheTtlMs: 600_000 },
        console: { oidcScope: 'openid profile' },
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
        // No OIDC provider: the claim names keep their defaults.
        rolesClaim: 'roles',
        tenantsClaim: 'tenant_id',
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
      // The rest of ISO-8601: weeks, years (365 days) and months (30 days), as .NET reads them.
      ['P1W', 7 * 86_400_000],
      ['P2W3D', 17 * 86_400_000],
      ['P1Y', 365 * 86_400_000],
      ['P1M', 30 * 86_400_000],
      ['P1Y2M3DT4H5M6S', ((((365 + 60 + 3) * 24 + 4) * 60 + 5) * 60 + 6) * 1000],
      ['PT0,5S', 500],
      ['PT1.5M', 90_000],
      ['pt5m', 300_000],
      ['P0000-00-01T00:00:00', 86_400_000],
      ['P00000001T001000', 86_400_000 + 600_000],
      ['PT00:05:00', 300_000],
      ['PT0S', 0],
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

    for (const bad of [
      'five minutes',
      'P',
      'PT',
      '5M',
      'PT-5M',
      '300',
      '-P1D',
      'P1.5DT2H',
      'P1DT',
      'P1H',
      'PT5M1H',
      'P0000-13-01',
    ]) {
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

    for (const scheme of ['kurrent+discover', 'kdb+discover', 'kdb', 'KurrentDB+Discover']) {
      it(`accepts ${scheme}:// as the adapter does`, function () {
        const raw = `${scheme}://node1:2113,node2:2113?tls=false`;
        expect(
          loadSettings({ ConnectionStrings__EventStore: raw }, NOWHERE).eventStoreConnectionString,
        ).to.equal(raw);
      });
    }

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

  describe('unknown settings', function () {
    it('warns about a misspelt variable under a known prefix, naming the closest setting', function () {
      const s = loadSettings(
        { ConfigService__RedisPrefix: 'team-a:', JWT__Issue: 'x', PATH: '/usr/bin', HOME: '/' },
        NOWHERE,
      );
      // The misspelt value is not used: the default prefix is, and the warning says so.
      expect(s.redisKeyPrefix).to.equal('cfgsvc:');
      expect(s.warnings).to.deep.equal([
        'environment variable ConfigService__RedisPrefix is not a known setting and is ignored (did you mean ConfigService__RedisKeyPrefix?)',
        'environment variable JWT__Issue is not a known setting and is ignored (did you mean JWT__Issuer?)',
      ]);
    });

    it('says that names are case-sensitive when only the case differs', function () {
      expect(loadSettings({ configservice__cachettl: 'PT1M' }, NOWHERE).warnings).to.deep.equal([
        'environment variable configservice__cachettl is not a known setting and is ignored (names are case-sensitive: write ConfigService__CacheTTL)',
      ]);
    });

    for (const name of [
      'ConnectionStrings__Postgres',
      'RateLimiting__ConfigGets',
      'OpenTelemetry__SampleRate',
      'Logging__Level',
      'ASPNETCORE_ENVIROMENT',
      'METRICS_PROT',
    ]) {
      it(`warns about ${name}`, function () {
        const [warning] = loadSettings({ [name]: '1' }, NOWHERE).warnings;
        expect(warning).to.match(new RegExp(`^environment variable ${name} is not a known`));
      });
    }

    it('does not warn about known settings, other variables or per-category log levels', function () {
      expect(
        loadSettings(
          {
            ConfigService__CacheTTL: 'PT1M',
            METRICS_PORT: '9500',
            Logging__LogLevel__Microsoft: 'Warning',
            NODE_ENV: 'production',
          },
          NOWHERE,
        ).warnings,
      ).to.deep.equal([]);
    });

    it('warns about unknown keys in appsettings files, naming the file', function () {
      const dir = mkdtempSync(path.join(tmpdir(), 'settings-'));
      try {
        writeFileSync(
          path.join(dir, 'appsettings.json'),
          JSON.stringify({
            ConfigService: { CacheTtl: 'PT1M', MaxConfigsPerTenant: 5 },
            Logging: { LogLevel: { Default: 'Warning', 'HotSwap.MultiTenantConfig': 'Debug' } },
          }),
        );
        writeFileSync(
          path.join(dir, 'appsettings.Development.json'),
          JSON.stringify({ ConectionStrings: { Redis: 'cache:6379' } }),
        );
        expect(loadSettings({}, dir).warnings).to.deep.equal([
          'appsettings.json: ConfigService__CacheTtl is not a known setting and is ignored (names are case-sensitive: write ConfigService__CacheTTL)',
          'appsettings.Development.json: ConectionStrings__Redis is not a known setting and is ignored (did you mean ConnectionStrings__Redis?)',
        ]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('operations settings', function () {
    it('reads the dashboard, reconciler, heartbeat, shutdown and access-log settings', function () {
      const s = loadSettings(
        {
          ConfigService__QueueDashboardActions: 'True',
          ConfigService__JobReconcileInterval: 'PT1M',
          ConfigService__HeartbeatTimeout: 'PT10S',
          ConfigService__ShutdownTimeout: 'PT5S',
          ConfigService__AccessLogSampleRate: '0.25',
          ConfigService__HotReadLogSampleRate: '0.001',
          ConfigService__HotReadFastLane: 'False',
          ConfigService__Acknowledgements__InstanceTtl: 'PT90S',
          ConfigService__Acknowledgements__Retention: 'P7D',
          METRICS_PORT: '9600',
        },
        NOWHERE,
      );
      expect(s).to.deep.include({
        acknowledgements: { instanceTtlMs: 90_000, retentionMs: 7 * 86_400_000 },
        queueDashboardActions: true,
        jobReconcileIntervalMs: 60_000,
        heartbeatTimeoutMs: 10_000,
        shutdownTimeoutMs: 5000,
        accessLogSampleRate: 0.25,
        hotReadLogSampleRate: 0.001,
        hotReadFastLane: false,
        metricsPort: 9600,
      });
    });

    for (const [name, bad] of [
      ['ConfigService__QueueDashboardActions', 'yes'],
      ['ConfigService__AccessLogSampleRate', '2'],
      ['ConfigService__HotReadLogSampleRate', '-0.1'],
      ['ConfigService__HotReadFastLane', 'on'],
      ['ConfigService__ShutdownTimeout', '25'],
    ] as const) {
      it(`names ${name} for '${bad}'`, function () {
        expect(settingsError({ [name]: bad }).message).to.include(name);
      });
    }
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
