/**
 * Configurations: direct writes (environments that need no approval) and reads from the read
 * tables. Commands check the caller's role on the config's own tenant and environment (a guard)
 * before anything is decided.
 */
import { z } from 'zod';
import {
  ok,
  route,
  type ErrorStatus,
  type Input,
  type RequestSpec,
  type RouteContext,
} from '../../core/http/route.js';
import type { Services } from '../../composition.js';
import type { CommandContext } from '../../core/commands/command-handling.js';
import { commandReply, expectedVersionOf, ifMatchHeader } from '../../core/http/request-context.js';
import { HttpProblem } from '../../core/http/problem.js';
import {
  limitedEnvironments,
  notFoundError,
  readableRow,
} from '../../core/http/resource-access.js';
import type { ConfigurationState } from './config.decider.js';
import { versionHistory } from '../scheduled-changes/scheduled-change.view.js';
import { canReveal, type Principal } from '../../core/auth/auth.js';
import { isCiphertext } from '../../core/crypto/envelope.js';
import { MASK } from './config-values.js';
import {
  configuration,
  configurationOfState,
  configurationPage,
  configurationResult,
  configurationVersion,
  type ConfigurationView,
} from './config.view.js';
import {
  configParams,
  createConfigBody,
  listConfigsQuery,
  rollbackBody,
  updateConfigBody,
  versionParams,
  versionsQuery,
} from './configs.schemas.js';

const ifMatch = z.object({ 'If-Match': ifMatchHeader.optional() });

const changed = (description: string) => ({
  description,
  schema: configurationResult,
  headers: ['ETag', 'X-Event-Position'] as const,
});

/**
 * A command's answer: the configuration's view, its version as ETag, the event position. An
 * encrypted value is shown only to a caller allowed to reveal it.
 */
function configReply<S extends number>(
  status: S,
  result: { state: ConfigurationState; position: bigint | undefined },
  principal: Principal,
  /** A create: where the new configuration is (its id follows). */
  createdAt?: string,
) {
  const st = result.state;
  const reveal = st.exists && canReveal(principal, st.tenantId, st.environment);
  const view = configurationOfState(st, reveal);
  const Location = createdAt && `${createdAt}${view.configId}`;
  return commandReply(status, view, result.position, { ETag: `"${view.version}"`, Location });
}

/** A configuration the caller may read (after any read-your-writes wait), or 404. */
const readableConfig = ({ s, res }: RouteContext, configId: string) =>
  readableRow(
    res,
    () => s.queries.configs.configRow(configId),
    (c) => c.environment,
    notFoundError('Configuration', configId, 'configId'),
  );

/**
 * An encrypted configuration as a caller allowed to reveal it sees it: its value and default
 * decrypted (the data key cached per process). Everyone else keeps the masked view.
 */
async function revealed(
  { s, principal }: RouteContext,
  view: ConfigurationView,
): Promise<ConfigurationView> {
  const cipher = s.encryption.cipher;
  if (!view.isEncrypted || !cipher || !canReveal(principal, view.tenantId, view.environment)) {
    return view;
  }
  const stored = await s.queries.configs.storedValues(view.configId, view.version);
  if (!stored) return view;
  // A value from before the key was encrypted is stored plain; a shredded one stays masked.
  const open = async (v: string | null) =>
    v === null ? null : isCiphertext(v) ? ((await cipher.tryDecrypt(view.tenantId, v)) ?? MASK) : v;
  return {
    ...view,
    value: (await open(stored.value))!,
    defaultValue: await open(stored.defaultValue),
  };
}

const createConfiguration = route({
  operationId: 'createConfiguration',
  method: 'post',
  path: '/api/v1/configs',
  tag: 'Configurations',
  summary: 'Create a configuration',
  description:
    'The environment defaults to the service default. Environments that require approvals ' +
    'take changes through change requests only (409 approval_required).',
  access: 'write',
  request: { body: createConfigBody },
  rateLimit: 'configCreate',
  responses: {
    201: {
      description: 'Created',
      schema: configurationResult,
      headers: ['Location', 'ETag', 'X-Event-Position'],
    },
  },
  errors: [403, 404, 409, 422],
  async handle({ body }, { s, allow, command, principal }) {
    const environment = body.environment ?? s.settings.defaultEnvironment;
    allow(body.tenantId, environment);
    const result = await s.configCommands.create({ ...body, environment }, command());
    return configReply(201, result, principal, `/api/v1/configs/`);
  },
});

const listConfigurations = route({
  operationId: 'listConfigurations',
  method: 'get',
  path: '/api/v1/configs',
  tag: 'Configurations',
  summary: 'List configurations (paged; sensitive values masked)',
  access: 'read',
  request: { query: listConfigsQuery },
  rateLimit: 'configGet',
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'A page', schema: configurationPage } },
  errors: [403, 404],
  async handle({ query }, { s, allow, res }) {
    allow(query.tenantId, query.environment);
    // Under its declared spelling; an undeclared environment is 404 naming the declared ones.
    const environment =
      query.environment === undefined
        ? undefined
        : await s.queries.environments.resolve(query.tenantId, query.environment);
    const page = await s.queries.configs.listConfigs({
      ...query,
      environment,
      includeDeleted: query.includeDeleted === 'true',
      // A token limited to some environments lists (and counts) only those.
      environments: limitedEnvironments(res, query.tenantId) ?? undefined,
    });
    return ok(page);
  },
});

const getConfiguration = route({
  operationId: 'getConfiguration',
  method: 'get',
  path: '/api/v1/configs/:configId',
  tag: 'Configurations',
  summary: 'Get a configuration',
  access: 'read',
  request: { params: configParams },
  rateLimit: 'configGet',
  readYourWrites: ['read-model'],
  responses: {
    200: { description: 'The configuration', schema: configuration, headers: ['ETag'] },
  },
  errors: [403, 404],
  async handle({ params }, ctx) {
    const row = await revealed(ctx, await readableConfig(ctx, params.configId));
    return ok(row, { ETag: `"${row.version}"` });
  },
});

/**
 * A command on one configuration: the caller's write role on its own tenant and environment is
 * checked (a guard) before anything is decided; the answer is the configuration after it.
 */
function configCommand<const R extends RequestSpec & { params: typeof configParams }>(spec: {
  operationId: string;
  method: 'put' | 'post' | 'delete';
  path: string;
  summary: string;
  description?: string;
  request: R;
  errors: readonly ErrorStatus[];
  /** What the 200 says it did. */
  did: string;
  run: (
    input: Input<R>,
    s: Services,
    ctx: CommandContext,
    guard: ReturnType<RouteContext['guard']>,
  ) => Promise<{ state: ConfigurationState; position: bigint | undefined }>;
}) {
  const { did, run, ...declared } = spec;
  return route({
    ...declared,
    tag: 'Configurations',
    access: 'write',
    rateLimit: 'configCreate',
    responses: { 200: changed(did) },
    async handle(input, { s, guard, command, principal }) {
      const g = guard('Configuration', input.params.configId, 'configId');
      return configReply(200, await run(input, s, command(), g), principal);
    },
  });
}

const updateConfiguration = configCommand({
  operationId: 'updateConfiguration',
  method: 'put',
  path: '/api/v1/configs/:configId',
  summary: 'Change a configuration',
  description:
    'Name the version being changed with If-Match or expectedVersion: none answers 428, a ' +
    'stale one 409 with currentVersion. A change that changes nothing appends nothing ' +
    '(position null).',
  request: { params: configParams, body: updateConfigBody, headers: ifMatch },
  errors: [403, 404, 409, 422, 428],
  did: 'Changed',
  run: ({ params, body, headers }, s, ctx, guard) =>
    s.configCommands.update(
      {
        ...body,
        configId: params.configId,
        expectedVersion: expectedVersionOf(headers['If-Match'], body.expectedVersion),
      },
      ctx,
      guard,
    ),
});

const deleteConfiguration = configCommand({
  operationId: 'deleteConfiguration',
  method: 'delete',
  path: '/api/v1/configs/:configId',
  summary: 'Delete a configuration (soft; frees the quota slot)',
  request: { params: configParams, headers: ifMatch },
  errors: [403, 404, 409],
  did: 'Deleted',
  run: ({ params, headers }, s, ctx, guard) =>
    s.configCommands.delete(
      { configId: params.configId, expectedVersion: headers['If-Match'] },
      ctx,
      guard,
    ),
});

const restoreConfiguration = configCommand({
  operationId: 'restoreConfiguration',
  method: 'post',
  path: '/api/v1/configs/:configId/restore',
  summary: 'Undo a delete',
  request: { params: configParams },
  errors: [403, 404, 409],
  did: 'Restored',
  run: ({ params }, s, ctx, guard) =>
    s.configCommands.restore({ configId: params.configId }, ctx, guard),
});

const rollbackConfiguration = configCommand({
  operationId: 'rollbackConfiguration',
  method: 'post',
  path: '/api/v1/configs/:configId/rollback',
  summary: "Roll back: a new version with an earlier version's value",
  request: { params: configParams, body: rollbackBody, headers: ifMatch },
  errors: [403, 404, 409, 422, 428],
  did: 'Rolled back',
  run: ({ params, body, headers }, s, ctx, guard) =>
    s.configCommands.rollback(
      {
        configId: params.configId,
        toVersion: body.version,
        expectedVersion: expectedVersionOf(headers['If-Match'], body.expectedVersion),
        changeDescription: body.changeDescription,
      },
      ctx,
      guard,
    ),
});

const listConfigurationVersions = route({
  operationId: 'listConfigurationVersions',
  method: 'get',
  path: '/api/v1/configs/:configId/versions',
  tag: 'Configurations',
  summary: 'Version history (paged)',
  access: 'read',
  request: { params: configParams, query: versionsQuery },
  rateLimit: 'configGet',
  readYourWrites: ['read-model'],
  description:
    'Versions, newest first, and `pending`: changes scheduled for it that are still to come ' +
    '(direct ones and approved change requests with applyAt).',
  responses: { 200: { description: 'A page', schema: versionHistory } },
  errors: [403, 404],
  async handle({ params, query }, ctx) {
    const row = await readableConfig(ctx, params.configId);
    const [page, pending] = await Promise.all([
      ctx.s.queries.configs.versions(row.configId, query.page, query.pageSize),
      ctx.s.queries.scheduledChanges.pendingFor(row.configId),
    ]);
    return ok({ ...page, pending });
  },
});

const getConfigurationVersion = route({
  operationId: 'getConfigurationVersion',
  method: 'get',
  path: '/api/v1/configs/:configId/versions/:version',
  tag: 'Configurations',
  summary: 'One version',
  access: 'read',
  request: { params: versionParams },
  rateLimit: 'configGet',
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'The version', schema: configurationVersion } },
  errors: [403, 404],
  async handle({ params }, ctx) {
    const row = await readableConfig(ctx, params.configId);
    const found = await ctx.s.queries.configs.version(row.configId, params.version);
    if (!found) {
      throw new HttpProblem(404, 'Not found', `Version ${params.version} not found`, {
        field: 'version',
      });
    }
    return ok(found);
  },
});

export const configRoutes = [
  createConfiguration,
  listConfigurations,
  getConfiguration,
  updateConfiguration,
  deleteConfiguration,
  restoreConfiguration,
  rollbackConfiguration,
  listConfigurationVersions,
  getConfigurationVersion,
];
