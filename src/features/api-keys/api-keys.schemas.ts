/** API keys' request schemas. */
import { z } from 'zod';
import { instant, paging } from '../../core/http/common.schemas.js';
import { named } from '../../core/http/route.js';
import { API_KEY_SCOPES } from '../../core/auth/principal.js';
import { environment, tenantId } from '../tenants/tenants.schemas.js';

export const keyId = z
  .string()
  .regex(/^[0-9a-f]{16}$/, 'must be an API key id (16 hex characters)')
  .describe('The key id: the part after cfgk_ of its prefix')
  .meta({ examples: ['0123456789abcdef'] });

export const apiKeyParams = z.object({ tenantId, keyId });

export const apiKeyScopes = z
  .array(z.enum(API_KEY_SCOPES))
  .min(1)
  .max(API_KEY_SCOPES.length)
  .describe(
    'read: the hot read and watch routes; reveal: encrypted values in plain text; ' +
      'report-metrics: POST deployment metrics and acknowledgements',
  )
  .meta({ examples: [['read']] });

export const createApiKeyBody = named(
  'CreateApiKeyBody',
  z
    .strictObject({
      name: z.string().trim().min(1).max(100).describe('what the key is for (an app)'),
      scopes: apiKeyScopes,
      environments: z
        .array(environment)
        .min(1)
        .max(100)
        .nullable()
        .optional()
        .describe('the environments it may be used in; left out or null: all of the tenant'),
      expiresAt: instant
        .nullable()
        .optional()
        .describe('when it stops working (must be in the future); left out or null: never'),
    })
    .meta({
      examples: [
        {
          name: 'checkout-service',
          scopes: ['read', 'report-metrics'],
          environments: ['Production'],
        },
      ],
    }),
);

export const apiKeysQuery = z.object({
  ...paging,
  includeRevoked: z.enum(['true', 'false']).default('false').describe('list revoked keys too'),
});
