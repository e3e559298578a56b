import { Router, type Request, type Response } from 'express';
import type { Services } from '../../composition.js';
import type { ConfigurationState } from '../../domain/configuration.js';
import { authorize, authorizeOrHide, isPlatformAdmin, type Principal } from '../auth.js';
import { commandContext, expectedVersionOf, principalOf, sendCommandResult } from '../context.js';
import { HttpProblem, parseInput } from '../problem.js';
import { DomainError } from '../../domain/errors.js';
import {
  createConfigBody,
  listConfigsQuery,
  rollbackBody,
  updateConfigBody,
  versionParam,
  versionsQuery,
} from '../schemas.js';

function configBody(state: ConfigurationState) {
  if (!state.exists) return {};
  const { values: _values, exists: _exists, ...rest } = state;
  return rest;
}

const etagOf = (state: ConfigurationState) => (state.exists ? `"${state.version}"` : undefined);

// The same shape as the domain's own not_found, so another tenant's config is indistinguishable
// from one that does not exist.
const notFound = (configId: string) =>
  new DomainError('not_found', `Configuration '${configId}' not found`, 'configId');

/** Authorisation against the config's own tenant and environment, once its state is loaded. */
const guard =
  (principal: Principal, capability: 'read' | 'write') =>
  (tenantId: string, environment: string, configId: string) =>
    authorizeOrHide(principal, capability, tenantId, environment, () => notFound(configId));

export function configRoutes(s: Services): Router {
  const r = Router();

  const waitIfAsked = (req: Request) => s.progress.waitIfAsked(req);

  /** Loads a config row the caller may read, or answers 404. */
  async function readableConfig(req: Request, res: Response, configId: string) {
    await waitIfAsked(req);
    const row = await s.queries.configRow(configId);
    if (!row) throw notFound(configId);
    authorizeOrHide(principalOf(res), 'read', row.tenantId, row.environment, () =>
      notFound(configId),
    );
    return row;
  }

  const reads = s.rateLimits.middleware('configGet');
  const writes = s.rateLimits.middleware('configCreate');

  r.post('/configs', writes, async (req, res) => {
    const body = parseInput(createConfigBody, req.body);
    const environment = body.environment ?? s.settings.defaultEnvironment;
    authorize(principalOf(res), 'write', body.tenantId, environment);
    const result = await s.configCommands.create(
      { ...body, environment },
      commandContext(req, res),
    );
    const state = result.state;
    if (state.exists) res.setHeader('Location', `/api/v1/configs/${state.configId}`);
    sendCommandResult(res, 201, configBody(state), result.position, etagOf(state));
  });

  r.get('/configs', reads, async (req, res) => {
    const query = parseInput(listConfigsQuery, req.query);
    authorize(principalOf(res), 'read', query.tenantId, query.environment);
    await waitIfAsked(req);
    const envs = principalOf(res).environments;
    res.json(
      await s.queries.listConfigs({
        ...query,
        includeDeleted: query.includeDeleted === 'true',
        // A token limited to some environments lists (and counts) only those.
        environments: envs && !isPlatformAdmin(principalOf(res)) ? envs : undefined,
      }),
    );
  });

  r.get('/configs/:configId', reads, async (req, res) => {
    const row = await readableConfig(req, res, String(req.params.configId));
    res.setHeader('ETag', `"${row.version}"`);
    res.json(row);
  });

  r.put('/configs/:configId', writes, async (req, res) => {
    const body = parseInput(updateConfigBody, req.body);
    const expectedVersion = expectedVersionOf(req, body.expectedVersion);
    const result = await s.configCommands.update(
      { ...body, configId: String(req.params.configId), expectedVersion },
      commandContext(req, res),
      guard(principalOf(res), 'write'),
    );
    sendCommandResult(res, 200, configBody(result.state), result.position, etagOf(result.state));
  });

  r.delete('/configs/:configId', writes, async (req, res) => {
    const expectedVersion = expectedVersionOf(req, undefined);
    const result = await s.configCommands.delete(
      { configId: String(req.params.configId), expectedVersion },
      commandContext(req, res),
      guard(principalOf(res), 'write'),
    );
    sendCommandResult(res, 200, configBody(result.state), result.position, etagOf(result.state));
  });

  r.post('/configs/:configId/restore', writes, async (req, res) => {
    const result = await s.configCommands.restore(
      { configId: String(req.params.configId) },
      commandContext(req, res),
      guard(principalOf(res), 'write'),
    );
    sendCommandResult(res, 200, configBody(result.state), result.position, etagOf(result.state));
  });

  r.post('/configs/:configId/rollback', writes, async (req, res) => {
    const body = parseInput(rollbackBody, req.body);
    const expectedVersion = expectedVersionOf(req, body.expectedVersion);
    const result = await s.configCommands.rollback(
      {
        configId: String(req.params.configId),
        toVersion: body.version,
        expectedVersion,
        changeDescription: body.changeDescription,
      },
      commandContext(req, res),
      guard(principalOf(res), 'write'),
    );
    sendCommandResult(res, 200, configBody(result.state), result.position, etagOf(result.state));
  });

  r.get('/configs/:configId/versions', reads, async (req, res) => {
    const query = parseInput(versionsQuery, req.query);
    const row = await readableConfig(req, res, String(req.params.configId));
    res.json(await s.queries.versions(row.configId, query.page, query.pageSize));
  });

  r.get('/configs/:configId/versions/:version', reads, async (req, res) => {
    const version = parseInput(versionParam, req.params.version, 'version');
    const row = await readableConfig(req, res, String(req.params.configId));
    const found = await s.queries.version(row.configId, version);
    if (!found) {
      throw new HttpProblem(404, 'Not found', `Version ${version} not found`, {
        field: 'version',
      });
    }
    res.json(found);
  });

  return r;
}
