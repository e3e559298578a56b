/** Future preview's request schemas. */
import { z } from 'zod';
import { instant } from '../../core/http/common.schemas.js';

export const previewQuery = z.object({
  at: instant
    .refine((t) => Date.parse(t) > Date.now(), {
      message: 'must be in the future (for the past, read /replay or /as-of)',
    })
    .describe('the future time to preview the environment at')
    .meta({ examples: ['2099-01-01T09:00:00Z'] }),
});
