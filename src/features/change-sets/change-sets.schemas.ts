/** Request schemas of compare, promote and change sets. */
import { z } from 'zod';
import { paging } from '../../core/http/common.schemas.js';
import { named } from '../../core/http/route.js';
import { environment, tenantId } from '../tenants/tenants.schemas.js';
import { configKey } from '../configs/configs.schemas.js';
import { CHANGE_SET_SOURCES } from './change-set.decider.js';
import { CHANGE_SET_STATUSES } from './change-set.view.js';

export const changeSetId = z
  .string()
  .regex(/^cs_[a-f0-9]{32}$/, 'must be a change set id (cs_…)')
  .meta({ examples: ['cs_0123456789abcdef0123456789abcdef'] });

export const changeSetParams = z.object({ tenantId, changeSetId });

/** `a,b,c` in a query string: a list (each item checked). */
const commaList = (item: z.ZodString) =>
  z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).max(1000));

export const compareQuery = z.object({
  from: environment.describe('the environment compared from (e.g. Staging)'),
  to: environment
    .describe('the environment compared with (e.g. Production)')
    .meta({ examples: ['Production'] }),
  keys: commaList(configKey)
    .optional()
    .describe('only these keys (comma-separated)')
    .meta({ examples: ['checkout.retry-policy,checkout.timeout'] }),
  tags: commaList(z.string().min(1).max(100))
    .optional()
    .describe('only keys with any of these tags (comma-separated)'),
});

export const promoteBody = named(
  'PromoteBody',
  z
    .strictObject({
      from: environment,
      to: environment,
      keys: z
        .array(configKey)
        .min(1)
        .max(1000)
        .optional()
        .describe('the keys to promote; absent: every key that differs or is missing in `to`'),
      expectedVersions: z
        .record(configKey, z.number().int().min(0))
        .optional()
        .describe(
          "the target's versions you compared against (key → version, 0: absent); a key that " +
            'moved since refuses the whole promotion (409, stale, naming each key)',
        ),
      description: z.string().max(2000).nullable().optional(),
      dryRun: z.boolean().default(false).describe('plan and check only; nothing is written'),
    })
    .meta({ examples: [{ from: 'Staging', to: 'Production', dryRun: true }] }),
);

export const changeSetsQuery = z.object({
  status: z.enum(CHANGE_SET_STATUSES).optional(),
  environment: environment.optional(),
  source: z.enum(CHANGE_SET_SOURCES).optional(),
  ...paging,
});

export { reviewBody } from '../change-requests/change-requests.schemas.js';
