/** The hot read routes' request and answer schemas (hot-read.routes.ts declares the routes). */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { int } from '../../core/http/common.schemas.js';
import { CONFIG_TYPES } from '../configs/config-values.js';
import { MAX_WAIT_SECONDS } from './watch.js';

/** The limit hot reads count against (RateLimiting__ConfigGet). */
export const HOT_READ_LIMIT = 'configGet' as const;

const canarySide = z.strictObject({
  deploymentId: z.string(),
  side: z.enum(['canary', 'stable']),
});

export const environmentConfigs = named(
  'EnvironmentConfigs',
  z
    .strictObject({
      tenantId: z.string(),
      environment: z.string(),
      version: int.describe('changes whenever any key of the environment changes'),
      configs: z
        .record(z.string(), z.unknown())
        .describe('every key of the environment with its typed value'),
      versions: z
        .record(z.string(), int)
        .optional()
        .describe("each key's version (present when the environment has keys)"),
      deployments: z
        .record(z.string(), canarySide)
        .optional()
        .describe('keys with a canary running, and the side this client is on'),
    })
    .describe('The whole environment (ETag; If-None-Match answers 304)'),
);

export const configValue = named(
  'ConfigValue',
  z
    .strictObject({
      tenantId: z.string(),
      environment: z.string(),
      key: z.string(),
      value: z.unknown().describe('the typed value (string, number, boolean or JSON)'),
      type: z.enum(CONFIG_TYPES),
      version: int,
      configId: z.string(),
      updatedAt: z.string().nullable(),
      deployment: canarySide.optional().describe('present while a canary runs on the key'),
    })
    .describe('One key (ETag; If-None-Match answers 304)'),
);

export const hotReadQuery = z.object({
  wait: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_WAIT_SECONDS)
    .optional()
    .describe(
      'Long poll: with an If-None-Match that still matches, hold the request until the answer ' +
        'changes (200, or 404 when the key is deleted) or this many seconds pass (304)',
    ),
  clientId: z.string().optional().describe('The same as X-Client-Id'),
});

export const hotReadHeaders = z.object({
  'If-None-Match': z
    .string()
    .optional()
    .describe('An ETag from an earlier answer: unchanged data answers 304 without a body'),
  'X-Client-Id': z
    .string()
    .optional()
    .describe(
      'A stable id of the calling app instance (its first 200 characters): decides which side ' +
        'of a running canary it sees (also as ?clientId=)',
    ),
  'Last-Event-ID': z
    .string()
    .optional()
    .describe(
      'Event stream: the id (ETag) of the last snapshot received; an unchanged first snapshot ' +
        'is then not sent again',
    ),
});

/** Any text: a key that does not exist (whatever its form) answers 404. */
export const hotKey = z
  .string()
  .describe('The configuration key (may contain "/", sent as is or percent-encoded)')
  .meta({ examples: ['checkout.retry-policy'] });
