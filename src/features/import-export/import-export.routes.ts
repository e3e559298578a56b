/**
 * Export an environment as a file (JSON, YAML, .env, .properties) and import one: a dry run
 * shows what would change; the import itself is one change set (one change request where the
 * environment needs approval), all keys or none.
 */
import { z } from 'zod';
import { reply, route } from '../../core/http/route.js';
import { changeSetOutcome } from '../change-sets/change-set.view.js';
import { outcomeReply } from '../change-sets/change-sets.routes.js';
import { HttpProblem } from '../../core/http/problem.js';
import { renderConfigFile, type Format } from './config-formats.js';
import { importFile, importRawFile } from './import-export.commands.js';
import {
  RAW_MEDIA_TYPES,
  environmentParams,
  exportQuery,
  importBody,
  importProgress,
  importQuery,
} from './import-export.schemas.js';

const PATH = '/api/v1/tenants/:tenantId/environments/:environment';

const exportEnvironment = route({
  operationId: 'exportEnvironment',
  method: 'get',
  path: `${PATH}/export`,
  tag: 'Across environments',
  summary: 'Export an environment (or its keys with a tag) as JSON, YAML, .env or .properties',
  description:
    'Types are kept: JSON and YAML give `{ type, value }` per key, .env and .properties a ' +
    '`# @type <Type>` line before each key. Secrets are exported masked (`********`, marked ' +
    '`@sensitive`); importing the mask back leaves a secret as it is.',
  access: 'read',
  request: { params: environmentParams, query: exportQuery },
  readYourWrites: ['read-model'],
  responses: {
    200: {
      description: 'The file (Content-Type text/plain whatever the format)',
      schema: z.string(),
      contentType: 'text/plain; charset=utf-8',
    },
  },
  errors: [403, 404],
  async handle({ params, query }, { s, allow, res }) {
    allow(params.tenantId, params.environment);
    const configs = await s.queries.exports.environment(
      params.tenantId,
      params.environment,
      query.tag,
    );
    const filename = query.format === 'env' ? '.env' : `${params.environment}.${query.format}`;
    res.setHeader('Content-Disposition', `attachment; filename="${filename}"`);
    return reply(200, renderConfigFile(query.format, configs));
  },
});

const importEnvironment = route({
  operationId: 'importEnvironment',
  method: 'post',
  path: `${PATH}/import`,
  tag: 'Across environments',
  summary: 'Import a file into an environment as one change set (dry run first if you like)',
  description:
    'Keys the environment has keep their type (a value that does not fit is refused, never ' +
    're-typed); new keys take the type the file gives (bare values: inferred from JSON/YAML, ' +
    'String in .env/.properties). Any refusal (422, 409) names the key and `line`, and ' +
    'nothing is written. Where the environment needs approval the import becomes one change ' +
    'set awaiting it (202).\n\n' +
    'Big files: send the file itself as the body (text/plain for .env, ?format=properties for ' +
    '.properties, application/yaml, application/json with ?format=json, or ' +
    'application/octet-stream with ?format=), options in the query; up to ' +
    'ConfigService__Import__MaxBytes (413 beyond). .env and .properties are read line by ' +
    'line as they arrive. With `Accept: application/x-ndjson` the answer streams progress ' +
    'lines and ends with the result (or the problem).',
  access: 'write',
  request: {
    params: environmentParams,
    query: importQuery,
    body: importBody,
    raw: { mediaTypes: RAW_MEDIA_TYPES, jsonRawWhen: 'format' },
  },
  progress: importProgress,
  responses: {
    200: {
      description: 'Applied, unchanged or a dry run',
      schema: changeSetOutcome,
      headers: ['X-Event-Position'],
    },
    202: {
      description: 'Awaiting approval as one change set',
      schema: changeSetOutcome,
      headers: ['X-Event-Position'],
    },
  },
  errors: [403, 404, 409, 413, 415, 422],
  async handle({ params, query, body, raw }, { s, allow, command, progress }) {
    allow(params.tenantId, params.environment);
    if (raw) {
      const format = query.format ?? formatOf(raw.mediaType);
      const result = await importRawFile(
        s.changeSetCommands,
        {
          ...params,
          format,
          dryRun: query.dryRun,
          description: query.description ?? null,
          body: raw,
          maxBytes: s.settings.importMaxBytes,
        },
        command(),
        progress,
      );
      return outcomeReply(result);
    }
    const result = await importFile(
      s.changeSetCommands,
      { ...params, ...body, description: body.description ?? null },
      command(),
    );
    return outcomeReply(result);
  },
});

/** The format a raw body's media type implies; octet-stream needs ?format=. */
function formatOf(mediaType: string): Format {
  if (mediaType === 'application/yaml' || mediaType === 'text/yaml') return 'yaml';
  if (mediaType === 'text/plain') return 'env';
  if (mediaType === 'application/json') return 'json';
  throw new HttpProblem(400, 'Invalid request', `format is required with ${mediaType}`, {
    field: 'format',
  });
}

export const importExportRoutes = [exportEnvironment, importEnvironment];
