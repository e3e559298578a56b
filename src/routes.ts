/**
 * Every route of the API, each declared once in its feature's *.routes.ts, in the order of the
 * OpenAPI document. Express mounts those with a handler; the hot read routes are answered before
 * Express (features/live-read/hot-read.handler.ts) and listed for the document and the checks.
 */
import type { AnyRoute } from './core/http/route.js';
import { tenantRoutes } from './features/tenants/tenants.routes.js';
import { configRoutes } from './features/configs/configs.routes.js';
import { hotReadRoutes } from './features/live-read/hot-read.routes.js';
import { auditRoutes } from './features/audit/audit.routes.js';
import { configSchemaRoutes } from './features/config-schemas/config-schemas.routes.js';
import { replayRoutes } from './features/replay/replay.routes.js';
import { changeRequestRoutes } from './features/change-requests/change-requests.routes.js';
import { deploymentRoutes } from './features/deployments/deployments.routes.js';
import { healthRoutes } from './features/operations/health.routes.js';
import { adminRoutes } from './features/operations/admin.routes.js';
import { webhookRoutes } from './features/webhooks/webhooks.routes.js';
import { changeSetRoutes } from './features/change-sets/change-sets.routes.js';
import { importExportRoutes } from './features/import-export/import-export.routes.js';
import { scheduledChangeRoutes } from './features/scheduled-changes/scheduled-changes.routes.js';
import { environmentRoutes } from './features/environments/environments.routes.js';
import { apiKeyRoutes } from './features/api-keys/api-keys.routes.js';
import { blameRoutes } from './features/blame/blame.routes.js';
import { timeTravelRoutes } from './features/time-travel/time-travel.routes.js';
import { futurePreviewRoutes } from './features/future-preview/future-preview.routes.js';
import { sessionRoutes } from './features/console/session.routes.js';
import { acknowledgementRoutes } from './features/acknowledgements/acknowledgements.routes.js';

export const API_ROUTES: readonly AnyRoute[] = [
  ...tenantRoutes,
  ...environmentRoutes,
  ...configRoutes,
  ...scheduledChangeRoutes,
  ...hotReadRoutes,
  ...auditRoutes,
  ...configSchemaRoutes,
  ...replayRoutes,
  ...blameRoutes,
  ...timeTravelRoutes,
  ...futurePreviewRoutes,
  ...changeRequestRoutes,
  ...deploymentRoutes,
  ...acknowledgementRoutes,
  ...webhookRoutes,
  ...changeSetRoutes,
  ...importExportRoutes,
  ...apiKeyRoutes,
  ...healthRoutes,
  ...adminRoutes,
  ...sessionRoutes,
];
