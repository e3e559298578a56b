/**
 * The API's OpenAPI 3.1 document, generated from the route declarations (route.ts): their
 * parameters, bodies and answers are the zod schemas that validate them, converted with zod's
 * own `z.toJSONSchema` (JSON Schema 2020-12, as OpenAPI 3.1 uses). Served by swagger-ui.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ROLES, roleCan, type Role } from '../auth/auth.js';
import { problemSchema } from './problem.js';
import {
  TAGS,
  problemStatuses,
  schemaNames,
  toOpenApiPath,
  type AnyRoute,
  type ErrorStatus,
  type ResponseHeader,
} from './route.js';

type Json = Record<string, unknown>;

/** The roles that may call a route (from auth.ts's grants), or [] when it is public. */
export function rolesFor(access: AnyRoute['access']): Role[] {
  if (access === 'public') return [];
  return ROLES.filter((role) => roleCan(role, access));
}

/** JSON Schema of a zod schema, without its `$schema`. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io }) as Json;
  return rest;
}

/** Drops the ±2^53 bounds zod gives every integer: noise in the answers' schemas. */
function withoutSafeIntegerBounds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSafeIntegerBounds);
  if (!value || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'minimum' && v === Number.MIN_SAFE_INTEGER) continue;
    if (k === 'maximum' && v === Number.MAX_SAFE_INTEGER) continue;
    out[k] = withoutSafeIntegerBounds(v);
  }
  return out;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` });
const paramRef = (name: string) => ({ $ref: `#/components/parameters/${name}` });
const firstExample = (schema: Json) => (schema.examples as unknown[] | undefined)?.[0];

const PROBLEMS: Record<ErrorStatus, { name: string; description: string }> = {
  400: {
    name: 'BadRequest',
    description:
      'Invalid request: `field` (and `errors`) name each offending field, header or parameter. ' +
      'Any route: a NUL character in the path or query.',
  },
  401: { name: 'Unauthorized', description: 'Missing, invalid or expired bearer token' },
  403: { name: 'Forbidden', description: "The token's roles (or environments) do not allow this" },
  404: {
    name: 'NotFound',
    description:
      "Not found. Another tenant's resources answer 404 too, so tokens cannot probe tenants",
  },
  409: {
    name: 'Conflict',
    description:
      'Refused by the domain: already exists, version conflict, quota exceeded, invalid state, ' +
      'approval required or stale change request (`code` says which)',
  },
  413: { name: 'PayloadTooLarge', description: 'The body is larger than 1 MB' },
  415: {
    name: 'UnsupportedMediaType',
    description: 'A body that is not JSON, or in a charset or encoding that cannot be read',
  },
  422: {
    name: 'ValidationFailed',
    description: 'The domain refused a value, e.g. one that does not fit the type (`field`)',
  },
  428: {
    name: 'PreconditionRequired',
    description: 'Name the version being changed: If-Match or expectedVersion (`currentVersion`)',
  },
  429: {
    name: 'TooManyRequests',
    description:
      'Over the per-minute limit for this tenant and caller (RateLimiting__*); retry after ' +
      'Retry-After seconds',
  },
  500: {
    name: 'InternalError',
    description: 'An unexpected error (logged with its correlation id)',
  },
  503: {
    name: 'Unavailable',
    description:
      'Not now, retry after Retry-After seconds: the read side did not reach minPosition in ' +
      'time, or (live reads) this instance follows as many watchers as it may',
  },
};

const RESPONSE_HEADERS: Record<ResponseHeader | 'X-Correlation-Id', Json> = {
  ETag: { description: 'The version, e.g. "3"', schema: { type: 'string' } },
  Location: { description: 'Where the new resource is', schema: { type: 'string' } },
  'X-Event-Position': {
    description: 'Event position of the change (absent when nothing changed)',
    schema: { type: 'string' },
  },
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } },
  'X-Correlation-Id': { description: "The request's correlation id", schema: { type: 'string' } },
};

const MIN_POSITION =
  'Read your writes: wait (bounded) until the read side has reached this event position ' +
  '(the position of a command answer); then 503 with Retry-After';

const PARAMETERS: Json = {
  MinPosition: {
    name: 'minPosition',
    in: 'query',
    required: false,
    description: MIN_POSITION,
    schema: { type: 'string', pattern: '^\\d{1,19}$' },
  },
  XMinPosition: {
    name: 'X-Min-Position',
    in: 'header',
    required: false,
    description: `${MIN_POSITION} (the same as minPosition)`,
    schema: { type: 'string', pattern: '^\\d{1,19}$' },
  },
  XCorrelationId: {
    name: 'X-Correlation-Id',
    in: 'header',
    required: false,
    description: 'Correlation id recorded with the events and echoed back (a new one if absent)',
    schema: { type: 'string', pattern: '^[\\w.:-]{1,100}$' },
  },
};

const SECURITY_DESCRIPTION = `Bearer JWT: HS256, signed with JWT__Secret (\`iss\` = JWT__Issuer), or, when JWT__Authority \
is set, RS256/ES256 from that OpenID Connect provider (keys from its JWKS; \`iss\` = the authority); \`aud\` = \
JWT__Audience. Expired, wrongly signed, unknown-\`kid\` or \`alg: none\` tokens get 401. Claims (the names of \
\`roles\` and \`tenant_id\` are JWT__RolesClaim and JWT__TenantsClaim):

| claim | meaning |
| --- | --- |
| \`sub\` | the user (recorded on every event) |
| \`roles\` | any of ${ROLES.map((r) => `\`${r}\``).join(', ')} |
| \`tenant_id\` | the tenant the roles apply to (required unless platform-admin); or a list of tenants; or roles by tenant (\`{"acme": ["tenant-admin"], "globex": ["reader"]}\`) |
| \`environments\` | optional: the roles apply to these environments only |

A token for one tenant gets 404 (or 403) on every route of another. \`npm run token\` prints one.
Routes for apps also take an API key (\`cfgk_…\`) as the bearer token.`;

const API_KEY_DESCRIPTION = `An app's API key (\`cfgk_<keyId>_<secret>\`, created by a tenant admin with \
POST /api/v1/tenants/{tenantId}/api-keys), in \`X-API-Key\` or as \`Authorization: Bearer cfgk_…\`. Taken by \
the app routes only (hot reads and watches: scope \`read\`; deployment metrics: scope \`report-metrics\`); \
other routes answer 403. A revoked or expired key gets 401.`;

/** What a client gets with `Accept: text/event-stream`. */
const SSE =
  'Server-sent events: `snapshot` (data: the JSON body a GET would answer; id: its ETag) now ' +
  'and after every change; `missing` when a followed key does not exist (any more); `expired` ' +
  'just before the stream ends with the token. Comments keep the connection alive every 25 s. ' +
  '503 with Retry-After when the instance follows ConfigService__MaxWatchers clients already.';

/** What a client gets with `Accept: application/x-ndjson` (routes declaring `progress`). */
const NDJSON =
  'Newline-delimited JSON: progress lines as the work goes on, then the last line: the body ' +
  'the JSON answer has, or its problem (application/problem+json members, with `status`) ' +
  'when refused after the first progress line (the HTTP status is then already 200).';

/** Collects the named schemas (components) the operations refer to. */
class Components {
  readonly schemas: Json = {};
  private readonly seen = new Map<string, z.ZodType>();

  /** A $ref to a named schema (added once), or the schema inline when it has no name. */
  use(schema: z.ZodType, io: 'input' | 'output'): Json {
    const name = schemaNames.get(schema)?.name;
    const converted =
      io === 'input'
        ? jsonSchema(schema, io)
        : (withoutSafeIntegerBounds(jsonSchema(schema, io)) as Json);
    if (!name) return converted;
    const known = this.seen.get(name);
    if (known && known !== schema) throw new Error(`openapi: two schemas named ${name}`);
    this.seen.set(name, schema);
    this.schemas[name] = converted;
    return ref(name);
  }
}

/** Parameters of one place (path, query or header) from a zod object, field by field. */
function parametersOf(object: z.ZodObject | undefined, where: 'path' | 'query' | 'header'): Json[] {
  if (!object) return [];
  const schema = jsonSchema(object, 'input') as {
    properties?: Record<string, Json>;
    required?: string[];
  };
  return Object.entries(schema.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (schema.required?.includes(name) ?? false),
    ...(property.description ? { description: property.description } : {}),
    ...(firstExample(property) !== undefined ? { example: firstExample(property) } : {}),
    schema: property,
  }));
}

function operationObject(r: AnyRoute, components: Components): Json {
  const declared = Object.keys(r.request?.params?.shape ?? {});
  const inPath = [...r.path.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
  if (declared.join() !== inPath.join()) {
    throw new Error(`openapi: ${r.operationId} declares params [${declared}] for ${r.path}`);
  }
  const parameters: Json[] = [
    ...parametersOf(r.request?.params, 'path'),
    ...parametersOf(r.request?.query, 'query'),
    ...(r.readYourWrites ? [paramRef('MinPosition')] : []),
    ...parametersOf(r.request?.headers, 'header'),
    ...(r.readYourWrites ? [paramRef('XMinPosition')] : []),
    paramRef('XCorrelationId'),
  ];

  const headersOf = (names: readonly string[] = []) =>
    Object.fromEntries([...names, 'X-Correlation-Id'].map((h) => [h, headerRef(h)] as const));
  const responses: Json = {};
  for (const [status, answer] of Object.entries(r.responses)) {
    const content: Json = {};
    if (answer.schema) {
      content[answer.contentType ?? 'application/json'] = {
        schema: components.use(answer.schema, 'output'),
      };
    }
    if (r.live && status === '200') {
      content['text/event-stream'] = { schema: { type: 'string', description: SSE } };
    }
    if (r.progress && answer.schema && status === '200') {
      content['application/x-ndjson'] = {
        schema: {
          description: NDJSON,
          oneOf: [
            components.use(r.progress, 'output'),
            ...Object.values(r.responses).flatMap((a) =>
              a.schema ? [components.use(a.schema, 'output')] : [],
            ),
            ref('Problem'),
          ],
        },
      };
    }
    responses[status] = {
      description: answer.description,
      headers: headersOf(answer.headers),
      ...(Object.keys(content).length ? { content } : {}),
    };
  }
  for (const status of problemStatuses(r)) {
    if (!(status in r.responses)) {
      responses[status] = { $ref: `#/components/responses/${PROBLEMS[status].name}` };
    }
  }

  let requestBody: Json | undefined;
  const body = r.request?.body;
  const raw = Object.entries(r.request?.raw?.mediaTypes ?? {}).map(
    ([mediaType, description]) => [mediaType, { schema: { type: 'string', description } }] as const,
  );
  if (body) {
    if (!schemaNames.get(body)) throw new Error(`openapi: ${r.operationId}'s body has no name`);
    const example = (z.globalRegistry.get(body)?.examples as unknown[] | undefined)?.[0];
    // A body of optional fields may be left out (the route reads it as {}).
    const required = ((jsonSchema(body, 'input').required as string[] | undefined) ?? []).length;
    requestBody = {
      required: required > 0,
      content: {
        'application/json': {
          schema: components.use(body, 'input'),
          ...(example !== undefined ? { example } : {}),
        },
      },
    };
  }
  if (raw.length) {
    // A raw application/json body (the file itself) shares its media type with the JSON body,
    // which the document keeps; the route's description tells when it is raw.
    const content = (requestBody?.content ?? {}) as Record<string, Json>;
    for (const [mediaType, media] of raw) content[mediaType] ??= media;
    requestBody = { required: true, content };
  }

  const roles = rolesFor(r.access);
  const who =
    r.access === 'public'
      ? 'Public: no token needed.'
      : `Roles: ${roles.map((role) => `\`${role}\``).join(', ')}` +
        (r.access === 'platform' ? '.' : " (on the resource's tenant).") +
        (r.apiKeys ? ` Apps: an API key with the \`${r.access}\` scope.` : '');
  const limit = r.rateLimit ? `Counts against the ${r.rateLimit} rate limit.` : undefined;
  return {
    operationId: r.operationId,
    summary: r.summary,
    description: [r.description, who, limit].filter(Boolean).join('\n\n'),
    tags: [r.tag],
    ...(r.access === 'public'
      ? { security: [] }
      : r.apiKeys
        ? { security: [{ bearer: [] }, { apiKey: [] }] }
        : {}),
    'x-roles': roles,
    ...(r.rateLimit ? { 'x-rate-limit': r.rateLimit } : {}),
    parameters,
    ...(requestBody ? { requestBody } : {}),
    responses,
  };
}

function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file))
      return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    const parent = path.dirname(dir);
    if (parent === dir) return '0.0.0';
    dir = parent;
  }
}

/** The OpenAPI 3.1 document of these routes. */
export function openApiDocument(routes: readonly AnyRoute[]): Json {
  const components = new Components();
  components.use(problemSchema, 'output');
  const paths: Record<string, Json> = {};
  const ids = new Set<string>();
  for (const r of routes) {
    if (ids.has(r.operationId)) throw new Error(`openapi: duplicate ${r.operationId}`);
    ids.add(r.operationId);
    const item = (paths[toOpenApiPath(r.path)] ??= {});
    if (item[r.method]) throw new Error(`openapi: ${r.method} ${r.path} twice`);
    item[r.method] = operationObject(r, components);
  }
  const responses: Json = {};
  for (const { name, description } of Object.values(PROBLEMS)) {
    responses[name] = {
      description,
      headers: { 'X-Correlation-Id': headerRef('X-Correlation-Id') },
      content: { 'application/problem+json': { schema: ref('Problem') } },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Config Service API',
      version: packageVersion(),
      description:
        'Multi-tenant, event-sourced configuration service. Errors are RFC 9457 ' +
        'application/problem+json naming the offending field. Every command answers with ' +
        '`position` (and X-Event-Position): pass it as `minPosition` (or X-Min-Position) to a ' +
        'query to read your own write.',
    },
    tags: Object.entries(TAGS).map(([name, description]) =>
      description ? { name, description } : { name },
    ),
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: SECURITY_DESCRIPTION,
        },
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'X-API-Key',
          description: API_KEY_DESCRIPTION,
        },
      },
      schemas: components.schemas,
      parameters: PARAMETERS,
      headers: RESPONSE_HEADERS,
      responses,
    },
  };
}
