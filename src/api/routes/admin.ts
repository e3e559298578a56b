/**
 * Platform-admin operations: projection status and rebuilds. A rebuild is a BullMQ job (run by
 * the worker, visible in /admin/queues); its progress is also at the status endpoint.
 */
import { Router } from 'express';
import { randomUUID } from 'node:crypto';
import type { Services } from '../../composition.js';
import type { Queues } from '../../jobs/queues.js';
import { requirePlatformAdmin } from '../auth.js';
import { principalOf } from '../context.js';
import { HttpProblem } from '../problem.js';
import { REDIS_CACHE_PROJECTION } from '../../../projections/redis-cache.js';

export const PROJECTIONS = ['read-model', 'audit-log', REDIS_CACHE_PROJECTION] as const;

export function adminRoutes(s: Services, queues: Queues): Router {
  const r = Router();
  r.use('/admin', (_req, res, next) => {
    requirePlatformAdmin(principalOf(res));
    next();
  });

  r.get('/admin/projections', async (_req, res) => {
    const head = await s.store.headPosition();
    const lag = await s.progress.lag(head);
    res.json({
      head: head.toString(),
      projections: PROJECTIONS.map((name) => {
        const l = lag.find((x) => x.projection === name);
        return {
          name,
          position: (l?.position ?? 0n).toString(),
          behind: (l?.behind ?? head).toString(),
          checkpointAgeSeconds: l?.ageSeconds ?? null,
        };
      }),
    });
  });

  r.post('/admin/projections/:name/rebuild', async (req, res) => {
    const name = String(req.params.name);
    if (name !== 'all' && !(PROJECTIONS as readonly string[]).includes(name)) {
      throw new HttpProblem(
        404,
        'Not found',
        `No projection '${name}' (known: ${PROJECTIONS.join(', ')}, all)`,
        {
          field: 'name',
        },
      );
    }
    const jobId = `rebuild-${name}-${randomUUID()}`;
    await queues.rebuild.add('rebuild', { projections: name === 'all' ? [] : [name] }, { jobId });
    const statusUrl = `/api/v1/admin/projections/rebuilds/${jobId}`;
    res.status(202).setHeader('Location', statusUrl).json({ jobId, projection: name, statusUrl });
  });

  r.get('/admin/projections/rebuilds/:jobId', async (req, res) => {
    const job = await queues.rebuild.getJob(String(req.params.jobId));
    if (!job) {
      throw new HttpProblem(404, 'Not found', `No rebuild job '${req.params.jobId}'`, {
        field: 'jobId',
      });
    }
    res.json({
      jobId: job.id,
      projections: job.data.projections.length ? job.data.projections : [...PROJECTIONS],
      state: await job.getState(),
      progress: job.progress,
      result: job.returnvalue ?? null,
      failedReason: job.failedReason ?? null,
      createdAt: new Date(job.timestamp).toISOString(),
      finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    });
  });

  return r;
}
