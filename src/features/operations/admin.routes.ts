/**
 * Platform-admin operations: projection status and rebuilds. A rebuild is a BullMQ job (run by
 * the worker, visible in /admin/queues); its progress is also at the status endpoint.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { named, ok, reply, route } from '../../core/http/route.js';
import { requirePlatformAdmin } from '../../core/auth/auth.js';
import { HttpProblem } from '../../core/http/problem.js';
import { REDIS_CACHE_PROJECTION } from '../live-read/redis-cache.projection.js';
import { BLAME_PROJECTION } from '../blame/blame.projection.js';
import { TENANT_HISTORY_PROJECTION } from '../time-travel/time-travel.projection.js';

export const PROJECTIONS = [
  'read-model',
  'audit-log',
  BLAME_PROJECTION,
  TENANT_HISTORY_PROJECTION,
  REDIS_CACHE_PROJECTION,
] as const;

const projectionStatus = named(
  'ProjectionStatus',
  z.strictObject({
    head: z.string().describe('position of the newest event'),
    projections: z.array(
      z.strictObject({
        name: z.string(),
        position: z.string(),
        behind: z.string(),
        checkpointAgeSeconds: z.number().nullable(),
      }),
    ),
  }),
);

const rebuildAccepted = named(
  'RebuildAccepted',
  z.strictObject({ jobId: z.string(), projection: z.string(), statusUrl: z.string() }),
);

const rebuildStatus = named(
  'RebuildStatus',
  z.strictObject({
    jobId: z.string(),
    projections: z.array(z.string()),
    state: z.string().describe('BullMQ job state: waiting, active, completed, failed…'),
    progress: z.unknown().describe('percent done'),
    result: z.unknown(),
    failedReason: z.string().nullable(),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
  }),
);

const getProjections = route({
  operationId: 'getProjections',
  method: 'get',
  path: '/api/v1/admin/projections',
  tag: 'Operations',
  summary: 'Projections, their checkpoints and lag',
  access: 'platform',
  responses: { 200: { description: 'Projection status', schema: projectionStatus } },
  errors: [403],
  async handle(_input, { s, principal }) {
    requirePlatformAdmin(principal);
    const head = await s.store.headPosition();
    const lag = await s.progress.lag(head);
    const projections = PROJECTIONS.map((name) => {
      const l = lag.find((x) => x.projection === name);
      return {
        name,
        position: (l?.position ?? 0n).toString(),
        behind: (l?.behind ?? head).toString(),
        checkpointAgeSeconds: l?.ageSeconds ?? null,
      };
    });
    return ok({ head: head.toString(), projections });
  },
});

const rebuildProjection = route({
  operationId: 'rebuildProjection',
  method: 'post',
  path: '/api/v1/admin/projections/:name/rebuild',
  tag: 'Operations',
  summary: 'Queue a rebuild from position zero while serving (name, or "all")',
  description:
    'The worker replays the log into shadow tables while the live ones keep answering, then ' +
    'switches in one transaction. Progress: the status URL, and /admin/queues.',
  access: 'platform',
  request: {
    params: z.object({
      name: z
        .string()
        .describe(`A projection (${PROJECTIONS.join(', ')}), or all of them: all (others: 404)`)
        .meta({ examples: ['read-model'] }),
    }),
  },
  responses: {
    202: { description: 'Queued', schema: rebuildAccepted, headers: ['Location'] },
  },
  errors: [403, 404],
  async handle({ params }, { queues, principal }) {
    requirePlatformAdmin(principal);
    const name = params.name;
    if (name !== 'all' && !(PROJECTIONS as readonly string[]).includes(name)) {
      const detail = `No projection '${name}' (known: ${PROJECTIONS.join(', ')}, all)`;
      throw new HttpProblem(404, 'Not found', detail, { field: 'name' });
    }
    const jobId = `rebuild-${name}-${randomUUID()}`;
    await queues.rebuild.add('rebuild', { projections: name === 'all' ? [] : [name] }, { jobId });
    const statusUrl = `/api/v1/admin/projections/rebuilds/${jobId}`;
    return reply(202, { jobId, projection: name, statusUrl }, { Location: statusUrl });
  },
});

const getRebuild = route({
  operationId: 'getRebuild',
  method: 'get',
  path: '/api/v1/admin/projections/rebuilds/:jobId',
  tag: 'Operations',
  summary: 'Progress of a rebuild job',
  access: 'platform',
  request: {
    params: z.object({
      jobId: z
        .string()
        .describe('The rebuild job id')
        .meta({ examples: ['rebuild-read-model-7c1e3f0a-5b2d-4e8f-9a6c-0d1b2c3e4f5a'] }),
    }),
  },
  responses: { 200: { description: 'The job', schema: rebuildStatus } },
  errors: [403, 404],
  async handle({ params }, { queues, principal }) {
    requirePlatformAdmin(principal);
    const job = await queues.rebuild.getJob(params.jobId);
    if (!job) {
      throw new HttpProblem(404, 'Not found', `No rebuild job '${params.jobId}'`, {
        field: 'jobId',
      });
    }
    return ok({
      jobId: job.id!,
      projections: job.data.projections.length ? job.data.projections : [...PROJECTIONS],
      state: await job.getState(),
      progress: job.progress,
      result: job.returnvalue ?? null,
      failedReason: job.failedReason ?? null,
      createdAt: new Date(job.timestamp).toISOString(),
      finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    });
  },
});

export const adminRoutes = [getProjections, rebuildProjection, getRebuild];
