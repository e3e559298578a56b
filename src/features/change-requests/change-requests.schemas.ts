/** Change requests' request schemas. */
import { z } from 'zod';
import { idParams, instant } from '../../core/http/common.schemas.js';
import { CONFIG_TYPES } from '../configs/config-values.js';
import { configKey, tags, value } from '../configs/configs.schemas.js';
import { rolloutFields } from '../deployments/deployments.schemas.js';
import { environment, tenantId, tenantResourcesQuery } from '../tenants/tenants.schemas.js';
import { named } from '../../core/http/route.js';
import { CHANGE_ACTIONS } from './change-request.decider.js';
import { CHANGE_REQUEST_STATUSES } from './change-request.view.js';

export const changeRequestBody = named(
  'ChangeRequestBody',
  z
    .strictObject({
      configId: z.string().max(50).optional(),
      tenantId: tenantId.optional(),
      key: configKey.optional(),
      environment: environment.optional(),
      action: z
        .enum(CHANGE_ACTIONS)
        .optional()
        .describe('Update (default) proposes `value`; Delete proposes deleting the configuration'),
      type: z.enum(CONFIG_TYPES).optional(),
      value: value
        .optional()
        .describe('The proposed value; required for Update, absent for Delete'),
      description: z.string().max(2000).nullable().optional(),
      rollout: z.strictObject(rolloutFields).optional(),
      expiresInSeconds: z
        .number()
        .min(0)
        .max(365 * 86_400)
        .optional(),
      isSensitive: z.boolean().optional(),
      isEncrypted: z
        .boolean()
        .optional()
        .describe(
          'encrypt its values at rest (needs Encryption__MasterKey or Vault); always sensitive, and encrypted for life',
        ),
      tags: tags.optional(),
      applyAt: instant
        .optional()
        .describe(
          'carry it out at this time once approved (the scheduled-changes job does; cancel it ' +
            'until then). The request expires at applyAt at the latest: approved late, it is ' +
            'refused as expired, never applied outside its time. If the configuration changes ' +
            'before then, the scheduled change fails as stale.',
        ),
    })
    .refine((b) => b.configId || (b.tenantId && b.key && b.environment), {
      message: 'give configId, or tenantId, key and environment for a new configuration',
      path: ['configId'],
    })
    .superRefine((b, ctx) => {
      if (b.action !== 'Delete') {
        if (b.value === undefined) {
          ctx.addIssue({ code: 'custom', message: 'value is required', path: ['value'] });
        }
        return;
      }
      // A delete proposes no value and deploys nothing.
      for (const field of [
        'value',
        'type',
        'rollout',
        'isSensitive',
        'isEncrypted',
        'tags',
      ] as const) {
        if (b[field] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            message: `${field} does not apply to a Delete request`,
            path: [field],
          });
        }
      }
    })
    .meta({
      examples: [
        {
          configId: 'cfg_5f0c9a3e1b7d4c2a8e6f0b1d3c5a7e9f',
          value: { maxAttempts: 5 },
          description: 'more retries at checkout',
          rollout: { strategy: 'Canary', steps: [10, 50, 100], bakeTimeSeconds: 300 },
        },
      ],
    }),
);

export const reviewBody = named(
  'ReviewBody',
  z
    .strictObject({ comments: z.string().max(2000).nullable().optional() })
    .meta({ examples: [{ comments: 'looks good' }] }),
);

export const changeRequestParams = idParams(
  'approvalId',
  'The change request id',
  'apr_0b1d3c5a7e9f5f0c9a3e1b7d4c2a8e6f',
);

export const changeRequestsQuery = tenantResourcesQuery(CHANGE_REQUEST_STATUSES);
