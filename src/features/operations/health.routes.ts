/** Liveness, readiness and the Prometheus metrics: public, for the platform's probes. */
import { z } from 'zod';
import { ok, reply, route } from '../../core/http/route.js';
import { readiness } from './readiness.js';

const check = z.strictObject({
  status: z.enum(['Healthy', 'Unhealthy']),
  durationMs: z.number().optional(),
  error: z.string().optional(),
});

const liveness = {
  status: z
    .enum(['Alive', 'Dead', 'Missing', 'Unknown'])
    .describe('Dead: no heartbeat within ConfigService__HeartbeatTimeout; Missing: never reported'),
  heartbeatAgeSeconds: z.number().nullable(),
};

const readinessBody = z.strictObject({
  status: z
    .enum(['Healthy', 'Degraded', 'Unhealthy'])
    .describe(
      'Degraded (200): answering with less (Redis or the event store down, a worker or projection not alive); Unhealthy (503): PostgreSQL unreachable or its schema behind',
    ),
  degraded: z.array(z.string()).optional().describe('why it is degraded, one line each'),
  checks: z.strictObject({ postgres: check, schema: check, redis: check, eventStore: check }),
  worker: z.strictObject(liveness),
  projections: z
    .record(
      z.string(),
      z.strictObject({
        position: z.string().nullable(),
        behind: z.string().nullable(),
        ...liveness,
      }),
    )
    .describe('per projection: its checkpoint, how far behind, and whether it is alive'),
});

/** Liveness: the process answers. Dependencies are /health/ready's business. */
const getHealth = route({
  operationId: 'getHealth',
  method: 'get',
  path: '/health',
  tag: 'Operations',
  summary: 'Liveness: the process answers',
  access: 'public',
  responses: {
    200: { description: 'Alive', schema: z.strictObject({ status: z.literal('Healthy') }) },
  },
  errors: [],
  handle: () => ok({ status: 'Healthy' as const }),
});

/** Readiness: 200 Healthy or Degraded (still answering), 503 Unhealthy (see readiness.ts). */
const getReadiness = route({
  operationId: 'getReadiness',
  method: 'get',
  path: '/health/ready',
  tag: 'Operations',
  summary: 'Readiness: PostgreSQL and its schema, Redis, the event store, worker and projections',
  access: 'public',
  responses: {
    200: { description: 'Ready (Healthy or Degraded)', schema: readinessBody },
    503: { description: 'PostgreSQL is down or its schema is behind', schema: readinessBody },
  },
  errors: [],
  async handle(_input, { s }) {
    const body = await readiness(s);
    return body.status === 'Unhealthy' ? reply(503, body) : ok(body);
  },
});

const getMetrics = route({
  operationId: 'getMetrics',
  method: 'get',
  path: '/metrics',
  tag: 'Operations',
  summary: 'Prometheus metrics',
  access: 'public',
  responses: {
    200: {
      description: 'Metrics',
      schema: z.string().describe('Prometheus text exposition format'),
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
    },
  },
  errors: [],
  handle: async (_input, { s }) => ok(await s.metrics.registry.metrics()),
});

export const healthRoutes = [getHealth, getReadiness, getMetrics];
