/**
 * Replay endpoints: a configuration's recorded events, and a configuration or an environment as
 * it was at a time, a global position or a version. The only routes that read the event store
 * (src/queries/replay.ts); everything else answers from the read tables.
 */
import { Router, type Response } from 'express';
import type { Services } from '../../composition.js';
import { DomainError } from '../../domain/errors.js';
import type { Cut } from '../../queries/replay.js';
import { authorize, authorizeOrHide } from '../auth.js';
import { principalOf } from '../context.js';
import { HttpProblem, parseInput } from '../problem.js';
import {
  configEventsQuery,
  configReplayQuery,
  environment as environmentSchema,
  environmentReplayQuery,
  tenantId as tenantIdSchema,
} from '../schemas.js';

const notFound = (configId: string) =>
  new DomainError('not_found', `Configuration '${configId}' not found`, 'configId');

/** The cut a query names, and how the answer states it. */
function cutOf(q: { at?: string; position?: string; version?: number }): {
  cut: Cut;
  asOf: Record<string, string | number>;
  field: string | undefined;
} {
  if (q.at !== undefined) {
    const at = new Date(q.at);
    return { cut: { at }, asOf: { at: at.toISOString() }, field: 'at' };
  }
  if (q.position !== undefined) {
    return {
      cut: { position: BigInt(q.position) },
      asOf: { position: q.position },
      field: 'position',
    };
  }
  if (q.version !== undefined) {
    return { cut: { version: q.version }, asOf: { version: q.version }, field: 'version' };
  }
  return { cut: {}, asOf: {}, field: undefined };
}

export function replayRoutes(s: Services): Router {
  const r = Router();
  const reads = s.rateLimits.middleware('configGet');

  /** A config's stream, for a caller who may read the config; otherwise 404. */
  async function readableStream(res: Response, configId: string) {
    const stream = await s.replay.configStream(configId);
    if (!stream) throw notFound(configId);
    authorizeOrHide(principalOf(res), 'read', stream.state.tenantId, stream.state.environment, () =>
      notFound(configId),
    );
    return stream;
  }

  r.get('/configs/:configId/events', reads, async (req, res) => {
    const q = parseInput(configEventsQuery, req.query);
    const stream = await readableStream(res, String(req.params.configId));
    res.json(s.replay.events(stream, q.fromRevision, q.limit));
  });

  r.get('/configs/:configId/replay', reads, async (req, res) => {
    const q = parseInput(configReplayQuery, req.query);
    const configId = String(req.params.configId);
    const stream = await readableStream(res, configId);
    const { cut, asOf, field } = cutOf(q);
    if (q.version !== undefined && q.version > stream.state.version) {
      throw new HttpProblem(
        404,
        'Not found',
        `Configuration '${configId}' has no version ${q.version} (latest: ${stream.state.version})`,
        { field: 'version' },
      );
    }
    const found = s.replay.configAt(stream, cut);
    if (!found) {
      throw new HttpProblem(
        404,
        'Not found',
        `Configuration '${configId}' did not exist yet at that point`,
        { field },
      );
    }
    res.json({ asOf, ...found });
  });

  r.get('/tenants/:tenantId/environments/:environment/replay', reads, async (req, res) => {
    const tenantId = parseInput(tenantIdSchema, req.params.tenantId, 'tenantId');
    const environment = parseInput(environmentSchema, req.params.environment, 'environment');
    const q = parseInput(environmentReplayQuery, req.query);
    authorize(principalOf(res), 'read', tenantId, environment);
    const { cut, asOf, field } = cutOf(q);
    const found = await s.replay.environmentAt(tenantId, environment, cut);
    if (!found) {
      throw new DomainError('not_found', `Tenant '${tenantId}' not found`, 'tenantId');
    }
    if (found === 'not-yet') {
      throw new HttpProblem(
        404,
        'Not found',
        `Tenant '${tenantId}' did not exist yet at that point`,
        {
          field,
        },
      );
    }
    res.json({ asOf, ...found });
  });

  return r;
}
