/**
 * Packaging: the Docker Compose files, Kubernetes manifests, Prometheus configuration and alert
 * rules, Grafana provisioning and dashboard, and the Dockerfile agree with the code and with each
 * other: the processes they start exist, the settings they pass are documented and valid, the
 * metrics they query are the ones the service exports, and what one file names (a Secret key, a
 * label, a mount, a service) exists in the other. Reads files only: no Docker, no cluster.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { flattenSettings, loadSettings } from '../src/core/settings/settings.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (rel: string) => readFileSync(path.join(root, rel), 'utf8');
const exists = (rel: string) => existsSync(path.join(root, rel));

function yamlFile<T>(rel: string): T {
  return parse(read(rel), { merge: true, prettyErrors: true }) as T;
}
function yamlDocuments<T>(rel: string): T[] {
  return parseAllDocuments(read(rel), { merge: true, prettyErrors: true })
    .filter((doc) => doc.contents !== null)
    .map((doc) => {
      if (doc.errors.length) throw new Error(`${rel}: ${doc.errors[0]!.message}`);
      return doc.toJS() as T;
    });
}

// ---------------------------------------------------------------------------------------------
// What the service provides
// ---------------------------------------------------------------------------------------------

type MetricType = 'counter' | 'gauge' | 'histogram';
/** The metrics the service exports at GET /metrics (API) and :METRICS_PORT/metrics (others). */
const EXPORTED_METRICS: Record<string, { type: MetricType; labels: string[] }> = {
  config_get_duration: { type: 'histogram', labels: ['route'] },
  cache_hit_rate: { type: 'gauge', labels: [] },
  cache_hits_total: { type: 'counter', labels: ['level'] },
  cache_misses_total: { type: 'counter', labels: [] },
  deployments_failed_total: { type: 'counter', labels: [] },
  deployments_total: { type: 'counter', labels: ['outcome'] },
  http_request_duration_seconds: { type: 'histogram', labels: ['method', 'route', 'status'] },
  http_requests_total: { type: 'counter', labels: ['method', 'route', 'status'] },
  event_append_duration_seconds: { type: 'histogram', labels: [] },
  projection_lag_events: { type: 'gauge', labels: ['projection'] },
  projection_checkpoint_age_seconds: { type: 'gauge', labels: ['projection'] },
  bullmq_queue_jobs: { type: 'gauge', labels: ['queue', 'state'] },
  active_tenants: { type: 'gauge', labels: [] },
  active_configurations: { type: 'gauge', labels: [] },
  event_store_up: { type: 'gauge', labels: [] },
  redis_up: { type: 'gauge', labels: [] },
  readiness_degraded: { type: 'gauge', labels: [] },
  worker_heartbeat_age_seconds: { type: 'gauge', labels: [] },
  projection_heartbeat_age_seconds: { type: 'gauge', labels: ['projection'] },
};
/** Known values of labels the queries match on. */
const LABEL_VALUES: Record<string, string[]> = {
  outcome: ['completed', 'rolled_back'],
  route: ['key', 'environment'],
  state: [
    'waiting',
    'active',
    'delayed',
    'completed',
    'failed',
    'paused',
    'prioritized',
    'waiting-children',
  ],
};
/** Labels Prometheus adds to every series (target labels), and histogram buckets' `le`. */
const TARGET_LABELS = ['job', 'instance', 'le'];

/** Series names a query may use: counters and gauges as named, histograms' _bucket/_sum/_count. */
const SERIES = new Map<string, string>([['up', 'up']]); // `up`: Prometheus's own, per target
for (const [name, { type }] of Object.entries(EXPORTED_METRICS)) {
  if (type === 'histogram')
    for (const s of ['_bucket', '_sum', '_count']) SERIES.set(name + s, name);
  else SERIES.set(name, name);
}
const labelsOf = (series: string) =>
  series === 'up' ? [] : [...EXPORTED_METRICS[SERIES.get(series)!]!.labels];

/** Setting names documented in README's Settings table. */
function documentedSettings(): Set<string> {
  const readme = read('README.md');
  const start = readme.indexOf('\n## Settings');
  expect(start, 'README has a Settings section').to.be.greaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  const names = [...section.matchAll(/^\|\s*`([A-Za-z_][A-Za-z0-9_]*)`\s*\|/gm)].map((m) => m[1]!);
  expect(names, 'settings in the README table').to.include('ConnectionStrings__PostgreSQL');
  return new Set(names);
}
/** Environment variables that are settings of the service (the rest are helpers, such as
 * POSTGRES_PASSWORD for `$(POSTGRES_PASSWORD)` in Kubernetes). */
const SETTING_NAME =
  /^(ConnectionStrings|ConfigService|JWT|OpenTelemetry|RateLimiting|Logging)__|^ASPNETCORE_|^METRICS_PORT$/;

/**
 * `node [--import ./dist/src/main/instrument.js] dist/src/main/x.js` → the entry point
 * src/main/x.ts (and the tracing preload, when given) must exist.
 */
function expectEntryPoint(command: unknown, where: string): string {
  let argv = typeof command === 'string' ? command.split(/\s+/) : (command as string[]);
  expect(argv[0], `${where}: command`).to.equal('node');
  if (argv[1] === '--import') {
    expect(argv[2], `${where}: preload`).to.equal('./dist/src/main/instrument.js');
    expect(exists('src/main/instrument.ts'), `${where}: src/main/instrument.ts exists`).to.equal(
      true,
    );
    argv = [argv[0]!, ...argv.slice(3)];
  }
  expect(argv, `${where}: command`).to.be.an('array').with.length(2);
  const m = /^dist\/src\/main\/([\w-]+)\.js$/.exec(argv[1]!);
  expect(m, `${where}: '${argv[1]}' is not dist/src/main/<name>.js`).to.not.equal(null);
  expect(exists(`src/main/${m![1]}.ts`), `${where}: src/main/${m![1]}.ts exists`).to.equal(true);
  return m![1]!;
}

/** Runs the service's own settings validation over an environment and an appsettings.json. */
function expectValidSettings(
  env: Record<string, string>,
  appsettings: string | undefined,
  where: string,
) {
  const dir = mkdtempSync(path.join(tmpdir(), 'packaging-'));
  try {
    if (appsettings !== undefined) writeFileSync(path.join(dir, 'appsettings.json'), appsettings);
    return loadSettings(env, dir);
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// PromQL: enough of a tokenizer to find the series, label matchers and grouping labels
// ---------------------------------------------------------------------------------------------

const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

interface Selector {
  series: string;
  matchers: { label: string; op: string; value: string }[];
}
function parsePromQl(expr: string): { selectors: Selector[]; grouping: string[] } {
  const withoutRanges = expr.replace(/\[[^\]]*\]/g, ''); // [5m], [$__rate_interval]
  const tokens =
    withoutRanges.match(
      /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\{[^}]*\}|\$\w+|\d+(?:\.\d+)?(?:[eE][+-]?\d+|[smhdwy]+)?|[A-Za-z_:][\w:]*|\S/g,
    ) ?? [];
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (!/^[A-Za-z_:]/.test(token)) continue;
    const next = tokens[i + 1];
    if (GROUPING.has(token)) {
      if (next === '(') {
        let j = i + 2;
        for (; j < tokens.length && tokens[j] !== ')'; j++)
          if (/^[A-Za-z_]/.test(tokens[j]!)) grouping.push(tokens[j]!);
        i = j;
      }
      continue;
    }
    if (AGGREGATIONS.has(token) || KEYWORDS.has(token.toLowerCase()) || next === '(') continue;
    const matchers = [];
    if (next?.startsWith('{')) {
      for (const m of next.matchAll(/([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g))
        matchers.push({ label: m[1]!, op: m[2]!, value: m[3]! });
      i++;
    }
    selectors.push({ series: token, matchers });
  }
  return { selectors, grouping };
}

/** Every series a query reads is exported, with the labels and label values it matches on. */
function expectKnownMetrics(expr: string, where: string): string[] {
  const { selectors, grouping } = parsePromQl(expr);
  expect(selectors, `${where}: no series in '${expr}'`).to.have.length.above(0);
  const allLabels = new Set([
    ...TARGET_LABELS,
    ...Object.values(EXPORTED_METRICS).flatMap((m) => m.labels),
  ]);
  for (const { series, matchers } of selectors) {
    expect(
      SERIES.has(series),
      `${where}: '${series}' is not a series the service exports (${expr})`,
    ).to.equal(true);
    for (const { label, op, value } of matchers) {
      expect(
        [...TARGET_LABELS, ...labelsOf(series)],
        `${where}: ${series} has no label '${label}'`,
      ).to.include(label);
      if (op === '=' && LABEL_VALUES[label])
        expect(LABEL_VALUES[label], `${where}: ${series}{${label}="${value}"}`).to.include(value);
    }
  }
  for (const label of grouping)
    expect([...allLabels], `${where}: grouping by unknown label '${label}'`).to.include(label);
  return selectors.map((s) => s.series);
}

describe('packaging: PromQL helper', () => {
  it('finds series, matchers and grouping labels, and skips functions and ranges', () => {
    const { selectors, grouping } = parsePromQl(
      'histogram_quantile(0.99, sum by (le) (rate(config_get_duration_bucket{route="key"}[5m]))) > 10 and on (projection) max(x_total) by (job)',
    );
    expect(selectors).to.deep.equal([
      {
        series: 'config_get_duration_bucket',
        matchers: [{ label: 'route', op: '=', value: 'key' }],
      },
      { series: 'x_total', matchers: [] },
    ]);
    expect(grouping).to.deep.equal(['le', 'projection', 'job']);
  });
});

// ---------------------------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------------------------

describe('packaging: Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const all = (op: string) => instructions.filter((l) => l.toUpperCase().startsWith(`${op} `));

  it('is multi-stage, runs as a non-root user, exposes 5000 and checks /health', () => {
    const froms = all('FROM');
    expect(froms.length, 'FROM stages').to.be.at.least(2);
    expect(
      froms.slice(0, -1).every((f) => / AS \w+/i.test(f)),
      'build stages are named',
    ).to.equal(true);
    const users = all('USER');
    expect(users, 'USER').to.have.length.above(0);
    expect(users.at(-1)!.split(/\s+/)[1], 'final USER').to.not.match(/^(root|0)(:|$)/);
    expect(all('EXPOSE').join(' '), 'EXPOSE').to.match(/\b5000\b/);
    const health = all('HEALTHCHECK');
    expect(health, 'HEALTHCHECK').to.have.length(1);
    expect(health[0], 'HEALTHCHECK').to.match(/:5000\/health\b/);
  });

  it("runs as the node image's own UID 1000 user, without creating a clashing one", () => {
    // node:* images already have `node` with UID 1000: `useradd -u 1000` fails the build.
    expect(all('FROM').at(-1), 'final stage base').to.match(/^FROM node:/);
    expect(all('RUN').some((r) => /useradd\b.*(-u|--uid)\s*1000\b/.test(r))).to.equal(false);
    expect(all('USER').at(-1)).to.equal('USER node');
  });

  it('starts the API by default, from an entry point that exists', () => {
    const cmd = all('CMD').at(-1);
    expect(cmd, 'CMD').to.be.a('string');
    const argv = JSON.parse(cmd!.slice(4)) as string[];
    expect(expectEntryPoint(argv, 'Dockerfile CMD')).to.equal('api');
    expect(dockerfile, 'ASPNETCORE_URLS port').to.match(/ASPNETCORE_URLS=http:\/\/\+:5000/);
  });
});

// ---------------------------------------------------------------------------------------------
// Docker Compose
// ---------------------------------------------------------------------------------------------

interface ComposeService {
  image?: string;
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null>;
  ports?: (string | number)[];
  expose?: (string | number)[];
  volumes?: string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  restart?: string;
  configs?: { source: string; target: string }[];
  deploy?: {
    replicas?: number;
    resources?: {
      limits?: { cpus?: string; memory?: string };
      reservations?: { cpus?: string; memory?: string };
    };
  };
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  configs?: Record<string, { content?: string; file?: string }>;
}

/** Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR:?error}, $$. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value
    .replace(/\$\{(\w+)(?::?([-?])([^}]*))?\}/g, (_, name: string, kind?: string, arg?: string) => {
      if (vars[name] !== undefined) return vars[name];
      if (kind === '-') return arg ?? '';
      throw new Error(`\${${name}} is required${arg ? `: ${arg}` : ''}`);
    })
    .replace(/\$\$/g, '$');
}
const composeEnv = (svc: ComposeService, vars: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(svc.environment ?? {}).map(([k, v]) => [k, interpolate(String(v ?? ''), vars)]),
  );
const dependsOn = (svc: ComposeService): Record<string, string | undefined> =>
  Array.isArray(svc.depends_on)
    ? Object.fromEntries(svc.depends_on.map((d) => [d, undefined]))
    : Object.fromEntries(
        Object.entries(svc.depends_on ?? {}).map(([d, { condition }]) => [d, condition]),
      );
const commandString = (c: string | string[] | undefined) =>
  Array.isArray(c) ? c.join(' ') : (c ?? '');
const healthTest = (svc: ComposeService) => commandString(svc.healthcheck?.test);

/** Secrets as the operator exports them; values long enough for JWT__Secret. */
const SECRET_VARS = {
  POSTGRES_PASSWORD: 'pg-password-for-the-test',
  JWT_SECRET: 'a-jwt-secret-for-the-test-0123456789abcdef',
  GRAFANA_PASSWORD: 'grafana-password-for-the-test',
};

function expectComposeBasics(file: string, compose: ComposeFile) {
  const names = Object.keys(compose.services);
  const declaredVolumes = Object.keys(compose.volumes ?? {});
  for (const [name, svc] of Object.entries(compose.services)) {
    expect(svc.image, `${file}: ${name}.image`)
      .to.be.a('string')
      .and.not.match(/:latest$/);
    for (const dep of Object.keys(dependsOn(svc)))
      expect(names, `${file}: ${name} depends on`).to.include(dep);
    for (const [dep, condition] of Object.entries(dependsOn(svc))) {
      if (condition === 'service_healthy')
        expect(
          compose.services[dep]!.healthcheck?.test,
          `${file}: ${name} waits for ${dep} to be healthy, so ${dep} needs a healthcheck`,
        ).to.not.equal(undefined);
      if (condition === 'service_completed_successfully')
        expect(compose.services[dep]!.restart, `${file}: ${dep} is one-shot`).to.equal('no');
    }
    for (const volume of svc.volumes ?? []) {
      const source = volume.split(':')[0]!;
      if (source.startsWith('.')) {
        expect(exists(source), `${file}: ${name} mounts ${source}, which exists`).to.equal(true);
      } else {
        expect(declaredVolumes, `${file}: ${name} uses volume ${source}`).to.include(source);
      }
    }
    for (const config of svc.configs ?? [])
      expect(Object.keys(compose.configs ?? {}), `${file}: ${name} config`).to.include(
        config.source,
      );
  }
}

describe('packaging: docker-compose.config-service.yml (local infrastructure)', () => {
  const compose = yamlFile<ComposeFile>('docker-compose.config-service.yml');
  const svc = (name: string) => {
    expect(compose.services, 'services').to.have.property(name);
    return compose.services[name]!;
  };

  it('parses, and every dependency, mount and volume it names exists', () => {
    expectComposeBasics('docker-compose.config-service.yml', compose);
  });

  it('runs PostgreSQL 15 with the guide database and user, password defaulting for development', () => {
    const pg = svc('postgres');
    expect(pg.image).to.match(/^postgres:15/);
    expect(pg.environment).to.include({
      POSTGRES_DB: 'config_service',
      POSTGRES_USER: 'config_user',
    });
    expect(pg.environment!.POSTGRES_PASSWORD).to.equal('${POSTGRES_PASSWORD:-dev_password}');
    expect(pg.ports).to.include('5432:5432');
  });

  it('runs Redis 7 with AOF persistence', () => {
    const redis = svc('redis');
    expect(redis.image).to.match(/^redis:7/);
    expect(commandString(redis.command)).to.match(/--appendonly yes/);
    expect(redis.ports).to.include('6379:6379');
  });

  it('runs a KurrentDB 25.1+ single node (multi-stream appends), insecure, on 2113', () => {
    const es = svc('eventstore');
    const m = /kurrentdb:(\d+)\.(\d+)/.exec(es.image!);
    expect(m, `KurrentDB image: ${es.image}`).to.not.equal(null);
    expect(Number(m![1]) * 100 + Number(m![2]), 'KurrentDB version').to.be.at.least(2501);
    expect(String(es.environment!.KURRENTDB_INSECURE)).to.equal('true');
    expect(String(es.environment!.KURRENTDB_CLUSTER_SIZE)).to.equal('1');
    expect(es.ports).to.include('2113:2113');
  });

  it('runs Jaeger all-in-one with OTLP on 4317/4318 and the UI on 16686', () => {
    const jaeger = svc('jaeger');
    expect(jaeger.image).to.match(/^jaegertracing\/all-in-one:/);
    expect(String(jaeger.environment!.COLLECTOR_OTLP_ENABLED)).to.equal('true');
    for (const port of ['16686:16686', '4317:4317', '4318:4318'])
      expect(jaeger.ports).to.include(port);
  });
});

describe('packaging: docker-compose.production.yml', () => {
  const file = 'docker-compose.production.yml';
  const compose = yamlFile<ComposeFile>(file);
  const services = compose.services;
  const appImage = services['config-service']?.image;
  const appServices = Object.entries(services).filter(([, s]) => s.image === appImage);

  it('parses, and every dependency, mount, config and volume it names exists', () => {
    expectComposeBasics(file, compose);
  });

  it('runs the API, projector, worker and migration from one image with existing entry points', () => {
    const entry = Object.fromEntries(
      appServices.map(([name, s]) => [name, expectEntryPoint(s.command, `${file}: ${name}`)]),
    );
    expect(entry).to.deep.equal({
      migrate: 'migrate',
      'config-service': 'api',
      projector: 'projector',
      worker: 'worker',
    });
    expect(services.migrate!.restart, 'migrate is one-shot').to.equal('no');
    for (const name of ['config-service', 'projector', 'worker'])
      expect(dependsOn(services[name]!).migrate, `${name} waits for migrations`).to.equal(
        'service_completed_successfully',
      );
  });

  it('runs 3 API replicas with the guide resources, healthy on /health at 5000', () => {
    const api = services['config-service']!;
    expect(api.deploy?.replicas).to.equal(3);
    expect(api.deploy?.resources).to.deep.equal({
      limits: { cpus: '2', memory: '4G' },
      reservations: { cpus: '1', memory: '2G' },
    });
    expect(healthTest(api)).to.contain('127.0.0.1:5000/health');
    expect(api.ports, 'replicas cannot share a host port').to.equal(undefined);
    for (const name of ['projector', 'worker'])
      expect(healthTest(services[name]!), `${name} healthcheck`).to.contain(':9464/metrics');
  });

  it('publishes the API on 5000 through a gateway that balances over the replicas', () => {
    const gateway = services.gateway!;
    expect(gateway.ports).to.include('5000:80');
    expect(dependsOn(gateway)['config-service']).to.equal('service_healthy');
    const conf = compose.configs![gateway.configs![0]!.source]!.content!;
    expect(interpolate(conf, {})).to.contain('http://config-service:5000').and.contain('resolver');
  });

  it('passes only documented settings, and the service accepts them', () => {
    const documented = documentedSettings();
    for (const [name, svc] of appServices) {
      const env = composeEnv(svc, SECRET_VARS);
      for (const key of Object.keys(env).filter((k) => SETTING_NAME.test(k)))
        expect(
          documented.has(key),
          `${file}: ${name} sets ${key}, missing from README Settings`,
        ).to.equal(true);
      const settings = expectValidSettings(env, undefined, `${file}: ${name}`);
      expect(settings.environment).to.equal('Production');
      expect(settings.port).to.equal(5000);
      expect(settings.jwt.secret).to.equal(SECRET_VARS.JWT_SECRET);
    }
  });

  it('takes secrets from the environment, never literally', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const [key, value] of Object.entries(svc.environment ?? {})) {
        if (/PASSWORD|SECRET/i.test(key))
          expect(String(value), `${name}.${key}`).to.match(/^\$\{[A-Z_]+(:[-?][^}]*)?\}$/);
        const pw = /password=([^;,]*)/i.exec(String(value));
        if (pw) expect(pw[1], `${name}.${key} password`).to.match(/^\$\{/);
      }
    }
    const env = composeEnv(services['config-service']!, SECRET_VARS);
    expect(env.JWT__Secret).to.equal(SECRET_VARS.JWT_SECRET);
    expect(services.grafana!.environment!.GF_SECURITY_ADMIN_PASSWORD).to.match(
      /^\$\{GRAFANA_PASSWORD/,
    );
    expect(
      () => composeEnv(services['config-service']!, {}),
      'unset secrets stop compose',
    ).to.throw(/POSTGRES_PASSWORD|JWT_SECRET/);
  });

  it('connects to the compose services: PostgreSQL, two Redis, KurrentDB, Jaeger', () => {
    const env = composeEnv(services['config-service']!, SECRET_VARS);
    expect(env).to.include({
      ASPNETCORE_ENVIRONMENT: 'Production',
      ConnectionStrings__Redis: 'redis-cache:6379',
      ConnectionStrings__RedisQueue: 'redis-queue:6379',
      ConnectionStrings__EventStore: 'kurrentdb://eventstore:2113?tls=false',
      OpenTelemetry__JaegerEndpoint: 'http://jaeger:4318/v1/traces',
    });
    expect(env.ConnectionStrings__PostgreSQL).to.contain('Host=postgres;');
    for (const host of ['postgres', 'redis-cache', 'redis-queue', 'eventstore', 'jaeger'])
      expect(services, host).to.have.property(host);
    expect(services.eventstore!.image).to.match(/kurrentdb:(2[5-9]|[3-9]\d)\./);
  });

  it('keeps BullMQ keys from eviction (noeviction) and evicts only TTL keys from the cache', () => {
    const queue = commandString(services['redis-queue']!.command);
    expect(queue)
      .to.match(/--maxmemory-policy noeviction/)
      .and.match(/--appendonly yes/);
    const cache = commandString(services['redis-cache']!.command);
    expect(cache)
      .to.match(/--maxmemory 4gb/)
      .and.match(/--appendonly yes/);
    expect(cache, 'checkpoints carry no TTL: only volatile-* policies spare them').to.match(
      /--maxmemory-policy volatile-(lru|lfu|ttl|random)/,
    );
  });

  it('provisions Prometheus with its config and rules, and Grafana with datasource and dashboards', () => {
    const prom = services.prometheus!.volumes!;
    expect(prom).to.include('./prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    const grafana = services.grafana!.volumes!;
    expect(grafana).to.include('./grafana/provisioning:/etc/grafana/provisioning:ro');
    expect(grafana.some((v) => v.startsWith('./grafana/dashboards:'))).to.equal(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Prometheus
// ---------------------------------------------------------------------------------------------

interface PrometheusConfig {
  rule_files?: string[];
  scrape_configs: {
    job_name: string;
    metrics_path?: string;
    dns_sd_configs?: { names: string[]; type?: string; port?: number }[];
    static_configs?: { targets: string[] }[];
  }[];
}
interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Host path of a path inside the Prometheus container, through the compose bind mounts. */
function prometheusHostPath(containerPath: string): string | undefined {
  const compose = yamlFile<ComposeFile>('docker-compose.production.yml');
  for (const volume of compose.services.prometheus!.volumes ?? []) {
    const [source, target] = volume.split(':') as [string, string];
    if (!source.startsWith('.')) continue;
    if (containerPath === target) return source;
    if (containerPath.startsWith(`${target}/`)) return source + containerPath.slice(target.length);
  }
  return undefined;
}

function alertRules(): AlertRule[] {
  const config = yamlFile<PrometheusConfig>('prometheus.yml');
  const rules: AlertRule[] = [];
  for (const pattern of config.rule_files ?? []) {
    const host = prometheusHostPath(pattern);
    expect(host, `rule_files ${pattern} is mounted into the Prometheus container`).to.be.a(
      'string',
    );
    const dir = path.posix.dirname(host!);
    const glob = new RegExp(
      `^${path.posix
        .basename(host!)
        .replace(/[.+^${}()|]/g, '\\$&')
        .replace(/\*/g, '.*')}$`,
    );
    const files = readdirSync(path.join(root, dir)).filter((f) => glob.test(f));
    expect(files, `rule files for ${pattern}`).to.have.length.above(0);
    for (const f of files) {
      const doc = yamlFile<{ groups: { name: string; rules: AlertRule[] }[] }>(`${dir}/${f}`);
      for (const group of doc.groups) rules.push(...group.rules);
    }
  }
  return rules;
}

describe('packaging: prometheus.yml and alert rules', () => {
  const config = yamlFile<PrometheusConfig>('prometheus.yml');
  const compose = yamlFile<ComposeFile>('docker-compose.production.yml');
  const job = (name: string) => {
    const j = config.scrape_configs.find((s) => s.job_name === name);
    expect(j, `scrape job ${name}`).to.not.equal(undefined);
    return j!;
  };

  it('scrapes every API replica on 5000 and the projector and worker on 9464', () => {
    const expected: Record<string, [string, number]> = {
      'config-service-api': ['config-service', 5000],
      'config-service-projector': ['projector', 9464],
      'config-service-worker': ['worker', 9464],
    };
    for (const [name, [service, port]] of Object.entries(expected)) {
      const j = job(name);
      expect(j.metrics_path ?? '/metrics', name).to.equal('/metrics');
      expect(j.dns_sd_configs, `${name}: one target per replica`).to.deep.equal([
        { names: [service], type: 'A', port, refresh_interval: '15s' },
      ]);
    }
  });

  it('targets only services and ports that the production compose file has', () => {
    for (const j of config.scrape_configs) {
      for (const sd of j.dns_sd_configs ?? [])
        for (const name of sd.names) {
          expect(compose.services, `${j.job_name}: service ${name}`).to.have.property(name);
          const svc = compose.services[name]!;
          expect(
            (svc.expose ?? []).map(String),
            `${j.job_name}: ${name} exposes ${sd.port}`,
          ).to.include(String(sd.port));
          if (sd.port !== 5000)
            expect(composeEnv(svc, SECRET_VARS).METRICS_PORT, `${name} METRICS_PORT`).to.equal(
              String(sd.port),
            );
        }
      for (const target of (j.static_configs ?? []).flatMap((s) => s.targets)) {
        const host = target.split(':')[0]!;
        expect(
          host === 'localhost' || host in compose.services,
          `${j.job_name}: ${target}`,
        ).to.equal(true);
      }
    }
  });

  it('has the guide alerts (latency with rate()), projection lag and event store alerts', () => {
    const rules = alertRules();
    const byName = new Map(rules.map((r) => [r.alert, r]));
    for (const name of [
      'HighConfigRetrievalLatency',
      'LowCacheHitRate',
      'DeploymentFailureRate',
      'ProjectionLagHigh',
      'EventStoreDown',
    ])
      expect(byName.has(name), `alert ${name}`).to.equal(true);
    const latency = byName.get('HighConfigRetrievalLatency')!;
    expect(latency.expr.replace(/\s+/g, ' ')).to.equal(
      'histogram_quantile(0.99, sum by (le) (rate(config_get_duration_bucket[5m]))) > 10',
    );
    expect(byName.get('LowCacheHitRate')!.expr.trim()).to.equal('cache_hit_rate < 0.90');
    expect(byName.get('LowCacheHitRate')!.for).to.equal('10m');
    expect(byName.get('DeploymentFailureRate')!.expr).to.match(
      /rate\(deployments_failed_total\[5m\]\)\)? > 0\.1/,
    );
    expect(byName.get('DeploymentFailureRate')!.labels!.severity).to.equal('critical');
    expect(byName.get('ProjectionLagHigh')!.expr).to.match(/projection_lag_events\)? > 1000/);
    expect(byName.get('EventStoreDown')!.expr.trim()).to.equal('event_store_up == 0');
    expect(byName.get('EventStoreDown')!.for).to.equal('1m');
  });

  it('gives every alert a severity, a summary and a description, over exported metrics only', () => {
    const rules = alertRules();
    expect(new Set(rules.map((r) => r.alert)).size, 'alert names are unique').to.equal(
      rules.length,
    );
    for (const rule of rules) {
      const name = rule.alert ?? rule.record!;
      expect(['warning', 'critical'], `${name}: severity`).to.include(rule.labels?.severity);
      expect(rule.for, `${name}: for`).to.match(/^\d+[smh]$/);
      expect(rule.annotations?.summary, `${name}: summary`).to.be.a('string').with.length.above(0);
      expect(rule.annotations?.description, `${name}: description`)
        .to.be.a('string')
        .with.length.above(0);
      expectKnownMetrics(rule.expr, `alert ${name}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Grafana
// ---------------------------------------------------------------------------------------------

interface Panel {
  id?: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
  panels?: Panel[];
}

describe('packaging: Grafana provisioning and dashboard', () => {
  const datasources = yamlFile<{ datasources: { uid: string; type: string; url: string }[] }>(
    'grafana/provisioning/datasources/prometheus.yaml',
  );
  const providers = yamlFile<{ providers: { type: string; options: { path: string } }[] }>(
    'grafana/provisioning/dashboards/config-service.yaml',
  );
  const dashboard = JSON.parse(read('grafana/dashboards/config-service.json')) as {
    uid: string;
    title: string;
    panels: Panel[];
  };
  const panels = dashboard.panels
    .flatMap((p) => [p, ...(p.panels ?? [])])
    .filter((p) => p.type !== 'row');
  const exprs = panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
  );

  it('provisions the compose Prometheus and loads dashboards from the mounted folder', () => {
    const compose = yamlFile<ComposeFile>('docker-compose.production.yml');
    const [ds] = datasources.datasources;
    expect(ds).to.include({ type: 'prometheus', url: 'http://prometheus:9090' });
    expect(compose.services).to.have.property('prometheus');
    const mount = compose.services.grafana!.volumes!.find((v) =>
      v.startsWith('./grafana/dashboards:'),
    );
    expect(providers.providers.map((p) => p.options.path)).to.include(mount!.split(':')[1]);
  });

  it('queries the provisioned datasource, over exported metrics only', () => {
    const uid = datasources.datasources[0]!.uid;
    expect(exprs, 'queries').to.have.length.above(0);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size, 'panel ids are unique').to.equal(ids.length);
    for (const p of panels) expect(p.datasource?.uid, `${p.title}: datasource`).to.equal(uid);
    for (const { panel, expr } of exprs) expectKnownMetrics(expr, `panel '${panel}'`);
  });

  it('shows the guide key metrics, projection lag and queue depth', () => {
    const all = exprs.map((e) => e.expr.replace(/\s+/g, ' '));
    const has = (re: RegExp, what: string) =>
      expect(
        all.some((e) => re.test(e)),
        what,
      ).to.equal(true);
    for (const q of ['0.50', '0.95', '0.99'])
      has(
        new RegExp(`histogram_quantile\\(${q}, .*config_get_duration_bucket`),
        `read latency p${q}`,
      );
    has(/cache_hit_rate|cache_hits_total/, 'cache hit rate');
    has(
      /deployments_total\{outcome="completed"\}.*\/ sum\(increase\(deployments_total\[/,
      'deployment success rate',
    );
    has(/active_tenants/, 'active tenants');
    has(/active_configurations/, 'active configurations');
    has(/http_requests_total\{status=~"5\.\."\}.*\/ sum\(rate\(http_requests_total\[/, '5xx share');
    has(/by \(projection\) \(projection_lag_events\)/, 'projection lag per projection');
    has(/by \(state\) \(bullmq_queue_jobs\)/, 'queue depth per state');
  });
});

describe('packaging: metrics exported by the service', () => {
  it('every metric the alerts and dashboard use is registered (src/core/observability/metrics.ts)', async function () {
    const file = path.join(root, 'src/core/observability/metrics.ts');
    if (!existsSync(file)) this.skip();
    const mod = (await import(pathToFileURL(file).href)) as { metricNames?: () => string[] };
    if (typeof mod.metricNames !== 'function') this.skip();
    const names = new Set(mod.metricNames!());
    for (const name of Object.keys(EXPORTED_METRICS))
      expect(names.has(name), `metricNames() includes ${name}`).to.equal(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Kubernetes
// ---------------------------------------------------------------------------------------------

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Probe {
  httpGet?: { path: string; port: number | string };
  timeoutSeconds?: number;
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  ports?: { containerPort: number; name?: string }[];
  env?: EnvVar[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
  };
}
interface PodSpec {
  containers: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  volumes?: { name: string; configMap?: { name: string }; emptyDir?: object }[];
  restartPolicy?: string;
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: PodSpec;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  resources?: string[];
}

describe('packaging: Kubernetes manifests', () => {
  const files = readdirSync(path.join(root, 'k8s')).filter((f) => /\.ya?ml$/.test(f));
  const objects = files.flatMap((f) =>
    yamlDocuments<K8sObject>(`k8s/${f}`).map((o) => ({ file: f, ...o })),
  );
  const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const one = (kind: string, name?: string) => {
    const found = ofKind(kind).filter((o) => !name || o.metadata.name === name);
    expect(found, `${kind} ${name ?? ''}`).to.have.length(1);
    return found[0]!;
  };
  const template = (o: K8sObject) => o.spec!.template as PodTemplate;
  const workloads = [...ofKind('Deployment'), ...ofKind('Job')];
  const api = one('Deployment', 'config-service');
  const apiPodLabels = template(api).metadata.labels;
  const secret = one('Secret');
  const configMap = one('ConfigMap');
  const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
    Object.entries(selector).every(([k, v]) => labels[k] === v);

  it('puts everything in the config-system namespace', () => {
    expect(one('Namespace').metadata.name).to.equal('config-system');
    for (const o of objects.filter((o) => !['Namespace', 'Kustomization'].includes(o.kind)))
      expect(o.metadata.namespace, `${o.file}: ${o.kind} ${o.metadata.name}`).to.equal(
        'config-system',
      );
  });

  it('kustomization applies every manifest except the Secret example', () => {
    const k = one('Kustomization');
    const expected = files.filter((f) => f !== 'kustomization.yaml' && f !== 'secret.example.yaml');
    expect([...k.resources!].sort()).to.deep.equal(expected.sort());
  });

  it('runs the API, projector, worker and migration from one image with existing entry points', () => {
    const images = new Set<string>();
    const entries: Record<string, string> = {};
    for (const w of workloads)
      for (const c of template(w).spec.containers) {
        images.add(c.image);
        entries[w.metadata.name] = expectEntryPoint(c.command, `${w.file}: ${c.name}`);
      }
    expect(images.size, 'one image').to.equal(1);
    expect(Object.values(entries).sort()).to.deep.equal(['api', 'migrate', 'projector', 'worker']);
    expect(entries['config-service']).to.equal('api');
    expect(['OnFailure', 'Never']).to.include(template(one('Job')).spec.restartPolicy);
  });

  it('API: 3 replicas on 5000, liveness /health, readiness /health/ready, guide resources', () => {
    expect(api.spec!.replicas).to.equal(3);
    const [c] = template(api).spec.containers;
    expect(c!.ports!.map((p) => p.containerPort)).to.include(5000);
    expect(c!.livenessProbe!.httpGet).to.deep.equal({ path: '/health', port: 5000 });
    expect(c!.readinessProbe!.httpGet).to.deep.equal({ path: '/health/ready', port: 5000 });
    expect(c!.readinessProbe!.timeoutSeconds, '/health/ready takes up to 2 s').to.be.at.least(3);
    expect(c!.resources).to.deep.equal({
      limits: { memory: '4Gi', cpu: '2' },
      requests: { memory: '2Gi', cpu: '1' },
    });
  });

  it('projector and worker expose METRICS_PORT 9464 and are probed there', () => {
    for (const name of ['config-service-projector', 'config-service-worker']) {
      const [c] = template(one('Deployment', name)).spec.containers;
      expect(
        c!.ports!.map((p) => p.containerPort),
        name,
      ).to.include(9464);
      expect(c!.env!.find((e) => e.name === 'METRICS_PORT')?.value, name).to.equal('9464');
      expect(c!.livenessProbe!.httpGet, name).to.deep.equal({ path: '/metrics', port: 9464 });
    }
  });

  it('runs every container as user 1000, non-root, read-only root filesystem, with limits', () => {
    for (const w of workloads) {
      const spec = template(w).spec;
      for (const c of spec.containers) {
        const where = `${w.file}: ${c.name}`;
        const sc = { ...spec.securityContext, ...c.securityContext };
        expect(sc.runAsNonRoot, `${where}: runAsNonRoot`).to.equal(true);
        expect(sc.runAsUser, `${where}: runAsUser`).to.equal(1000);
        expect(
          c.securityContext?.readOnlyRootFilesystem,
          `${where}: readOnlyRootFilesystem`,
        ).to.equal(true);
        expect(c.securityContext?.allowPrivilegeEscalation, `${where}`).to.equal(false);
        expect(c.resources?.limits, `${where}: limits`).to.have.keys('cpu', 'memory');
        expect(c.resources?.requests, `${where}: requests`).to.have.keys('cpu', 'memory');
      }
    }
  });

  it('mounts the ConfigMap as /app/appsettings.json, whose keys are documented settings', () => {
    const appsettings = configMap.data!['appsettings.json']!;
    const keys = Object.keys(flattenSettings(JSON.parse(appsettings)));
    const documented = documentedSettings();
    for (const key of keys) expect(documented.has(key), `ConfigMap key ${key}`).to.equal(true);
    for (const key of [
      'ConfigService__DefaultEnvironment',
      'ConfigService__CacheTTL',
      'ConfigService__MaxConfigsPerTenant',
      'OpenTelemetry__SamplingRate',
      'JWT__Issuer',
      'JWT__Audience',
    ])
      expect(keys, 'ConfigMap').to.include(key);
    for (const w of workloads) {
      const spec = template(w).spec;
      const volume = spec.volumes!.find((v) => v.configMap?.name === configMap.metadata.name);
      expect(volume, `${w.file}: ConfigMap volume`).to.not.equal(undefined);
      for (const c of spec.containers)
        expect(c.volumeMounts, `${w.file}: ${c.name}`).to.deep.include({
          name: volume!.name,
          mountPath: '/app/appsettings.json',
          subPath: 'appsettings.json',
          readOnly: true,
        });
    }
  });

  it('passes documented settings in a valid order; secrets come from the Secret; the service accepts them', () => {
    const documented = documentedSettings();
    const secretKeys = Object.keys({ ...secret.stringData, ...secret.data });
    for (const w of workloads)
      for (const c of template(w).spec.containers) {
        const where = `${w.file}: ${c.name}`;
        const env: Record<string, string> = {};
        for (const e of c.env ?? []) {
          if (SETTING_NAME.test(e.name))
            expect(
              documented.has(e.name),
              `${where} sets ${e.name}, missing from README Settings`,
            ).to.equal(true);
          const ref = e.valueFrom?.secretKeyRef;
          if (ref) {
            expect(ref.name, `${where}: ${e.name}`).to.equal(secret.metadata.name);
            expect(secretKeys, `${where}: ${e.name}`).to.include(ref.key);
            env[e.name] = `${ref.key}-value-long-enough-for-a-jwt-secret`;
            continue;
          }
          // Kubernetes expands $(NAME) only for variables defined earlier in the list.
          env[e.name] = (e.value ?? '').replace(/\$\((\w+)\)/g, (_, name: string) => {
            expect(env, `${where}: ${e.name} uses $(${name}), defined before it`).to.have.property(
              name,
            );
            return env[name]!;
          });
          if (/password=/i.test(e.value ?? ''))
            expect(e.value, `${where}: ${e.name}`).to.match(/password=\$\(\w+\)/i);
        }
        expect(c.env!.find((e) => e.name === 'JWT__Secret')?.valueFrom?.secretKeyRef?.key).to.equal(
          'jwt-secret',
        );
        const settings = expectValidSettings(env, configMap.data!['appsettings.json'], where);
        expect(settings.environment, where).to.equal('Production');
        expect(settings.cacheTtlMs, where).to.equal(5 * 60_000);
        if (w.metadata.name !== 'config-service-migrate')
          for (const name of ['ConnectionStrings__Redis', 'ConnectionStrings__RedisQueue'])
            expect(env, `${where}: ${name}`).to.have.property(name);
        expect(env, where).to.have.property('ConnectionStrings__PostgreSQL');
      }
  });

  it('the Secret example holds placeholders only', () => {
    expect(secret.file).to.equal('secret.example.yaml');
    expect(secret.data, 'no base64 data').to.equal(undefined);
    expect(Object.keys(secret.stringData!).sort()).to.deep.equal([
      'jwt-secret',
      'postgres-password',
      'redis-password',
    ]);
    for (const [key, value] of Object.entries(secret.stringData!))
      expect(value, key).to.match(/^(REPLACE_ME|CHANGE_ME|<[\w-]+>)$/);
  });

  it('the Service exposes the API pods only, 80 → 5000', () => {
    const service = one('Service');
    const spec = service.spec as {
      type: string;
      selector: Record<string, string>;
      ports: { port: number; targetPort: number }[];
    };
    expect(spec.type).to.equal('LoadBalancer');
    expect(spec.ports).to.deep.include({
      port: 80,
      targetPort: 5000,
      protocol: 'TCP',
      name: 'http',
    });
    expect(matches(spec.selector, apiPodLabels), 'selects API pods').to.equal(true);
    for (const w of workloads.filter((w) => w !== api))
      expect(
        matches(spec.selector, template(w).metadata.labels),
        `not ${w.metadata.name}`,
      ).to.equal(false);
  });

  it('the HPA scales the API Deployment 3..10 on CPU 70 % and memory 80 %', () => {
    const spec = one('HorizontalPodAutoscaler').spec as {
      scaleTargetRef: { apiVersion: string; kind: string; name: string };
      minReplicas: number;
      maxReplicas: number;
      metrics: { resource: { name: string; target: { averageUtilization: number } } }[];
    };
    expect(spec.scaleTargetRef).to.deep.equal({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: api.metadata.name,
    });
    expect([spec.minReplicas, spec.maxReplicas]).to.deep.equal([3, 10]);
    expect(
      Object.fromEntries(
        spec.metrics.map((m) => [m.resource.name, m.resource.target.averageUtilization]),
      ),
    ).to.deep.equal({ cpu: 70, memory: 80 });
  });

  it('the PDBs select existing pods; the API keeps at least 2', () => {
    const pdbs = ofKind('PodDisruptionBudget').map((p) => ({
      name: p.metadata.name,
      ...(p.spec as { minAvailable?: number; selector: { matchLabels: Record<string, string> } }),
    }));
    for (const pdb of pdbs)
      expect(
        workloads.some((w) => matches(pdb.selector.matchLabels, template(w).metadata.labels)),
        `${pdb.name} selects some pods`,
      ).to.equal(true);
    const apiPdb = pdbs.filter((p) => matches(p.selector.matchLabels, apiPodLabels));
    expect(apiPdb, 'one PDB for the API pods').to.have.length(1);
    expect(apiPdb[0]!.minAvailable).to.equal(2);
    const apiDeploymentSelector = (api.spec!.selector as { matchLabels: Record<string, string> })
      .matchLabels;
    expect(matches(apiDeploymentSelector, apiPodLabels)).to.equal(true);
  });
});
