/** Replay: the queries (a config or an environment as it was) and the answers. */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { int } from '../../core/http/common.schemas.js';
import { CONFIG_TYPES } from '../configs/config-values.js';

/** A config's recorded events, by stream revision. */
export const configEventsQuery = z.object({
  fromRevision: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const cutFields = {
  at: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('a time (ISO 8601): the state after every change decided up to then')
    .meta({ examples: ['2025-01-31T12:00:00Z'] }),
  position: z
    .string()
    .regex(/^\d{1,19}$/, 'must be an event position (digits)')
    .optional()
    .describe("a global event position (a command answer's position)"),
};

const oneCut = (b: Record<string, unknown>) =>
  Object.values(b).filter((v) => v !== undefined).length <= 1;

// A fresh params object per use: zod writes into the one it is given.
const oneCutOf = (names: string) => ({ message: `give at most one of ${names}`, path: ['at'] });

/** A config as it was: at a time, a position or a version (none: now). */
export const configReplayQuery = z
  .strictObject({
    ...cutFields,
    version: z.coerce.number().int().min(1).optional().describe('a version of the config'),
  })
  .refine(oneCut, oneCutOf('at, position and version'));

/** An environment as it was: at a time or a position (none: now). */
export const environmentReplayQuery = z
  .strictObject(cutFields)
  .refine(oneCut, oneCutOf('at and position'));

// ---- answers ----

const asOf = z
  .strictObject({ at: z.string(), position: z.string(), version: int })
  .partial()
  .describe('the point asked for (empty: now)');

export const configurationEventPage = named(
  'ConfigurationEventPage',
  z
    .strictObject({
      configId: z.string(),
      items: z.array(
        z.strictObject({
          revision: int.describe("position in the configuration's own stream"),
          position: z.string().describe('position in the global log'),
          type: z.string(),
          data: z.record(z.string(), z.unknown()).describe("the event's data (values masked)"),
          metadata: z.record(z.string(), z.unknown()).describe('who, where, when, correlation'),
        }),
      ),
      nextRevision: int.nullable().describe('fromRevision of the next page'),
      total: int,
    })
    .describe("A page of a configuration's events"),
);

export const configurationAsOf = named(
  'ConfigurationAsOf',
  z.strictObject({
    asOf,
    configId: z.string(),
    tenantId: z.string(),
    key: z.string(),
    environment: z.string(),
    type: z.enum(CONFIG_TYPES),
    version: int,
    value: z.string().describe('masked when the configuration is or ever was sensitive'),
    deleted: z.boolean(),
    description: z.string().nullable(),
    tags: z.array(z.string()),
    isSensitive: z.boolean(),
    deploymentId: z.string().nullable().describe('a deployment holding it then'),
    lastEvent: z.strictObject({
      type: z.string(),
      revision: int,
      position: z.string(),
      timestamp: z.string().nullable(),
      userId: z.string().nullable(),
    }),
  }),
);

export const environmentAsOf = named(
  'EnvironmentAsOf',
  z.strictObject({
    asOf,
    tenantId: z.string(),
    environment: z.string(),
    position: z.string().describe('the newest event included'),
    configs: z.record(z.string(), z.unknown()).describe('key → typed value (secrets masked)'),
    versions: z.record(z.string(), int),
  }),
);
