/**
 * Writes a realistic log for bench:rebuild through the command layer: tenants, configurations
 * in three environments, versions, rollbacks, deletes and restores, change requests with two
 * approvers (Production), canary deployments with metrics and steps (Staging). Every event is
 * decided by the real command classes and appended by the real PostgreSQL event store (its
 * batching shares one commit among concurrent appends).
 *
 * Fast because the generator is the only writer: streams it wrote are read back from memory
 * (`WriteThroughCache`), not PostgreSQL, and dropped once their actor is done with them, so
 * memory stays bounded whatever the number of events.
 */
import { randomBytes } from 'node:crypto';
import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  WrongExpectedVersionError,
  type AppendRequest,
  type AppendResult,
  type EventStore,
  type ReadAllOptions,
  type ReadStreamOptions,
  type ReadStreamResult,
  type RecordedEvent,
} from '../src/core/event-store/event-store.js';
import type { CommandContext } from '../src/core/commands/command-handling.js';
import { TenantCommands } from '../src/features/tenants/tenants.commands.js';
import { ConfigCommands } from '../src/features/configs/configs.commands.js';
import { ChangeRequestCommands } from '../src/features/change-requests/change-requests.commands.js';
import { DeploymentCommands } from '../src/features/deployments/deployments.commands.js';
import { approvalStream, configStream, deploymentStream } from '../src/core/streams.js';
import { configIdFor } from '../src/features/configs/config.events.js';
import { configDecider } from '../src/features/configs/config.decider.js';
import { CommandHandler } from '../src/core/commands/command-handler.js';

/**
 * The store seen by the commands. The generator is the only writer, so this store knows every
 * stream it wrote: it checks expected revisions itself (a wrong one throws, as the real store
 * would), answers reads of its streams from memory and hands the appends to the PostgreSQL store
 * in batches, one after the other, without waiting for each command's commit: each batch is one
 * atomic append of many streams, in which the store checks every expected revision again. A
 * failed batch fails the run.
 */
export class WriteThroughCache implements EventStore {
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly forgotten = new Set<string>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private buffer: AppendRequest[] = [];
  private last: Promise<unknown> = Promise.resolve();
  private failure: unknown;
  appended = 0;

  constructor(
    private readonly inner: EventStore,
    /** Batches handed over and not yet committed, at most. */
    private readonly window = 4,
  ) {}

  async append(requests: AppendRequest[]): Promise<AppendResult> {
    if (this.failure) throw this.failure;
    const unknown = requests.some((r) => this.forgotten.has(r.streamId));
    if (unknown) {
      // A stream this run did not write (or forgot): the store decides, and we wait for it.
      await this.drain();
      const result = await this.inner.append(requests);
      this.remember(requests);
      return result;
    }
    for (const r of requests) {
      const actual = BigInt((this.streams.get(r.streamId)?.length ?? 0) - 1);
      const ok =
        r.expected === ANY ||
        (r.expected === NO_STREAM && actual === -1n) ||
        (r.expected === STREAM_EXISTS && actual >= 0n) ||
        r.expected === actual;
      if (!ok) throw new WrongExpectedVersionError(r.streamId, r.expected, actual);
    }
    const streams = this.remember(requests);
    // Many commands' appends become one append of many streams (atomic, in order): one round
    // trip and one commit for BATCH of them.
    this.buffer.push(...requests);
    if (this.buffer.length >= BATCH) this.flush();
    while (this.inFlight.size >= this.window) await Promise.race(this.inFlight);
    // The position is known only once committed; the generator does not use it.
    return { streams, position: 0n };
  }

  private flush(): void {
    if (!this.buffer.length) return;
    const batch = this.buffer;
    this.buffer = [];
    const previous = this.last;
    const pending: Promise<unknown> = previous
      .then(() => (this.failure ? undefined : this.inner.append(batch)))
      .then(
        () => this.inFlight.delete(pending),
        (error: unknown) => {
          this.inFlight.delete(pending);
          this.failure ??= error;
        },
      );
    this.last = pending;
    this.inFlight.add(pending);
  }

  /** Waits until every append handed over so far has committed. */
  async drain(): Promise<void> {
    this.flush();
    while (this.inFlight.size) await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }

  private remember(requests: AppendRequest[]) {
    return requests.map((r) => {
      let events = this.streams.get(r.streamId);
      if (!events) this.streams.set(r.streamId, (events = []));
      for (const e of r.events) {
        events.push({
          ...e,
          streamId: r.streamId,
          revision: BigInt(events.length),
          position: 0n,
          recordedAt: new Date(),
        });
      }
      this.appended += r.events.length;
      return { streamId: r.streamId, nextExpectedRevision: BigInt(events.length - 1) };
    });
  }

  async readStream(streamId: string, options?: ReadStreamOptions): Promise<ReadStreamResult> {
    if (this.forgotten.has(streamId)) {
      // Only the store has it now, once our appends are in.
      await this.drain();
      return this.inner.readStream(streamId, options);
    }
    // The database was empty and this run is its only writer: a stream never written is new.
    const events = this.streams.get(streamId) ?? [];
    // From the revision the command handler kept a folded state at, as the real store reads:
    // handing back the whole stream made every command fold its tenant's stream from the start.
    const from = options?.fromRevision === undefined ? 0 : Number(options.fromRevision);
    return {
      revision: BigInt(events.length - 1),
      events: from > 0 ? events.slice(from) : events,
    };
  }

  /** Forgets a stream nobody will write again (memory stays flat). */
  forget(streamId: string): void {
    if (this.streams.delete(streamId)) this.forgotten.add(streamId);
  }

  readAll(options: ReadAllOptions) {
    return this.inner.readAll(options);
  }
  headPosition() {
    return this.inner.headPosition();
  }
  waitForEvents(timeoutMs: number, signal?: AbortSignal, since?: number) {
    return this.inner.waitForEvents(timeoutMs, signal, since);
  }
  wakeMark() {
    return this.inner.wakeMark();
  }
  ping() {
    return this.inner.ping();
  }
  close() {
    return this.inner.close();
  }
}

/** Deterministic enough, cheap random numbers (xorshift). */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p: number) => next() < p,
  };
}

/** Appends per append call (one statement, one commit). */
const BATCH = 500;

const ENVIRONMENTS = ['Development', 'Staging', 'Production'] as const;
const TYPES = ['String', 'Integer', 'JSON', 'Boolean'] as const;
/** Roughly how many events one configuration's life adds (measured over the mix below). */
const EVENTS_PER_CONFIG = 40;
const CONFIGS_PER_TENANT = 800;

function valueOf(type: (typeof TYPES)[number], n: number, r: ReturnType<typeof rng>): unknown {
  switch (type) {
    case 'String':
      return `value-${n}-${randomBytes(6).toString('hex')}`;
    case 'Integer':
      return r.int(0, 1_000_000) + n;
    case 'Boolean':
      return n % 2 === 0;
    case 'JSON':
      return { n, limits: { rps: r.int(1, 5000), burst: r.int(1, 100) }, regions: ['eu', 'us'] };
  }
}

export interface GenerateOptions {
  events: number;
  concurrency: number;
  onProgress?: (appended: number) => void;
}

/** Appends about `events` events (a little more: the last lives finish); returns the count. */
export async function generate(inner: EventStore, options: GenerateOptions): Promise<number> {
  const store = new WriteThroughCache(inner);
  const limits = {
    maxConfigsPerTenant: CONFIGS_PER_TENANT * 2,
    approvalExpiryMs: 7 * 24 * 3600_000,
    approvalMinExpiryMs: 60_000,
    approvalMaxExpiryMs: 30 * 24 * 3600_000,
  };
  const tenants = new TenantCommands(store);
  const configs = new ConfigCommands(store, limits);
  const changeRequests = new ChangeRequestCommands(store, limits);
  const deployments = new DeploymentCommands(store);
  const allow = () => undefined;
  const handler = new CommandHandler(store);
  const run = randomBytes(3).toString('hex');
  const ctx = (user: string, n: number): CommandContext => ({
    userId: user,
    ipAddress: `10.0.${n % 256}.${(n >> 8) % 256}`,
    traceId: randomBytes(16).toString('hex'),
    correlationId: `bench-${run}-${n}`,
  });

  const totalConfigs = Math.max(3, Math.ceil(options.events / EVENTS_PER_CONFIG));
  // Each actor writes to tenants of its own (a configuration's creation appends to its tenant's
  // stream: actors sharing a tenant would mostly be retrying lost races).
  const perActor = Math.max(1, Math.ceil(totalConfigs / CONFIGS_PER_TENANT / options.concurrency));
  const tenantCount = perActor * options.concurrency;
  let op = 0;

  // Tenants, each with a two-approver policy for Production.
  await Promise.all(
    Array.from({ length: tenantCount }, async (_, t) => {
      const tenantId = `bench-${t}`;
      await tenants.create(
        {
          tenantId,
          name: `Bench tenant ${t}`,
          tier: 'Enterprise',
          maxConfigurations: CONFIGS_PER_TENANT * 2,
        },
        ctx('admin', op++),
      );
      await tenants.setApprovalPolicy(
        { tenantId, environment: 'Production', requiredApprovals: 2 },
        ctx('admin', op++),
      );
    }),
  );

  // One life per configuration: created, then versions, a canary or change requests, a rollback,
  // maybe deleted and restored. Actors own their configurations (no two write the same one).
  let nextConfig = 0;
  const progress = setInterval(() => options.onProgress?.(store.appended), 1000);
  progress.unref();
  try {
    await Promise.all(
      Array.from({ length: options.concurrency }, async (_, actor) => {
        const r = rng(actor * 7919 + 17);
        for (let lives = 0; store.appended < options.events; lives++) {
          const n = nextConfig++;
          const tenantId = `bench-${actor + options.concurrency * (lives % perActor)}`;
          const environment = ENVIRONMENTS[n % 3]!;
          // Booleans only where nothing proposes a value twice (a canary or a rejected request
          // could propose the current one, which the deciders refuse).
          const type = TYPES[r.int(0, environment === 'Development' ? 3 : 2)]!;
          const key = `svc-${Math.floor(n / 3)}.setting-${n % 97}`;
          const user = `user-${r.int(1, 40)}`;
          const configId = configIdFor(tenantId, environment, key);
          const touched = [configStream(configId)];
          let version = 0;
          const update = async (i: number) => {
            const res = await configs.update(
              { configId, expectedVersion: version, value: valueOf(type, i, r) },
              ctx(`user-${r.int(1, 40)}`, op++),
            );
            if (res.state.exists) version = res.state.version;
          };
          if (environment !== 'Production') {
            // Production needs approvals even for a new key: its first change request creates it.
            const created = await configs.create(
              {
                tenantId,
                environment,
                key,
                type,
                value: valueOf(type, 0, r),
                description: `Setting ${n}`,
                tags: ['bench', environment.toLowerCase()],
                isSensitive: r.chance(0.05),
              },
              ctx(user, op++),
            );
            if (!created.state.exists) throw new Error(`config ${key} was not created`);
            version = created.state.version;
          }
          if (environment === 'Production') {
            // Changes go through change requests: two approvals, or a rejection.
            const requests = r.int(2, 8);
            for (let i = 1; i <= requests; i++) {
              const requested = await changeRequests.requestChange(
                {
                  tenantId,
                  key,
                  environment,
                  type,
                  value: valueOf(type, i, r),
                  description: `Change ${i}`,
                  rollout: {
                    strategy: 'Direct',
                    steps: [100],
                    bakeTimeSeconds: 0,
                    errorThreshold: 1,
                    minRequests: 0,
                  },
                },
                ctx('requester', op++),
              );
              const approvalId = (requested.state as { approvalId: string }).approvalId;
              touched.push(approvalStream(approvalId));
              // The first request creates the key: it is always approved.
              if (i > 1 && r.chance(0.15)) {
                await changeRequests.reject(
                  { approvalId, comments: 'not now' },
                  ctx('approver-1', op++),
                  allow,
                );
                continue;
              }
              await changeRequests.approve(
                { approvalId, comments: 'ok' },
                ctx('approver-1', op++),
                allow,
              );
              const done = await changeRequests.approve(
                { approvalId, comments: null },
                ctx('approver-2', op++),
                allow,
              );
              const d = (done.state as { deploymentId?: string | null }).deploymentId;
              if (d) touched.push(deploymentStream(d));
            }
          } else {
            const updates = r.int(10, 50);
            for (let i = 1; i <= updates; i++) await update(i);
            if (environment === 'Staging' && r.chance(0.5)) {
              // A canary: three steps, metrics from both sides in each, then completed.
              const started = await deployments.startDeployment(
                {
                  configId,
                  value: valueOf(type, 1000, r),
                  rollout: {
                    strategy: 'Canary',
                    steps: [10, 50, 100],
                    bakeTimeSeconds: 60,
                    errorThreshold: 0.5,
                    minRequests: 10,
                  },
                },
                ctx(user, op++),
                allow,
              );
              const deploymentId = (started.state as { deploymentId: string }).deploymentId;
              touched.push(deploymentStream(deploymentId));
              for (let step = 0; step < 2; step++) {
                for (const side of ['canary', 'stable', 'canary', 'stable'] as const) {
                  await deployments.reportMetrics(
                    { deploymentId, side, requests: r.int(50, 500), errors: r.int(0, 2) },
                    ctx('app', op++),
                    allow,
                  );
                }
                await deployments.advance(deploymentId, step, ctx('system', op++));
              }
              const after = await handler.state(configDecider, configStream(configId));
              if (after.exists) version = after.version;
            }
            if (r.chance(0.3) && version > 2) {
              const res = await configs.rollback(
                { configId, toVersion: r.int(1, version - 1), expectedVersion: version },
                ctx(user, op++),
              );
              if (res.state.exists) version = res.state.version;
            }
            if (r.chance(0.05)) {
              await configs.delete({ configId }, ctx(user, op++));
              await configs.restore({ configId }, ctx(user, op++));
            }
          }
          for (const s of touched) store.forget(s);
        }
      }),
    );
    await store.drain();
  } finally {
    clearInterval(progress);
  }
  return store.appended;
}
