/**
 * Bearer JWTs signed with JWT__Secret (HS256 only: `alg: none` and every other algorithm are
 * refused), checked for issuer, audience and expiry.
 *
 * Claims:
 *   sub           user id (required)
 *   roles         array of: platform-admin | tenant-admin | editor | approver | reader
 *   tenant_id     the tenant the roles apply to (required unless the token is platform-admin)
 *   environments  optional array: the roles apply to these environments only
 *
 * Verified tokens are cached until they expire, so the hot read path pays for a Map lookup.
 */
import jwt from 'jsonwebtoken';
import { HttpProblem } from './problem.js';
import { isStorableText } from '../domain/values.js';

export const ROLES = ['platform-admin', 'tenant-admin', 'editor', 'approver', 'reader'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  userId: string;
  roles: Set<Role>;
  tenantId: string | null;
  environments: string[] | null;
  expiresAt: number;
}

export interface JwtSettings {
  secret: string;
  issuer: string;
  audience: string;
}

/** What each role may do; tenant-admin includes editing and reading. */
const GRANTS: Record<Role, ReadonlySet<Capability>> = {
  'platform-admin': new Set(['read', 'write', 'approve', 'admin', 'platform']),
  'tenant-admin': new Set(['read', 'write', 'admin']),
  editor: new Set(['read', 'write']),
  approver: new Set(['read', 'approve']),
  reader: new Set(['read']),
};
export type Capability = 'read' | 'write' | 'approve' | 'admin' | 'platform';

const unauthorized = (detail: string) =>
  new HttpProblem(401, 'Unauthorized', detail, { field: 'Authorization' });

export class Authenticator {
  private readonly cache = new Map<string, Principal>();

  constructor(
    private readonly settings: JwtSettings,
    private readonly maxCached = 10_000,
  ) {}

  /** Verifies `Authorization: Bearer …`; throws a 401 HttpProblem. */
  authenticate(header: string | undefined): Principal {
    if (!header || !header.startsWith('Bearer ')) {
      throw unauthorized('Send a bearer token in the Authorization header');
    }
    const token = header.slice(7).trim();
    const now = Date.now();
    const cached = this.cache.get(token);
    if (cached) {
      if (cached.expiresAt > now) return cached;
      this.cache.delete(token);
    }
    let claims: jwt.JwtPayload;
    try {
      claims = jwt.verify(token, this.settings.secret, {
        algorithms: ['HS256'],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
      }) as jwt.JwtPayload;
    } catch (error) {
      const e = error as Error;
      throw unauthorized(
        e.name === 'TokenExpiredError' ? 'The token has expired' : `Invalid token: ${e.message}`,
      );
    }
    const principal = toPrincipal(claims);
    if (this.cache.size >= this.maxCached) {
      // Drop the oldest entry (Map keeps insertion order).
      this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(token, principal);
    return principal;
  }
}

function toPrincipal(claims: jwt.JwtPayload): Principal {
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
  const rawRoles: unknown = claims.roles ?? claims.role;
  const list = Array.isArray(rawRoles) ? rawRoles : typeof rawRoles === 'string' ? [rawRoles] : [];
  const roles = new Set(list.filter((r): r is Role => (ROLES as readonly string[]).includes(r)));
  const tenantId = typeof claims.tenant_id === 'string' ? claims.tenant_id : null;
  if (!roles.has('platform-admin') && !tenantId) {
    throw unauthorized('The token has no tenant_id claim');
  }
  // Absent: every environment. Anything present but unreadable is refused, never read as "all".
  const raw: unknown = claims.environments;
  let environments: string[] | null = null;
  if (typeof raw === 'string') environments = [raw];
  else if (Array.isArray(raw) && raw.every((e) => typeof e === 'string')) environments = raw;
  else if (raw !== undefined && raw !== null) {
    throw unauthorized("The token's environments claim must be a list of environment names");
  }
  // A token that never expires cannot be taken back: refuse it (as ASP.NET's JwtBearer does).
  if (typeof claims.exp !== 'number') throw unauthorized('The token has no exp claim');
  const expiresAt = claims.exp * 1000;
  return { userId: claims.sub, roles, tenantId, environments, expiresAt };
}

export function can(p: Principal, capability: Capability): boolean {
  for (const role of p.roles) if (GRANTS[role].has(capability)) return true;
  return false;
}

export const isPlatformAdmin = (p: Principal) => p.roles.has('platform-admin');

/**
 * Checks that the principal may act on `tenantId` (and `environment`, if its token is limited).
 * Another tenant's resources answer 404, so tokens cannot probe which tenants exist.
 */
export function authorize(
  p: Principal,
  capability: Capability,
  tenantId: string,
  environment?: string,
): void {
  if (isPlatformAdmin(p)) return;
  if (p.tenantId !== tenantId) {
    throw new HttpProblem(404, 'Not found', `Tenant '${tenantId}' not found`, {
      field: 'tenantId',
    });
  }
  if (!can(p, capability)) {
    throw new HttpProblem(
      403,
      'Forbidden',
      `Your roles do not allow '${capability}' on this tenant`,
      { field: 'Authorization' },
    );
  }
  if (environment !== undefined && p.environments && !p.environments.includes(environment)) {
    throw new HttpProblem(
      403,
      'Forbidden',
      `Your token is not valid for environment '${environment}'`,
      {
        field: 'environment',
      },
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
  if (!isPlatformAdmin(p))
    throw new HttpProblem(403, 'Forbidden', 'Only platform admins may do this', {
      field: 'Authorization',
    });
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
