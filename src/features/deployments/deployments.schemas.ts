/** Deployments' request schemas. */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { idParams } from '../../core/http/common.schemas.js';
import { tenantResourcesQuery } from '../tenants/tenants.schemas.js';
import { value } from '../configs/configs.schemas.js';
import { DEPLOYMENT_STATUSES } from './deployment.view.js';

/** How a value rolls out: Direct (one step) or Canary with its steps. */
export const rolloutFields = {
  strategy: z.enum(['Direct', 'Canary']).default('Direct'),
  steps: z.array(z.number().int().min(1).max(100)).min(2).max(20).optional(),
  bakeTimeSeconds: z
    .number()
    .min(0)
    .max(7 * 86_400)
    .optional(),
  errorThreshold: z.number().min(0).max(1).optional(),
  minRequests: z.number().int().min(0).max(1_000_000_000).optional(),
  minAppliedInstances: z
    .number()
    .int()
    .min(0)
    .max(1_000_000)
    .optional()
    .describe(
      'Canary: live instances on the canary side that must report the value applied before a ' +
        'step counts as done (default 0: the bake time alone, as for apps that never report)',
    ),
};

export const deploymentBody = named(
  'DeploymentBody',
  z
    .strictObject({
      configId: z.string().min(1).max(50),
      value,
      expectedVersion: z.number().int().min(1).optional(),
      ...rolloutFields,
    })
    .meta({
      examples: [
        {
          configId: 'cfg_5f0c9a3e1b7d4c2a8e6f0b1d3c5a7e9f',
          value: { maxAttempts: 5 },
          strategy: 'Canary',
          steps: [10, 50, 100],
          bakeTimeSeconds: 300,
          errorThreshold: 0.05,
          minRequests: 100,
        },
      ],
    }),
);

export const metricsBody = named(
  'MetricsBody',
  z
    .strictObject({
      requests: z.number().int().min(0).max(1_000_000_000),
      errors: z.number().int().min(0).max(1_000_000_000),
      side: z.enum(['canary', 'stable']).default('canary'),
    })
    .meta({ examples: [{ requests: 120, errors: 2, side: 'canary' }] }),
);

export const rollbackDeploymentBody = named(
  'RollbackDeploymentBody',
  z
    .strictObject({ reason: z.string().trim().min(1).max(2000) })
    .meta({ examples: [{ reason: 'error rate up after the change' }] }),
);

export const deploymentParams = idParams(
  'deploymentId',
  'The deployment id',
  'dep_9a3e1b7d4c2a8e6f0b1d3c5a7e9f5f0c',
);

export const deploymentsQuery = tenantResourcesQuery(DEPLOYMENT_STATUSES);
