/**
 * `GET /api/v1/session`: the caller as the API sees it (user, platform admin or not, roles per
 * tenant and the environments they are limited to, expiry). The console asks it after signing in
 * instead of reading the token itself, so that whatever credential the API accepts — its own
 * tokens, a provider's with other claim names — shows the same roles the API will enforce.
 */
import { z } from 'zod';
import { named, ok, route } from '../../core/http/route.js';
import { API_KEY_SCOPES, ROLES, type Principal } from '../../core/auth/auth.js';

export const session = named(
  'Session',
  z.strictObject({
    userId: z.string(),
    kind: z.enum(['user', 'api-key']),
    platformAdmin: z.boolean(),
    tenants: z
      .array(
        z.strictObject({
          tenantId: z.string(),
          roles: z.array(z.enum(ROLES)),
          environments: z
            .array(z.string())
            .nullable()
            .describe('the environments the roles are limited to; null: all'),
        }),
      )
      .describe('roles per tenant (a platform admin may act on every tenant besides)'),
    scopes: z
      .array(z.enum(API_KEY_SCOPES))
      .nullable()
      .describe("an API key's scopes (it has no roles); null for people"),
    expiresAt: z
      .string()
      .meta({ format: 'date-time' })
      .nullable()
      .describe('when the credential expires; null: it does not'),
  }),
);

/** The principal's view. */
export function sessionOf(p: Principal): z.infer<typeof session> {
  return {
    userId: p.userId,
    kind: p.kind,
    platformAdmin: p.platformAdmin,
    tenants: [...p.tenants].map(([tenantId, grant]) => ({
      tenantId,
      roles: [...grant.roles],
      environments: grant.environments,
    })),
    scopes: p.scopes ? [...p.scopes] : null,
    expiresAt: Number.isFinite(p.expiresAt) ? new Date(p.expiresAt).toISOString() : null,
  };
}

const getSession = route({
  operationId: 'getSession',
  method: 'get',
  path: '/api/v1/session',
  tag: 'Session',
  summary: 'Who the caller is: user, roles per tenant, expiry',
  description: 'Any valid credential. The web console reads it after signing in.',
  access: 'read',
  responses: { 200: { description: 'The caller', schema: session } },
  errors: [],
  handle(_input, { principal }) {
    return ok(sessionOf(principal));
  },
});

export const sessionRoutes = [getSession];
