/**
 * Who is signed in: the credential (kept in this tab's sessionStorage, sent as a bearer token) and
 * what the API said about it (`GET /api/v1/session`: roles per tenant, expiry). Roles only decide
 * what the console shows and enables; the API checks every call itself.
 */
import type { Schemas } from './api';

export type Role = Schemas['Session']['tenants'][number]['roles'][number];
export type Capability = 'read' | 'write' | 'approve' | 'admin' | 'platform';

export interface Session extends Omit<Schemas['Session'], 'expiresAt'> {
  token: string;
  /** ms since the epoch */
  expiresAt: number;
}

/** What each role may do (the API's table, mirrored to enable buttons). */
const GRANTS: Record<Role, readonly Capability[]> = {
  'platform-admin': ['read', 'write', 'approve', 'admin', 'platform'],
  'tenant-admin': ['read', 'write', 'admin'],
  editor: ['read', 'write'],
  approver: ['read', 'approve'],
  reader: ['read'],
};

export function can(
  s: Session | null,
  tenantId: string,
  capability: Capability,
  environment?: string,
): boolean {
  if (!s) return false;
  if (s.platformAdmin) return true;
  const grant = s.tenants.find((t) => t.tenantId === tenantId);
  if (!grant || !grant.roles.some((r) => GRANTS[r].includes(capability))) return false;
  return !environment || !grant.environments || grant.environments.includes(environment);
}

/** The environments the session may see in a tenant (null: all). */
export function environmentsOf(s: Session, tenantId: string): string[] | null {
  if (s.platformAdmin) return null;
  return s.tenants.find((t) => t.tenantId === tenantId)?.environments ?? null;
}

export const isPlatformAdmin = (s: Session | null) => !!s?.platformAdmin;

/** Roles to show next to the user's name. */
export function rolesOf(s: Session, tenantId: string | null): string[] {
  const roles: string[] = s.platformAdmin ? ['platform-admin'] : [];
  const grant = s.tenants.find((t) => t.tenantId === tenantId) ?? s.tenants[0];
  return [...roles, ...(grant?.roles ?? [])];
}

/** Where a session starts: the tenants page for platform admins, else its (first) tenant. */
export const homeOf = (s: Session) =>
  s.platformAdmin || s.tenants.length === 0
    ? '/tenants'
    : `/t/${encodeURIComponent(s.tenants[0]!.tenantId)}/configs`;

const KEY = 'config-service.console.session';

export function loadSession(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
    if (s && typeof s.token === 'string' && s.expiresAt > Date.now()) return s;
  } catch {
    // unreadable: sign in again
  }
  sessionStorage.removeItem(KEY);
  return null;
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
