/** Blame's request schemas. */
import { z } from 'zod';
import { configKey } from '../configs/configs.schemas.js';

export const blameQuery = z.object({
  version: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .describe('a version of the configuration (none: the version served now)')
    .meta({ examples: [2] }),
});

export const keyBlameQuery = blameQuery.extend({ key: configKey });
