/**
 * Bearer JWTs signed with JWT__Secret (HS256 only: `alg: none` and every other algorithm are
 * refused), checked for issuer, audience and expiry.
 *
 * Claims (the names of roles and tenant_id are settings, JWT__RolesClaim and JWT__TenantsClaim):
 *   sub           user id (required)
 *   roles         array of: platform-admin | tenant-admin | editor | approver | reader
 *   tenant_id     the tenant the roles apply to (required unless the token is platform-admin); or
 *                 a list of tenants; or an object of roles by tenant (`{"acme": ["editor"]}`)
 *   environments  optional array: the roles apply to these environments only
 *
 * Verified tokens are cached until they expire, so the hot read path pays for a Map lookup.
 */
import jwt from 'jsonwebtoken';
import { HttpProblem } from '../http/problem.js';
import { isStorableText } from '../../features/configs/config-values.js';
import type { KeyObject } from 'node:crypto';
import { OIDC_ALGORITHMS, OidcKeys, type OidcAlgorithm } from './oidc.js';
import {
  API_KEY_TOKEN_PREFIX,
  ROLES,
  userPrincipal,
  type Principal,
  type Role,
  type TenantGrant,
} from './principal.js';

export * from './principal.js';

export interface JwtSettings {
  secret: string;
  issuer: string;
  audience: string;
  /** An OpenID Connect provider whose RS256/ES256 tokens are accepted too (JWT__Authority). */
  authority?: string;
  /** Where the roles are (a claim name, or a dotted path such as `realm_access.roles`). */
  rolesClaim?: string;
  /** Where the tenants are: a tenant id, a list of them, or `{ tenantId: roles }`. */
  tenantsClaim?: string;
}

/** Checks API keys (`cfgk_…`): features/api-keys implements it. */
export interface ApiKeyVerifier {
  verify(credential: string): Principal | Promise<Principal>;
  /** Whether a key principal a connection remembered may still be used (and notes its use). */
  stillValid(principal: Principal): boolean;
  /** Calls `listener` with each key id revoked from now on (open watches end). */
  onRevoked(listener: (keyId: string) => void): void;
}

const unauthorized = (detail: string) =>
  new HttpProblem(401, 'Unauthorized', detail, { field: 'Authorization' });

const isOidcAlgorithm = (alg: unknown): alg is OidcAlgorithm =>
  (OIDC_ALGORITHMS as readonly unknown[]).includes(alg);

/**
 * Who is calling: `Authorization: Bearer <JWT>` (HS256 with JWT__Secret, or RS256/ES256 from the
 * JWT__Authority provider's JWKS) or an API key (`Authorization: Bearer cfgk_…` or
 * `X-API-Key: cfgk_…`). Answers at once when the credential is cached (the hot read path), else a
 * promise (a provider's key or an API key to look up). Throws or rejects with a 401 HttpProblem.
 */
export class Authenticator {
  private readonly cache = new Map<string, Principal>();
  private readonly oidc: OidcKeys | undefined;
  private readonly apiKeys: ApiKeyVerifier | undefined;
  private readonly maxCached: number;

  constructor(
    private readonly settings: JwtSettings,
    options: { apiKeys?: ApiKeyVerifier; oidc?: OidcKeys; maxCached?: number } = {},
  ) {
    this.apiKeys = options.apiKeys;
    this.oidc = options.oidc ?? (settings.authority ? new OidcKeys(settings.authority) : undefined);
    this.maxCached = options.maxCached ?? 10_000;
  }

  authenticate(
    header: string | undefined,
    apiKeyHeader?: string | string[],
  ): Principal | Promise<Principal> {
    if (apiKeyHeader !== undefined) {
      if (header !== undefined) {
        throw unauthorized('Send either an Authorization header or an X-API-Key header, not both');
      }
      if (typeof apiKeyHeader !== 'string') throw unauthorized('Send one X-API-Key header');
      return this.verifyApiKey(apiKeyHeader.trim());
    }
    if (!header || !header.startsWith('Bearer ')) {
      throw unauthorized('Send a bearer token in the Authorization header');
    }
    const token = header.slice(7).trim();
    if (token.startsWith(API_KEY_TOKEN_PREFIX)) return this.verifyApiKey(token);
    const now = Date.now();
    const cached = this.cache.get(token);
    if (cached) {
      if (cached.expiresAt > now) return cached;
      this.cache.delete(token);
    }
    if (this.oidc) {
      const alg = (jwt.decode(token, { complete: true })?.header as { alg?: unknown } | undefined)
        ?.alg;
      if (isOidcAlgorithm(alg)) return this.verifyOidc(token, alg, this.oidc);
    }
    return this.remember(
      token,
      this.verify(token, this.settings.secret, ['HS256'], this.settings.issuer),
    );
  }

  /** Whether a principal a connection remembered may still be used (revoked keys may not). */
  stillValid(principal: Principal): boolean {
    if (principal.expiresAt <= Date.now()) return false;
    return principal.kind !== 'api-key' || (this.apiKeys?.stillValid(principal) ?? false);
  }

  /** Calls `listener` with every API key id revoked from now on. */
  onApiKeyRevoked(listener: (keyId: string) => void): void {
    this.apiKeys?.onRevoked(listener);
  }

  private verifyApiKey(credential: string): Principal | Promise<Principal> {
    if (!this.apiKeys) throw unauthorized('API keys are not accepted here');
    return this.apiKeys.verify(credential);
  }

  private verifyOidc(
    token: string,
    alg: OidcAlgorithm,
    oidc: OidcKeys,
  ): Principal | Promise<Principal> {
    const kid = (jwt.decode(token, { complete: true })!.header as { kid?: string }).kid;
    const finish = (k: { key: KeyObject }) =>
      this.remember(token, this.verify(token, k.key, [alg], oidc.issuer));
    const key = oidc.key(kid, alg);
    return key instanceof Promise ? key.then(finish) : finish(key);
  }

  private verify(
    token: string,
    key: string | KeyObject,
    algorithms: jwt.Algorithm[],
    issuer: string,
  ): jwt.JwtPayload {
    try {
      return jwt.verify(token, key, {
        algorithms,
        issuer,
        audience: this.settings.audience,
      }) as jwt.JwtPayload;
    } catch (error) {
      const e = error as Error;
      throw unauthorized(
        e.name === 'TokenExpiredError' ? 'The token has expired' : `Invalid token: ${e.message}`,
      );
    }
  }

  private remember(token: string, claims: jwt.JwtPayload): Principal {
    const principal = toPrincipal(claims, this.settings);
    if (this.cache.size >= this.maxCached) {
      // Drop the oldest entry (Map keeps insertion order).
      this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(token, principal);
    return principal;
  }
}

/** A claim by name or dotted path (`realm_access.roles`). */
function claimAt(claims: jwt.JwtPayload, path: string): unknown {
  if (path in claims) return claims[path];
  let at: unknown = claims;
  for (const part of path.split('.')) {
    if (!at || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

const rolesOf = (raw: unknown): Set<Role> => {
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  return new Set(list.filter((r): r is Role => (ROLES as readonly string[]).includes(r)));
};

/**
 * The principal of verified claims. The roles claim lists roles; the tenants claim is a tenant id
 * or a list of them (the roles apply in each), or an object of roles by tenant id (a person with
 * different roles in several tenants). platform-admin counts only in the roles claim.
 */
export function toPrincipal(
  claims: jwt.JwtPayload,
  mapping: { rolesClaim?: string; tenantsClaim?: string } = {},
): Principal {
  if (typeof claims.sub !== 'string' || !claims.sub)
    throw unauthorized('The token has no sub claim');
  // The sub is recorded on every event and in changed_by/created_by (255 characters).
  if (
    Array.from(claims.sub).length > 255 ||
    /[\u0000-\u001f\u007f]/.test(claims.sub) ||
    !isStorableText(claims.sub)
  ) {
    throw unauthorized("The token's sub claim must be at most 255 printable characters");
  }
  const rolesClaim = mapping.rolesClaim ?? 'roles';
  const roles = rolesOf(
    claimAt(claims, rolesClaim) ?? (rolesClaim === 'roles' ? claims.role : undefined),
  );
  const platformAdmin = roles.has('platform-admin');
  roles.delete('platform-admin');
  // Absent: every environment. Anything present but unreadable is refused, never read as "all".
  const raw: unknown = claims.environments;
  let environments: string[] | null = null;
  if (typeof raw === 'string') environments = [raw];
  else if (Array.isArray(raw) && raw.every((e) => typeof e === 'string')) environments = raw;
  else if (raw !== undefined && raw !== null) {
    throw unauthorized("The token's environments claim must be a list of environment names");
  }
  const tenantsClaim = mapping.tenantsClaim ?? 'tenant_id';
  const rawTenants = claimAt(claims, tenantsClaim);
  const tenants = new Map<string, TenantGrant>();
  if (typeof rawTenants === 'string' && rawTenants) {
    tenants.set(rawTenants, { roles, environments });
  } else if (Array.isArray(rawTenants)) {
    for (const t of rawTenants)
      if (typeof t === 'string' && t) tenants.set(t, { roles, environments });
  } else if (rawTenants && typeof rawTenants === 'object') {
    for (const [t, r] of Object.entries(rawTenants)) {
      const inTenant = rolesOf(r);
      inTenant.delete('platform-admin');
      tenants.set(t, { roles: inTenant, environments });
    }
  }
  if (!platformAdmin && tenants.size === 0) {
    throw unauthorized(`The token has no ${tenantsClaim} claim`);
  }
  // A token that never expires cannot be taken back: refuse it (as ASP.NET's JwtBearer does).
  if (typeof claims.exp !== 'number') throw unauthorized('The token has no exp claim');
  const expiresAt = claims.exp * 1000;
  return userPrincipal({ userId: claims.sub, platformAdmin, tenants, expiresAt });
}

/** Signs a token (the `npm run token` script and tests). */
export function signToken(
  settings: JwtSettings,
  claims: { sub: string; roles: Role[]; tenant_id?: string; environments?: string[] },
  expiresIn: jwt.SignOptions['expiresIn'] = '12h',
): string {
  return jwt.sign(claims, settings.secret, {
    algorithm: 'HS256',
    issuer: settings.issuer,
    audience: settings.audience,
    expiresIn,
  });
}
