/** Time travel's request schemas. */
import { z } from 'zod';
import { instant } from '../../core/http/common.schemas.js';
import { named } from '../../core/http/route.js';

const digits = /^\d{1,19}$/;

/** A point in a tenant's history: a time (ISO 8601) or a global event position. */
export const point = z.string().refine((v) => digits.test(v) || instant.safeParse(v).success, {
  message: 'must be an ISO-8601 time or an event position (digits)',
});

export const asOfQuery = z
  .object({
    at: instant
      .optional()
      .describe("a time: the tenant's changes decided at or before then")
      .meta({ examples: ['2026-12-01T12:00:00Z'] }),
    position: z
      .string()
      .regex(digits, 'must be an event position (digits)')
      .optional()
      .describe("a global event position (a command answer's position)"),
  })
  .refine((q) => !(q.at !== undefined && q.position !== undefined), {
    message: 'give at most one of at and position',
    path: ['at'],
  });

export const diffQuery = z.object({
  from: point.describe('a time or a position').meta({ examples: ['2026-12-01T12:00:00Z'] }),
  to: point
    .optional()
    .describe('a time or a position (none: now)')
    .meta({ examples: ['2026-12-02T12:00:00Z'] }),
});

export const restoreBody = named(
  'RestoreEnvironmentBody',
  z
    .strictObject({
      at: instant.optional().describe('restore to the environment as of this time'),
      position: z
        .string()
        .regex(digits, 'must be an event position (digits)')
        .optional()
        .describe('restore to the environment as of this position'),
      description: z.string().max(1000).optional(),
    })
    .refine((b) => (b.at === undefined) !== (b.position === undefined), {
      message: 'give exactly one of at and position',
      path: ['at'],
    })
    .meta({ examples: [{ at: '2026-12-01T12:00:00Z', description: 'undo the bad release' }] }),
);
