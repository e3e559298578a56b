import { Router } from 'express';
import type { Services } from '../../composition.js';
import { authorize, isPlatformAdmin } from '../auth.js';
import { principalOf } from '../context.js';
import { HttpProblem, parseInput } from '../problem.js';
import { auditQuery } from '../schemas.js';

export function auditRoutes(s: Services): Router {
  const r = Router();
  r.get('/audit-logs', async (req, res) => {
    const q = parseInput(auditQuery, req.query);
    const principal = principalOf(res);
    if (!q.tenantId && !isPlatformAdmin(principal)) {
      throw new HttpProblem(400, 'Invalid request', 'tenantId is required', { field: 'tenantId' });
    }
    if (q.tenantId) authorize(principal, 'read', q.tenantId);
    await s.progress.waitIfAsked(req, ['audit-log']);
    res.json(
      await s.queries.auditLogs({
        ...q,
        from: q.from ? new Date(q.from) : undefined,
        // A token limited to some environments sees only their events.
        environments: isPlatformAdmin(principal) ? null : principal.environments,
        to: q.to ? new Date(q.to) : undefined,
      }),
    );
  });
  return r;
}
