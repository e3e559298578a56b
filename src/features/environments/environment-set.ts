/**
 * A tenant's declared environments: part of the tenant aggregate (stream `tenant-{tenantId}`),
 * kept here so that everything about environments lives in one folder. Pure: no I/O.
 *
 * Names are matched without regard to case against the declared ones and always stored and
 * served under their declared (canonical) spelling: `production` is Production, never a new
 * environment. A tenant from before declarations existed (no Environment* event in its stream)
 * is read as having declared the defaults and every environment it ever registered a
 * configuration in; its first environment command writes those out as explicit declarations.
 */
export const DEFAULT_ENVIRONMENTS: readonly string[] = ['Development', 'Staging', 'Production'];

export type EnvironmentEvent =
  | { type: 'EnvironmentDeclared'; data: { tenantId: string; environment: string } }
  | {
      type: 'EnvironmentRenamed';
      data: { tenantId: string; environment: string; newName: string };
    }
  | { type: 'EnvironmentRemoved'; data: { tenantId: string; environment: string } };

export const ENVIRONMENT_EVENT_TYPES: readonly string[] = [
  'EnvironmentDeclared',
  'EnvironmentRenamed',
  'EnvironmentRemoved',
];

/** The tenants whose declared environments these events (of any streams) change. */
export function environmentChanges(
  events: readonly { streamId: string; type: string; data: unknown }[],
): Set<string> {
  const tenants = new Set<string>();
  for (const e of events) {
    if (e.type === 'TenantCreated' || ENVIRONMENT_EVENT_TYPES.includes(e.type)) {
      tenants.add((e.data as { tenantId: string }).tenantId);
    }
  }
  return tenants;
}

export interface EnvironmentSet {
  /** False for a tenant whose stream has no Environment* event yet (declared implicitly). */
  explicit: boolean;
  /** Declared names, in declaration order. */
  names: readonly string[];
}

/** What a tenant declares when its stream says nothing: the defaults (and what it used). */
export const implicitEnvironments = (): EnvironmentSet => ({
  explicit: false,
  names: DEFAULT_ENVIRONMENTS,
});

/** A configuration registered while the set was implicit: its environment was in use. */
export function registeredIn(set: EnvironmentSet, environment: string): EnvironmentSet {
  if (set.explicit || set.names.includes(environment)) return set;
  return { explicit: false, names: [...set.names, environment] };
}

export function evolveEnvironmentSet(set: EnvironmentSet, event: EnvironmentEvent): EnvironmentSet {
  // The first explicit event starts from nothing: the decider writes the implicit names out
  // as declarations in the same append, just before it.
  const names = set.explicit ? set.names : [];
  const d = event.data;
  switch (event.type) {
    case 'EnvironmentDeclared':
      return {
        explicit: true,
        names: names.includes(d.environment) ? names : [...names, d.environment],
      };
    case 'EnvironmentRenamed':
      return {
        explicit: true,
        names: names.map((n) => (n === d.environment ? event.data.newName : n)),
      };
    case 'EnvironmentRemoved':
      return { explicit: true, names: names.filter((n) => n !== d.environment) };
  }
}

/**
 * The declared spelling of `requested`: an exact match first (tenants from before declarations
 * may have used two spellings of one name), then one that differs only in case.
 */
export function resolveEnvironment(
  names: readonly string[],
  requested: string,
): string | undefined {
  if (names.includes(requested)) return requested;
  const lower = requested.toLowerCase();
  return names.find((n) => n.toLowerCase() === lower);
}

/** The sentence a refusal ends with: what the tenant has declared. */
export const declaredList = (names: readonly string[]) =>
  names.length ? `declared: ${names.join(', ')}` : 'no environment is declared';
