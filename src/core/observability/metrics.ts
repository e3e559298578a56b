/**
 * Prometheus metrics (prom-client), with the deployment guide's names so its alert rules work as
 * written: `config_get_duration` (ms), `cache_hit_rate`, `deployments_failed_total`. Gauges that
 * need a query (projection lag, queue depth, active tenants…) are computed when scraped.
 */
import client from 'prom-client';
import { withTimeout } from '../timeout.js';

const NAMES = [
  'config_get_duration',
  'cache_hit_rate',
  'cache_hits_total',
  'cache_misses_total',
  'deployments_failed_total',
  'deployments_total',
  'http_request_duration_seconds',
  'http_requests_total',
  'event_append_duration_seconds',
  'projection_lag_events',
  'projection_checkpoint_age_seconds',
  'bullmq_queue_jobs',
  'active_tenants',
  'active_configurations',
  'event_store_up',
  'redis_up',
  'readiness_degraded',
  'worker_heartbeat_age_seconds',
  'projection_heartbeat_age_seconds',
  'config_watchers',
  'config_watch_pushes_total',
] as const;

/** Every metric this service exports (base names). */
export function metricNames(): string[] {
  return [...NAMES];
}

/** Hit rate over the last five minutes, in ten-second slots: what the alert rule expects. */
class SlidingHitRate {
  private readonly slots = Array.from({ length: 30 }, (): [number, number] => [0, 0]);
  private slot = 0;
  private slotStart = Date.now();

  /** Recorded since the clock was last read: the hot path reads it once per 256 records. */
  private pendingHits = 0;
  private pendingMisses = 0;

  record(hit: boolean): void {
    if (hit) this.pendingHits++;
    else this.pendingMisses++;
    if (((this.pendingHits + this.pendingMisses) & 255) === 0) this.flush();
  }

  rate(): number | undefined {
    this.flush();
    let hits = 0;
    let misses = 0;
    for (const [h, m] of this.slots) {
      hits += h;
      misses += m;
    }
    return hits + misses === 0 ? undefined : hits / (hits + misses);
  }

  /**
   * Rotates, then counts what is pending into the current slot: a little late at worst (never
   * dropped with a slot that rotates out after a quiet spell).
   */
  private flush() {
    const now = Date.now();
    if (now - this.slotStart >= this.slots.length * 10_000) {
      // Quiet for the whole window: every slot is out of it.
      for (const s of this.slots) s.fill(0);
      this.slotStart = now;
    }
    while (now - this.slotStart >= 10_000) {
      this.slot = (this.slot + 1) % this.slots.length;
      this.slots[this.slot] = [0, 0];
      this.slotStart += 10_000;
    }
    const slot = this.slots[this.slot]!;
    slot[0] += this.pendingHits;
    slot[1] += this.pendingMisses;
    this.pendingHits = 0;
    this.pendingMisses = 0;
  }
}

/** The hot read path's two kinds of route, and their labels in http_requests_total. */
export type HotRoute = 'key' | 'environment';
export type HotRouteLabels = Record<HotRoute, string>;

// Fine below a millisecond, with 10 ms (the alert's threshold) as a boundary.
const CONFIG_GET_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000];

/** Counters of the hot read path kept in plain numbers, turned into metrics when scraped. */
class HotPathStats {
  private readonly buckets = {
    key: new Float64Array(CONFIG_GET_BUCKETS.length + 1),
    environment: new Float64Array(CONFIG_GET_BUCKETS.length + 1),
  };
  private readonly sums = { key: 0, environment: 0 };
  private readonly counts = { local: 0, redis: 0, postgres: 0 };
  /** 200s per route, the common case, without a Map lookup; other statuses in `requests`. */
  private readonly ok = { key: 0, environment: 0 };
  private readonly requests = new Map<string, { route: string; status: number; n: number }>();

  constructor(private readonly labels: HotRouteLabels) {}

  observe(route: HotRoute, ms: number): void {
    const b = this.buckets[route];
    let i = 0;
    while (i < CONFIG_GET_BUCKETS.length && ms > CONFIG_GET_BUCKETS[i]!) i++;
    b[i]!++;
    this.sums[route] += ms;
  }

  count(level: 'local' | 'redis' | 'postgres'): void {
    this.counts[level]++;
  }

  request(route: HotRoute, status: number): void {
    if (status === 200) {
      this.ok[route]++;
      return;
    }
    const id = `${route} ${status}`;
    const entry = this.requests.get(id);
    if (entry) entry.n++;
    else this.requests.set(id, { route: this.labels[route], status, n: 1 });
  }

  /** Counts since the last call (merged into prom-client counters at scrape time). */
  take(level: 'local' | 'redis' | 'postgres'): number {
    const n = this.counts[level];
    this.counts[level] = 0;
    return n;
  }

  *takeRequests(): Iterable<[{ route: string; status: number }, number]> {
    for (const route of ['key', 'environment'] as const) {
      const n = this.ok[route];
      this.ok[route] = 0;
      if (n) yield [{ route: this.labels[route], status: 200 }, n];
    }
    for (const entry of this.requests.values()) {
      if (entry.n) yield [entry, entry.n];
      entry.n = 0;
    }
  }

  /** config_get_duration as a prom-client metric object (cumulative buckets, ms). */
  histogram() {
    const name = 'config_get_duration';
    const help = 'Hot read path latency in milliseconds';
    return {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      reset: () => undefined,
      get: async () => {
        const values: {
          metricName: string;
          labels: Record<string, string | number>;
          value: number;
        }[] = [];
        for (const route of ['key', 'environment'] as const) {
          const b = this.buckets[route];
          let acc = 0;
          CONFIG_GET_BUCKETS.forEach((le, i) => {
            acc += b[i]!;
            values.push({ metricName: `${name}_bucket`, labels: { le, route }, value: acc });
          });
          acc += b[CONFIG_GET_BUCKETS.length]!;
          values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', route }, value: acc });
          values.push({ metricName: `${name}_sum`, labels: { route }, value: this.sums[route] });
          values.push({ metricName: `${name}_count`, labels: { route }, value: acc });
        }
        return { name, help, type: 'histogram', aggregator: 'sum', values };
      },
    };
  }
}

export interface GaugeSources {
  projectionLag?: () => Promise<{ projection: string; behind: number; ageSeconds: number }[]>;
  queueCounts?: () => Promise<{ queue: string; state: string; count: number }[]>;
  activeCounts?: () => Promise<{ tenants: number; configurations: number }>;
  eventStoreUp?: () => Promise<boolean>;
  redisUp?: () => Promise<boolean>;
  /** 1 while this API instance answers in a degraded mode (see /health/ready). */
  degraded?: () => Promise<boolean>;
  /** Age of the freshest heartbeat per component (`worker`, `projection:<name>`). */
  heartbeats?: () => Promise<{ component: string; ageSeconds: number }[]>;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Gauges of one scrape are collected in parallel: share one reading between them. */
function perScrape<T>(read: () => Promise<T> | undefined): () => Promise<T | undefined> {
  let last: { at: number; value: Promise<T | undefined> } | undefined;
  return () => {
    if (!last || Date.now() - last.at > 500) {
      last = { at: Date.now(), value: Promise.resolve(read()).catch(() => undefined) };
    }
    return last.value;
  };
}

/**
 * `hotRoutes`: the labels of the hot read routes (their declared paths, which the composition
 * passes in; the route kinds themselves by default).
 */
export function createMetrics(
  sources: GaugeSources = {},
  hotRoutes: HotRouteLabels = { key: 'key', environment: 'environment' },
) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const hitRate = new SlidingHitRate();

  // The hot read path records into plain arrays (a few increments per read); prom-client reads
  // them when scraped. Its own observe() hashes label sets on every call, which costs the hot
  // path more than everything else it does.
  const hot = new HotPathStats(hotRoutes);
  registry.registerMetric(hot.histogram() as unknown as client.Metric);
  new client.Counter({
    name: 'cache_hits_total',
    help: 'Hot reads answered from a cache level',
    labelNames: ['level'],
    registers: [registry],
    collect() {
      this.inc({ level: 'local' }, hot.take('local'));
      this.inc({ level: 'redis' }, hot.take('redis'));
    },
  });
  new client.Counter({
    name: 'cache_misses_total',
    help: 'Hot reads that went to PostgreSQL',
    registers: [registry],
    collect() {
      this.inc(hot.take('postgres'));
    },
  });
  // A metric object of its own: with no reads in the window (an idle replica, or a projector or
  // worker, which serve none) it exports no sample at all. A labelless prom-client Gauge would
  // export 0, which the LowCacheHitRate alert takes for a cold cache.
  registry.registerMetric({
    name: 'cache_hit_rate',
    help: 'Share of hot reads served from cache (in-process or Redis) over the last 5 minutes',
    type: 'gauge',
    aggregator: 'average',
    reset: () => undefined,
    get: async () => {
      const rate = hitRate.rate();
      return {
        name: 'cache_hit_rate',
        help: 'Share of hot reads served from cache (in-process or Redis) over the last 5 minutes',
        type: 'gauge',
        aggregator: 'average',
        values: rate === undefined ? [] : [{ labels: {}, value: rate }],
      };
    },
  } as unknown as client.Metric);
  const deploymentsFailed = new client.Counter({
    name: 'deployments_failed_total',
    help: 'Deployments rolled back (automatically or by hand)',
    registers: [registry],
  });
  const deployments = new client.Counter({
    name: 'deployments_total',
    help: 'Deployments finished, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const httpTotal = new client.Counter({
    name: 'http_requests_total',
    help: 'HTTP requests',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
    collect() {
      for (const [{ route, status }, n] of hot.takeRequests()) {
        this.inc({ method: 'GET', route, status: String(status) }, n);
      }
    },
  });
  const appendDuration = new client.Histogram({
    name: 'event_append_duration_seconds',
    help: 'Event store append duration',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  {
    const lag = perScrape(() => sources.projectionLag?.());
    new client.Gauge({
      name: 'projection_lag_events',
      help: 'Events in the log after the projection checkpoint',
      labelNames: ['projection'],
      registers: [registry],
      async collect() {
        for (const p of (await lag()) ?? []) this.set({ projection: p.projection }, p.behind);
      },
    });
    new client.Gauge({
      name: 'projection_checkpoint_age_seconds',
      help: 'Seconds since the projection checkpoint last moved',
      labelNames: ['projection'],
      registers: [registry],
      async collect() {
        for (const p of (await lag()) ?? []) this.set({ projection: p.projection }, p.ageSeconds);
      },
    });
  }
  {
    new client.Gauge({
      name: 'bullmq_queue_jobs',
      help: 'BullMQ jobs per queue and state',
      labelNames: ['queue', 'state'],
      registers: [registry],
      async collect() {
        // BullMQ waits for its Redis without end: a scrape must not.
        const counts = sources.queueCounts && withTimeout(sources.queueCounts(), 2000);
        for (const c of (await counts?.catch(() => [])) ?? []) {
          this.set({ queue: c.queue, state: c.state }, c.count);
        }
      },
    });
  }
  {
    const active = perScrape(() => sources.activeCounts?.());
    new client.Gauge({
      name: 'active_tenants',
      help: 'Tenants not deleted',
      registers: [registry],
      async collect() {
        const counts = await active();
        if (counts) this.set(counts.tenants);
      },
    });
    new client.Gauge({
      name: 'active_configurations',
      help: 'Configurations not deleted',
      registers: [registry],
      async collect() {
        const counts = await active();
        if (counts) this.set(counts.configurations);
      },
    });
  }
  {
    new client.Gauge({
      name: 'event_store_up',
      help: '1 when the event store answers a ping',
      registers: [registry],
      async collect() {
        if (sources.eventStoreUp)
          this.set((await sources.eventStoreUp().catch(() => false)) ? 1 : 0);
      },
    });
  }

  {
    const up = (name: string, help: string, read: () => Promise<boolean> | undefined) =>
      new client.Gauge({
        name,
        help,
        registers: [registry],
        async collect() {
          const value = await Promise.resolve(read()).catch(() => false);
          if (value !== undefined) this.set(value ? 1 : 0);
        },
      });
    up('redis_up', '1 when the cache Redis answers a ping', () => sources.redisUp?.());
    up(
      'readiness_degraded',
      '1 while the API answers in a degraded mode (Redis or the event store down, a worker or projection not alive)',
      () => sources.degraded?.(),
    );
    const beats = perScrape(() => sources.heartbeats?.());
    new client.Gauge({
      name: 'worker_heartbeat_age_seconds',
      help: 'Seconds since a worker last reported alive (absent: none ever did)',
      registers: [registry],
      async collect() {
        const worker = ((await beats()) ?? []).find((b) => b.component === 'worker');
        if (worker) this.set(worker.ageSeconds);
      },
    });
    new client.Gauge({
      name: 'projection_heartbeat_age_seconds',
      help: 'Seconds since the instance running a projection last reported it alive',
      labelNames: ['projection'],
      registers: [registry],
      async collect() {
        for (const b of (await beats()) ?? []) {
          if (!b.component.startsWith('projection:')) continue;
          this.set({ projection: b.component.slice('projection:'.length) }, b.ageSeconds);
        }
      },
    });
  }

  const httpBound = new Map<
    string,
    {
      duration: ReturnType<typeof httpDuration.labels>;
      total: ReturnType<typeof httpTotal.labels>;
    }
  >();

  // Apps following changes live (long polls and event streams).
  const watchers = new client.Gauge({
    name: 'config_watchers',
    help: 'Open long polls and event streams following an environment or key',
    labelNames: ['mode'],
    registers: [registry],
  });
  const watchPushes = new client.Counter({
    name: 'config_watch_pushes_total',
    help: 'Bodies sent to watchers because what they follow changed (or on connect, for streams)',
    labelNames: ['mode'],
    registers: [registry],
  });
  for (const mode of ['stream', 'long_poll']) {
    watchers.set({ mode }, 0);
    watchPushes.inc({ mode }, 0);
  }

  return {
    registry,
    watch: {
      opened: (mode: 'stream' | 'long_poll') => watchers.inc({ mode }),
      closed: (mode: 'stream' | 'long_poll') => watchers.dec({ mode }),
      pushed: (mode: 'stream' | 'long_poll') => watchPushes.inc({ mode }),
    },
    /** Where scrape-time gauges read from; each process fills in what it has. */
    sources,
    /** One hot read answered: its latency, status and which level served it. */
    hotRead(route: HotRoute, ms: number, source: string, status: number) {
      hot.request(route, status);
      if (source === 'error') return;
      hot.observe(route, ms);
      if (source === 'local' || source === 'redis') {
        hot.count(source);
        hitRate.record(true);
      } else if (source === 'postgres') {
        hot.count('postgres');
        hitRate.record(false);
      }
    },
    deploymentFinished(outcome: 'completed' | 'rolled_back') {
      deployments.inc({ outcome });
      if (outcome === 'rolled_back') deploymentsFailed.inc();
    },
    http(method: string, route: string, status: number, seconds: number) {
      const id = `${method} ${status} ${route}`;
      let bound = httpBound.get(id);
      if (!bound) {
        const labels = { method, route, status: String(status) };
        bound = { duration: httpDuration.labels(labels), total: httpTotal.labels(labels) };
        if (httpBound.size < 10_000) httpBound.set(id, bound);
      }
      bound.duration.observe(seconds);
      bound.total.inc();
    },
    appendObserved(seconds: number) {
      appendDuration.observe(seconds);
    },
  };
}
