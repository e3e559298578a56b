/** Acknowledgement reports' request schemas. */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { environment, tenantId } from '../tenants/tenants.schemas.js';

export const acknowledgementParams = z.object({ tenantId, environment });

const acknowledgement = z
  .strictObject({
    key: z.string().min(1).max(255),
    version: z.number().int().min(0).describe("the key's version as received (`versions`)"),
    status: z.enum(['applied', 'rejected']),
    reason: z.string().max(2000).optional().describe('why it was rejected'),
    deploymentId: z
      .string()
      .min(1)
      .max(50)
      .optional()
      .describe('the running canary the value came with (`deployments`), if any'),
    side: z.enum(['canary', 'stable']).optional().describe("this instance's side of that canary"),
  })
  .superRefine((a, ctx) => {
    if ((a.deploymentId === undefined) !== (a.side === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'deploymentId and side go together',
        path: [a.side === undefined ? 'side' : 'deploymentId'],
      });
    }
    if (a.status === 'applied' && a.reason !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'only a rejection has a reason', path: ['reason'] });
    }
  });

export const acknowledgementReport = named(
  'AcknowledgementReport',
  z
    .strictObject({
      instanceId: z
        .string()
        .trim()
        .min(1)
        .max(200)
        .describe('a stable id of the app instance (its client id where it has one)'),
      acknowledgements: z
        .array(acknowledgement)
        .max(1000)
        .default([])
        .describe('values applied or rejected since the last report; none: a heartbeat'),
    })
    .meta({
      examples: [
        {
          instanceId: 'checkout-7d9f-x2k4',
          acknowledgements: [
            { key: 'checkout.retry-policy', version: 4, status: 'applied' },
            {
              key: 'checkout.timeout',
              version: 2,
              status: 'rejected',
              reason: 'must be below 60',
              deploymentId: 'dep_9a3e1b7d4c2a8e6f0b1d3c5a7e9f5f0c',
              side: 'canary',
            },
          ],
        },
      ],
    }),
);
