/**
 * The configurations a tenant has registered (key and environment per configuration id), as an
 * immutable value that costs O(1) per registration instead of a copy of every entry.
 *
 * Tenant state is folded event by event, and each fold must leave the previous state as it was
 * (a command's staged events may never be appended; the command handler keeps folded states).
 * Copying a Map of every configuration per `ConfigurationRegistered` made creating a tenant's
 * n-th configuration O(n), and writing a large tenant quadratic. Instead every registry is a
 * version of one shared history: a view at version v sees the spans that began at or before v
 * and ended after it. Extending the newest version appends to the history; extending an older
 * one with the change that followed it returns that next version (a state folded again from a
 * kept one); any other change to an older version starts a history of its own (a copy: rare).
 */

export interface RegisteredConfig {
  key: string;
  environment: string;
}

type Change =
  | { kind: 'add'; configId: string; key: string; environment: string }
  | { kind: 'remove'; configId: string };

/** A time the configuration was registered: from version `from` until version `to` (exclusive). */
interface Span extends RegisteredConfig {
  from: number;
  to: number;
}

class History {
  /** The newest version. */
  head = 0;
  /** changes[v]: what made version v + 1 from version v. */
  readonly changes: Change[] = [];
  /** sizes[v]: how many configurations version v holds. */
  readonly sizes: number[] = [0];
  readonly spans = new Map<string, Span[]>();
  /** Every configuration id ever registered under `environment\0key`. */
  readonly byKey = new Map<string, Set<string>>();
}

const keyOf = (environment: string, key: string) => `${environment}\0${key}`;

export class ConfigRegistry implements Iterable<[string, RegisteredConfig]> {
  private constructor(
    private readonly history: History,
    private readonly version: number,
  ) {}

  static empty(): ConfigRegistry {
    return new ConfigRegistry(new History(), 0);
  }

  static of(entries: Iterable<[string, RegisteredConfig]>): ConfigRegistry {
    let registry = ConfigRegistry.empty();
    for (const [configId, c] of entries) registry = registry.with(configId, c);
    return registry;
  }

  get size(): number {
    return this.history.sizes[this.version]!;
  }

  private span(configId: string): Span | undefined {
    const spans = this.history.spans.get(configId);
    if (!spans) return undefined;
    for (let i = spans.length - 1; i >= 0; i--) {
      const s = spans[i]!;
      if (s.from <= this.version && this.version < s.to) return s;
      if (s.to <= this.version) return undefined; // later spans begin later still
    }
    return undefined;
  }

  has(configId: string): boolean {
    return this.span(configId) !== undefined;
  }

  get(configId: string): RegisteredConfig | undefined {
    const s = this.span(configId);
    return s && { key: s.key, environment: s.environment };
  }

  /** The configuration registered under `key` in `environment`, if any. */
  idOf(environment: string, key: string): string | undefined {
    for (const configId of this.history.byKey.get(keyOf(environment, key)) ?? []) {
      const s = this.span(configId);
      if (s && s.key === key && s.environment === environment) return configId;
    }
    return undefined;
  }

  *entries(): IterableIterator<[string, RegisteredConfig]> {
    for (const configId of this.history.spans.keys()) {
      const s = this.span(configId);
      if (s) yield [configId, { key: s.key, environment: s.environment }];
    }
  }

  [Symbol.iterator]() {
    return this.entries();
  }

  *keys(): IterableIterator<string> {
    for (const [configId] of this.entries()) yield configId;
  }

  *values(): IterableIterator<RegisteredConfig> {
    for (const [, c] of this.entries()) yield c;
  }

  /** This registry with `configId` registered as `config` (replacing what it was). */
  with(configId: string, config: RegisteredConfig): ConfigRegistry {
    return this.change({ kind: 'add', configId, key: config.key, environment: config.environment });
  }

  /** This registry without `configId` (itself when it is not registered). */
  without(configId: string): ConfigRegistry {
    if (!this.has(configId)) return this;
    return this.change({ kind: 'remove', configId });
  }

  private change(change: Change): ConfigRegistry {
    const h = this.history;
    if (this.version !== h.head) {
      const next = h.changes[this.version]!;
      if (sameChange(next, change)) return new ConfigRegistry(h, this.version + 1);
      // A second future for an older version: it gets a history of its own.
      return ConfigRegistry.of(this.entries()).change(change);
    }
    const v = this.version;
    const current = this.span(change.configId);
    let size = h.sizes[v]!;
    if (current) {
      current.to = v + 1;
      size--;
    }
    if (change.kind === 'add') {
      const spans = h.spans.get(change.configId) ?? [];
      spans.push({ key: change.key, environment: change.environment, from: v + 1, to: Infinity });
      h.spans.set(change.configId, spans);
      const k = keyOf(change.environment, change.key);
      const ids = h.byKey.get(k) ?? new Set<string>();
      ids.add(change.configId);
      h.byKey.set(k, ids);
      size++;
    }
    h.changes.push(change);
    h.sizes.push(size);
    h.head = v + 1;
    return new ConfigRegistry(h, v + 1);
  }
}

function sameChange(a: Change, b: Change): boolean {
  if (a.kind !== b.kind || a.configId !== b.configId) return false;
  if (a.kind === 'remove') return true;
  const add = b as Extract<Change, { kind: 'add' }>;
  return a.key === add.key && a.environment === add.environment;
}
