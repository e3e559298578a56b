/** Request schemas of the environment routes. */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { NAME_PATTERN, environment, tenantId } from '../tenants/tenants.schemas.js';

const name = z
  .string()
  .regex(NAME_PATTERN, 'must be 1-50 letters, digits, - or _')
  .describe('The environment name, as it will be shown (matched without regard to case)');

export const environmentParams = z.object({ tenantId, environment });

export const declareEnvironmentBody = named(
  'DeclareEnvironmentBody',
  z.strictObject({ name }).meta({ examples: [{ name: 'QA' }] }),
);

export const renameEnvironmentBody = named(
  'RenameEnvironmentBody',
  z.strictObject({ name }).meta({ examples: [{ name: 'PreProduction' }] }),
);
