/**
 * What the API shows of an API key: never its hash, and its secret only once, in the answer that
 * created it.
 */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import {
  page,
  position,
  recordedTime,
  recordedUser,
  timestamp,
} from '../../core/http/common.schemas.js';
import { iso } from '../../core/postgres/paging.js';
import { API_KEY_SCOPES } from '../../core/auth/principal.js';
import type { ApiKeyState } from './api-key.decider.js';
import { apiKeyPrefix } from './api-key-secret.js';

export const apiKey = named(
  'ApiKey',
  z.strictObject({
    keyId: z.string(),
    tenantId: z.string(),
    name: z.string(),
    prefix: z.string().describe('cfgk_<keyId>: how the key begins, to recognise it'),
    scopes: z.array(z.enum(API_KEY_SCOPES)),
    environments: z.array(z.string()).nullable().describe('null: every environment'),
    expiresAt: timestamp.nullable(),
    revoked: z.boolean(),
    createdBy: recordedUser,
    createdAt: recordedTime,
    revokedAt: recordedTime,
    lastUsedAt: timestamp
      .nullable()
      .describe('about when an app last used it (recorded at most once a minute per replica)'),
  }),
);
export type ApiKeyView = z.infer<typeof apiKey>;

export const apiKeyResult = named(
  'ApiKeyResult',
  apiKey.extend({ position }).describe('The key after the command, and the event position'),
);

export const apiKeyWithSecret = named(
  'ApiKeyWithSecret',
  apiKey
    .extend({
      secret: z
        .string()
        .describe(
          'cfgk_<keyId>_<secret>: send it as `Authorization: Bearer …` or `X-API-Key`. ' +
            'Shown only in this answer; only its hash is kept',
        ),
      position,
    })
    .describe('The key and its secret, shown once'),
);

export const apiKeyPage = named('ApiKeyPage', page(apiKey, "a tenant's API keys"));

/* eslint-disable @typescript-eslint/no-explicit-any */
export const apiKeyOfRow = (r: any): ApiKeyView => ({
  keyId: r.key_id,
  tenantId: r.tenant_id,
  name: r.name,
  prefix: apiKeyPrefix(r.key_id),
  scopes: r.scopes,
  environments: r.environments,
  expiresAt: iso(r.expires_at),
  revoked: r.revoked_at !== null,
  createdBy: r.created_by,
  createdAt: iso(r.created_at),
  revokedAt: iso(r.revoked_at),
  lastUsedAt: iso(r.last_used_at),
});
/* eslint-enable @typescript-eslint/no-explicit-any */

export function apiKeyOfState(state: ApiKeyState): ApiKeyView {
  if (!state.exists) throw new Error('a command answered with no API key');
  return {
    keyId: state.keyId,
    tenantId: state.tenantId,
    name: state.name,
    prefix: apiKeyPrefix(state.keyId),
    scopes: state.scopes,
    environments: state.environments,
    expiresAt: state.expiresAt,
    revoked: state.revoked,
    createdBy: null,
    createdAt: null,
    revokedAt: null,
    lastUsedAt: null,
  };
}
