/**
 * Who is calling and what they may do: a person (a JWT, ours or an OIDC provider's) or an app
 * (an API key). Pure: no I/O, so deciders and handlers alike can ask it.
 *
 * A person may hold roles in several tenants, each grant possibly limited to some environments;
 * platform-admin is global. An API key belongs to one tenant, lists the environments it may be
 * used in (null: all) and carries scopes instead of roles.
 *
 * The `reveal` rule (reading encrypted values in plain text): platform-admins, tenant-admins of
 * the tenant, and API keys with the `reveal` scope, each within the environments they are limited
 * to. Editors, approvers and readers see encrypted values masked.
 */
import { HttpProblem } from '../http/problem.js';

export const ROLES = ['platform-admin', 'tenant-admin', 'editor', 'approver', 'reader'] as const;
export type Role = (typeof ROLES)[number];

export const API_KEY_SCOPES = ['read', 'reveal', 'report-metrics'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** API keys read `cfgk_<keyId>_<secret>`; a bearer token with this prefix is one. */
export const API_KEY_TOKEN_PREFIX = 'cfgk_';

export type Capability =
  'read' | 'write' | 'approve' | 'admin' | 'platform' | 'reveal' | 'report-metrics';

/** What each role may do; tenant-admin includes editing and reading. */
const GRANTS: Record<Role, ReadonlySet<Capability>> = {
  'platform-admin': new Set([
    'read',
    'write',
    'approve',
    'admin',
    'platform',
    'reveal',
    'report-metrics',
  ]),
  'tenant-admin': new Set(['read', 'write', 'admin', 'reveal', 'report-metrics']),
  editor: new Set(['read', 'write', 'report-metrics']),
  approver: new Set(['read', 'approve', 'report-metrics']),
  reader: new Set(['read', 'report-metrics']),
};

/** An API key's scopes are capabilities of the same name, nothing more. */
const SCOPE_GRANTS: Record<ApiKeyScope, Capability> = {
  read: 'read',
  reveal: 'reveal',
  'report-metrics': 'report-metrics',
};

/** Roles in one tenant. */
export interface TenantGrant {
  roles: ReadonlySet<Role>;
  /** The environments the grant is limited to; null: all of the tenant's. */
  environments: string[] | null;
}

export interface Principal {
  kind: 'user' | 'api-key';
  /** The JWT's sub, or `api-key:<keyId>`: recorded on events and counted by rate limits. */
  userId: string;
  platformAdmin: boolean;
  /** Grants by tenant id. */
  tenants: ReadonlyMap<string, TenantGrant>;
  /** API keys only: what the key may do (its tenant grant has no roles). */
  scopes: ReadonlySet<ApiKeyScope> | null;
  /** API keys only. */
  keyId?: string;
  /**
   * When the credential stops being accepted (ms since the epoch). An API key's principal is set
   * to 0 when the key is revoked, so connections that remembered it let go of it too.
   */
  expiresAt: number;
}

export function userPrincipal(p: {
  userId: string;
  platformAdmin: boolean;
  tenants: Map<string, TenantGrant>;
  expiresAt: number;
}): Principal {
  return { kind: 'user', scopes: null, ...p };
}

export function apiKeyPrincipal(k: {
  keyId: string;
  tenantId: string;
  scopes: readonly ApiKeyScope[];
  environments: string[] | null;
  expiresAt: number;
}): Principal {
  return {
    kind: 'api-key',
    userId: `api-key:${k.keyId}`,
    keyId: k.keyId,
    platformAdmin: false,
    tenants: new Map([[k.tenantId, { roles: new Set(), environments: k.environments }]]),
    scopes: new Set(k.scopes),
    expiresAt: k.expiresAt,
  };
}

function grantAllows(p: Principal, grant: TenantGrant, capability: Capability): boolean {
  if (p.scopes) {
    for (const scope of p.scopes) if (SCOPE_GRANTS[scope] === capability) return true;
    return false;
  }
  for (const role of grant.roles) if (GRANTS[role].has(capability)) return true;
  return false;
}

/** Whether the principal has the capability: in `tenantId`, or (without one) in any tenant. */
export function can(p: Principal, capability: Capability, tenantId?: string): boolean {
  if (p.platformAdmin) return true;
  if (tenantId !== undefined) {
    const grant = p.tenants.get(tenantId);
    return grant !== undefined && grantAllows(p, grant, capability);
  }
  for (const grant of p.tenants.values()) if (grantAllows(p, grant, capability)) return true;
  return false;
}

/** Whether a role grants a capability (the document lists the roles of each route). */
export const roleCan = (role: Role, capability: Capability) => GRANTS[role].has(capability);

export const isPlatformAdmin = (p: Principal) => p.platformAdmin;

/** The one tenant a principal belongs to, if it has exactly one (logs, rate-limit buckets). */
export function soleTenant(p: Principal): string | undefined {
  if (p.tenants.size !== 1) return undefined;
  return p.tenants.keys().next().value;
}

/** The environments of `tenantId` the principal is limited to (null: all of them). */
export function environmentsIn(p: Principal, tenantId: string): string[] | null {
  if (p.platformAdmin) return null;
  return p.tenants.get(tenantId)?.environments ?? null;
}

/**
 * May the principal read encrypted values of `tenantId`'s `environment` in plain text?
 * platform-admin; tenant-admin of the tenant; an API key with the `reveal` scope; each within
 * the environments it is limited to. Everyone else gets the masked value.
 */
export function canReveal(p: Principal, tenantId: string, environment: string): boolean {
  if (p.platformAdmin) return true;
  const grant = p.tenants.get(tenantId);
  if (!grant) return false;
  if (grant.environments && !allowsEnvironment(grant.environments, environment)) return false;
  return grantAllows(p, grant, 'reveal');
}

/**
 * Checks that the principal may act on `tenantId` (and `environment`, if it is limited).
 * Another tenant's resources answer 404, so credentials cannot probe which tenants exist.
 */
export function authorize(
  p: Principal,
  capability: Capability,
  tenantId: string,
  environment?: string,
): void {
  if (p.platformAdmin) return;
  const grant = p.tenants.get(tenantId);
  if (!grant) {
    throw new HttpProblem(404, 'Not found', `Tenant '${tenantId}' not found`, {
      field: 'tenantId',
    });
  }
  if (!grantAllows(p, grant, capability)) {
    const what = p.scopes ? "Your API key's scopes do not" : 'Your roles do not';
    throw new HttpProblem(403, 'Forbidden', `${what} allow '${capability}' on this tenant`, {
      field: 'Authorization',
    });
  }
  if (
    environment !== undefined &&
    grant.environments &&
    !allowsEnvironment(grant.environments, environment)
  ) {
    const what = p.scopes ? 'API key' : 'token';
    throw new HttpProblem(
      403,
      'Forbidden',
      `Your ${what} is not valid for environment '${environment}'`,
      { field: 'environment' },
    );
  }
}

/**
 * `authorize`, answering another tenant's resource with `hidden()` (a not-found of the resource
 * itself), so that it is indistinguishable from one that does not exist.
 */
export function authorizeOrHide(
  p: Principal,
  capability: Capability,
  tenantId: string,
  environment: string | undefined,
  hidden: () => Error,
): void {
  try {
    authorize(p, capability, tenantId, environment);
  } catch (error) {
    if ((error as HttpProblem).status === 404) throw hidden();
    throw error;
  }
}

export function requirePlatformAdmin(p: Principal): void {
  if (!p.platformAdmin)
    throw new HttpProblem(403, 'Forbidden', 'Only platform admins may do this', {
      field: 'Authorization',
    });
}

/** Environment names match without regard to case (the declared spelling is canonical). */
function allowsEnvironment(allowed: readonly string[], environment: string): boolean {
  if (allowed.includes(environment)) return true;
  const lower = environment.toLowerCase();
  return allowed.some((e) => e.toLowerCase() === lower);
}
