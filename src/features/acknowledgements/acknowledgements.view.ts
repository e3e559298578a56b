/**
 * What the API shows of acknowledgements: a report's answer, the instances running a
 * configuration, per-side counts of a deployment and the instances that acknowledged a version.
 */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { int, timestamp } from '../../core/http/common.schemas.js';

export const acknowledgementResult = named(
  'AcknowledgementResult',
  z.strictObject({
    recorded: int.describe('acknowledgements recorded (one per key)'),
    resend: z
      .boolean()
      .describe(
        'the service had no live record of this instance (new, or silent too long): report ' +
          'every value it runs again',
      ),
    heartbeatSeconds: z
      .number()
      .describe('report at least this often (an empty report will do) to keep counting'),
  }),
);

const counts = z.strictObject({ applied: int, rejected: int });

export const sideAcknowledgements = z
  .strictObject({ canary: counts, stable: counts })
  .describe(
    "instances per side by their newest report of this deployment's values: while it runs, " +
      'the live ones (what its steps count); once finished, every one that reported',
  );

export type SideAcknowledgementsView = z.infer<typeof sideAcknowledgements>;

export const zeroSideAcknowledgements = (): SideAcknowledgementsView => ({
  canary: { applied: 0, rejected: 0 },
  stable: { applied: 0, rejected: 0 },
});

const runningInstance = z.strictObject({
  instanceId: z.string(),
  version: int,
  deploymentId: z.string().nullable().describe('set when it runs a value of a canary'),
  side: z.enum(['canary', 'stable']).nullable(),
  status: z.enum(['applied', 'rejected']),
  reason: z.string().nullable(),
  acknowledgedAt: timestamp,
  lastSeenAt: timestamp,
});

export const configInstances = named(
  'ConfigInstances',
  z.strictObject({
    configId: z.string(),
    tenantId: z.string(),
    environment: z.string(),
    key: z.string(),
    instanceTtlSeconds: z.number().describe('instances silent longer than this are not listed'),
    instances: z.array(runningInstance).describe('each live instance by its newest report'),
  }),
);

export const versionAcknowledgements = z
  .strictObject({
    applied: int,
    rejected: int,
    instances: z.array(
      z.strictObject({
        instanceId: z.string(),
        status: z.enum(['applied', 'rejected']),
        reason: z.string().nullable(),
        side: z
          .enum(['canary', 'stable'])
          .nullable()
          .describe('canary: it ran the value while its deployment was a canary'),
        acknowledgedAt: timestamp.describe('when the instance reported it'),
        lastSeenAt: timestamp.nullable(),
        live: z.boolean().describe('the instance still reports'),
      }),
    ),
  })
  .describe(
    'the app instances that reported this value, each by its newest report of it (newest first, ' +
      'at most 1000)',
  );

export type VersionAcknowledgements = z.infer<typeof versionAcknowledgements>;
