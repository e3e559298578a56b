/**
 * The hot read path's map of each tenant's declared environments: a name resolves (without
 * regard to case) to its declared spelling, or is refused, in a couple of Map lookups. Loaded
 * from `tenant_environments` on first use; dropped when the read model announces a change of the
 * tenant's environments on the cache-invalidation channel (`{prefix}environments:{tenantId}`),
 * like the environment snapshots. A load that an invalidation overtook is not kept.
 */
import { undeclared } from './environments.queries.js';

interface Entry {
  names: readonly string[];
  /** Loaded after the read model caught up with the log (a miss then is an answer). */
  settled: boolean;
  exact: Set<string>;
  /** Lower-cased name → declared spelling (the first, for two spellings of one name). */
  byLower: Map<string, string>;
  expiresAt: number;
}

const MAX_TENANTS = 100_000;

export class EnvironmentDirectory {
  private readonly tenants = new Map<string, Entry>();
  private readonly generations = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<Entry>>();
  private epoch = 0;

  constructor(
    private readonly load: (tenantId: string) => Promise<string[]>,
    /** How long an entry may be kept now (short while invalidations cannot be relied on). */
    private readonly ttlMs: () => number,
    /** Waits until the read model has every event written so far (before refusing a name). */
    private readonly settle?: () => Promise<void>,
  ) {}

  /**
   * The declared spelling of `name`, `false` when the tenant has not declared it, undefined
   * when the tenant's environments are not loaded (use `resolve`).
   */
  peek(tenantId: string, name: string): string | false | undefined {
    const entry = this.tenants.get(tenantId);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.tenants.delete(tenantId);
      return undefined;
    }
    return lookup(entry, name);
  }

  /**
   * The declared spelling of `name`, or a 404 naming the declared ones. A name the map lacks is
   * refused only after the read model has caught up with the log as it is now (`settle`): a
   * tenant or a declaration written a moment ago is not refused because the projection lags.
   * The map then knows it is current; later declarations drop it (pub/sub).
   */
  async resolve(
    tenantId: string,
    name: string,
    /** A read that waited for its own write: a settled map may predate it (pub/sub in flight). */
    options: { fresh?: boolean } = {},
  ): Promise<string> {
    let entry = this.tenants.get(tenantId);
    if (!entry || entry.expiresAt <= Date.now()) entry = await this.fetch(tenantId, false);
    let found = lookup(entry, name);
    if (found === false && (!entry.settled || options.fresh) && this.settle) {
      await this.settle();
      entry = await this.fetch(tenantId, true);
      found = lookup(entry, name);
    }
    if (found === false) throw undeclared(tenantId, name, entry.names);
    return found;
  }

  invalidate(tenantId: string): void {
    this.generations.set(tenantId, (this.generations.get(tenantId) ?? 0) + 1);
    this.tenants.delete(tenantId);
    this.inFlight.delete(tenantId);
  }

  clear(): void {
    this.epoch++;
    this.tenants.clear();
    this.inFlight.clear();
  }

  private fetch(tenantId: string, settled: boolean): Promise<Entry> {
    // A load started before the read model settled may not stand for one after it.
    let pending = settled ? undefined : this.inFlight.get(tenantId);
    if (pending) return pending;
    const generation = this.generations.get(tenantId) ?? 0;
    const epoch = this.epoch;
    pending = this.load(tenantId).then((names) => {
      const entry: Entry = {
        names,
        settled,
        exact: new Set(names),
        byLower: new Map(),
        expiresAt: Date.now() + this.ttlMs(),
      };
      for (const n of names) {
        if (!entry.byLower.has(n.toLowerCase())) entry.byLower.set(n.toLowerCase(), n);
      }
      if ((this.generations.get(tenantId) ?? 0) === generation && this.epoch === epoch) {
        if (this.tenants.size >= MAX_TENANTS) this.tenants.clear();
        this.tenants.set(tenantId, entry);
      }
      return entry;
    });
    this.inFlight.set(tenantId, pending);
    const done = () => {
      if (this.inFlight.get(tenantId) === pending) this.inFlight.delete(tenantId);
    };
    pending.then(done, done);
    return pending;
  }
}

function lookup(entry: Entry, name: string): string | false {
  if (entry.exact.has(name)) return name;
  return entry.byLower.get(name.toLowerCase()) ?? false;
}
