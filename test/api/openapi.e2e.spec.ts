/**
 * The OpenAPI document: served (JSON and Swagger UI), well formed, built from the validators
 * themselves, and complete: every route the app serves is documented and every documented
 * operation is served.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import request from 'supertest';
import { z } from 'zod';
import { HOT_ENV_ROUTE, HOT_KEY_ROUTE } from '../../src/features/live-read/hot-read.handler.js';
import { ADMIN_QUEUES_PATH } from '../../src/features/operations/queue-dashboard.js';
import { CONSOLE_PATH } from '../../src/features/console/console.assets.js';
import { openApiDocument } from '../../src/core/http/openapi.js';
import { SPEC_ALIAS, SPEC_PATH, UI_PATH } from '../../src/core/http/swagger-ui.js';
import { toOpenApiPath } from '../../src/core/http/route.js';
import { API_ROUTES } from '../../src/routes.js';
import * as tenantSchemas from '../../src/features/tenants/tenants.schemas.js';
import * as configSchemas from '../../src/features/configs/configs.schemas.js';
import * as configSchemaSchemas from '../../src/features/config-schemas/config-schemas.schemas.js';
import * as auditSchemas from '../../src/features/audit/audit.schemas.js';
import * as apiKeySchemas from '../../src/features/api-keys/api-keys.schemas.js';
import * as replaySchemas from '../../src/features/replay/replay.schemas.js';
import * as deploymentSchemas from '../../src/features/deployments/deployments.schemas.js';
import * as changeRequestSchemas from '../../src/features/change-requests/change-requests.schemas.js';
import * as hotReadSchemas from '../../src/features/live-read/hot-read.schemas.js';
import * as webhookSchemas from '../../src/features/webhooks/webhooks.schemas.js';
import * as changeSetSchemas from '../../src/features/change-sets/change-sets.schemas.js';
import * as importExportSchemas from '../../src/features/import-export/import-export.schemas.js';
import * as scheduleSchemas from '../../src/features/scheduled-changes/scheduled-changes.schemas.js';
import * as environmentSchemas from '../../src/features/environments/environments.schemas.js';
import * as blameSchemas from '../../src/features/blame/blame.schemas.js';
import * as timeTravelSchemas from '../../src/features/time-travel/time-travel.schemas.js';
import * as futurePreviewSchemas from '../../src/features/future-preview/future-preview.schemas.js';
import * as acknowledgementSchemas from '../../src/features/acknowledgements/acknowledgements.schemas.js';
import { startHarness, type Harness } from '../support/harness.js';

type Json = Record<string, unknown>;

// ---- walking Express 5's router ----

interface RouteLike {
  path: unknown;
  methods: Record<string, boolean | undefined>;
}
interface LayerLike {
  name?: string;
  route?: RouteLike;
  handle?: { stack?: LayerLike[] };
  /** The path the layer was registered with (router 2.x keeps it; matchers are compiled). */
  rawPath?: unknown;
}

const pathsOf = (raw: unknown, what: string): string[] => {
  const list = Array.isArray(raw) ? (raw as unknown[]).flat(Infinity) : [raw];
  return list.map((p) => {
    if (typeof p === 'string') return p;
    if (p instanceof RegExp) return `regexp:${p.source}`;
    throw new Error(`cannot read the path of ${what}: ${String(p)}`);
  });
};

const joinPath = (prefix: string, path: string) =>
  path === '/' ? prefix || '/' : `${prefix}${path}`.replace(/\/{2,}/g, '/');

/**
 * Every (METHOD, path) an Express 5 router serves: route layers (`route.path`, `route.methods`),
 * and nested routers (`handle.stack`) under the path their layer was mounted at (`rawPath`).
 */
function servedRoutes(stack: LayerLike[], prefix = ''): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  for (const layer of stack) {
    if (layer.route) {
      for (const path of pathsOf(layer.route.path, `a route under ${prefix || '/'}`)) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on)
            out.push({
              method: method === '_all' ? 'ALL' : method.toUpperCase(),
              path: joinPath(prefix, path),
            });
        }
      }
      continue;
    }
    const mounts = pathsOf(layer.rawPath ?? '/', `the ${layer.name} layer under ${prefix || '/'}`);
    const inner = layer.handle?.stack;
    if (!Array.isArray(inner)) {
      // A plain middleware; a mounted sub-app would hide its routes from this walk.
      if (layer.name === 'mounted_app' && !mounts.every((m) => excluded(joinPath(prefix, m)))) {
        throw new Error(`cannot list the routes of a sub-app mounted at ${mounts.join(', ')}`);
      }
      continue;
    }
    if (layer.rawPath === undefined) {
      throw new Error(`no rawPath on a router layer under ${prefix || '/'}: the walk needs one`);
    }
    for (const mount of mounts) out.push(...servedRoutes(inner, joinPath(prefix, mount)));
  }
  return out;
}

/** Served, but not part of the API document: bull-board, and the document itself. */
const excluded = (path: string) =>
  path === CONSOLE_PATH ||
  path.startsWith(`${CONSOLE_PATH}/`) ||
  path === ADMIN_QUEUES_PATH ||
  path.startsWith(`${ADMIN_QUEUES_PATH}/`) ||
  path === UI_PATH ||
  path.startsWith(`${UI_PATH}/`) ||
  path === SPEC_ALIAS;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function documentedOperations(doc: Json): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const method of Object.keys(item)) {
      if (HTTP_METHODS.includes(method)) out.push(`${method.toUpperCase()} ${path}`);
    }
  }
  return out;
}

/** Every `$ref` in the document, with where it was found. */
function refsOf(value: unknown, at = '#'): { ref: string; at: string }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => refsOf(v, `${at}/${i}`));
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) =>
    k === '$ref' && typeof v === 'string' ? [{ ref: v, at }] : refsOf(v, `${at}/${k}`),
  );
}

function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!node || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
    node = (node as Json)[key];
  }
  return node;
}

describe('OpenAPI document and Swagger UI (e2e)', function () {
  let h: Harness;
  let doc: Json;

  before(async function () {
    h = await startHarness();
    const res = await request(h.url).get(SPEC_PATH);
    expect(res.status, res.text).to.equal(200);
    doc = res.body as Json;
  });
  after(async function () {
    await h?.close();
  });

  describe('the JSON', function () {
    it('is served without a token at /swagger/v1/swagger.json and /openapi.json', async function () {
      for (const path of [SPEC_PATH, SPEC_ALIAS]) {
        const res = await request(h.url).get(path);
        expect(res.status, path).to.equal(200);
        expect(res.headers['content-type'], path).to.match(/^application\/json/);
        expect(res.body, path).to.deep.equal(
          JSON.parse(JSON.stringify(openApiDocument(API_ROUTES))),
        );
      }
    });

    it('is OpenAPI 3.x with the package version and a bearer JWT scheme', async function () {
      expect(doc.openapi).to.match(/^3\.\d+\.\d+$/);
      const { version } = JSON.parse(
        readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
      ) as { version: string };
      expect((doc.info as Json).version).to.equal(version);
      const components = doc.components as Json;
      const bearer = (components.securitySchemes as Json).bearer as Json;
      expect(bearer).to.include({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
      expect(bearer.description).to.include('tenant_id');
      expect(doc.security).to.deep.equal([{ bearer: [] }]);
    });

    it('documents the API-key scheme on the app routes only, and the API key routes', function () {
      const schemes = (doc.components as Json).securitySchemes as Json;
      expect(schemes.apiKey).to.include({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
      const paths = doc.paths as Record<string, Record<string, Json>>;
      const withKeys: string[] = [];
      for (const [path, item] of Object.entries(paths)) {
        for (const [method, op] of Object.entries(item)) {
          const security = op.security as Json[] | undefined;
          if (security?.some((s) => 'apiKey' in s)) withKeys.push(`${method} ${path}`);
        }
      }
      expect(withKeys.sort()).to.deep.equal([
        'get /api/v1/tenants/{tenantId}/environments/{environment}/configs',
        'get /api/v1/tenants/{tenantId}/environments/{environment}/configs/{key}',
        'post /api/v1/deployments/{deploymentId}/metrics',
        'post /api/v1/tenants/{tenantId}/environments/{environment}/acknowledgements',
      ]);
      const keys = paths['/api/v1/tenants/{tenantId}/api-keys']!;
      expect(Object.keys(keys).sort()).to.deep.equal(['get', 'post']);
      expect(
        Object.keys(paths['/api/v1/tenants/{tenantId}/api-keys/{keyId}']!).sort(),
      ).to.deep.equal(['delete', 'get']);
      expect(JSON.stringify(keys.post!.responses)).to.include('ApiKeyWithSecret');
    });

    it('resolves every $ref', function () {
      const refs = refsOf(doc);
      expect(refs.length).to.be.greaterThan(50);
      const broken = refs.filter(({ ref }) => resolvePointer(doc, ref) === undefined);
      expect(broken, JSON.stringify(broken, null, 2)).to.deep.equal([]);
    });

    it('gives every operation a unique operationId, a tag and responses', function () {
      const ids: string[] = [];
      for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
        expect(path, 'OpenAPI paths use {param}').not.to.include(':');
        for (const [method, op] of Object.entries(item as Record<string, Json>)) {
          ids.push(op.operationId as string);
          expect(op.tags, `${method} ${path}`).to.have.length(1);
          expect(Object.keys(op.responses as Json), `${method} ${path}`).to.have.length.above(0);
        }
      }
      expect(new Set(ids).size).to.equal(ids.length);
    });

    it('answers errors with the shared Problem schema (application/problem+json)', function () {
      const responses = (doc.components as Json).responses as Record<string, Json>;
      for (const [name, response] of Object.entries(responses)) {
        expect(response.content, name).to.deep.equal({
          'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
        });
      }
      const problem = ((doc.components as Json).schemas as Json).Problem as Json;
      expect(Object.keys(problem.properties as Json)).to.include.members([
        'type',
        'title',
        'status',
        'detail',
        'instance',
        'field',
        'errors',
        'code',
      ]);
    });

    it('marks public operations and names the roles of the others', function () {
      const ops = Object.values(doc.paths as Record<string, Record<string, Json>>).flatMap((i) =>
        Object.values(i),
      );
      const publicIds = ops.filter((o) => Array.isArray(o.security) && !o.security.length);
      expect(publicIds.map((o) => o.operationId)).to.have.members([
        'getHealth',
        'getReadiness',
        'getMetrics',
      ]);
      for (const op of ops) {
        if (publicIds.includes(op)) continue;
        expect(op['x-roles'], op.operationId as string).to.include('platform-admin');
        expect(op.responses as Json, op.operationId as string).to.have.property('401');
      }
      const byId = (id: string) => ops.find((o) => o.operationId === id)!;
      expect(byId('createTenant')['x-roles']).to.deep.equal(['platform-admin']);
      expect(byId('approveChangeRequest')['x-roles']).to.have.members([
        'platform-admin',
        'approver',
      ]);
      expect(byId('getConfigValue')['x-roles']).to.include('reader');
    });
  });

  describe('coverage', function () {
    /** What the app serves: its router, plus the two hot-read routes answered before it. */
    function served(): string[] {
      const stack = (h.api.app as unknown as { router: { stack: LayerLike[] } }).router.stack;
      const routes = servedRoutes(stack)
        .filter((r) => !excluded(r.path))
        .map((r) => `${r.method} ${toOpenApiPath(r.path)}`);
      routes.push(`GET ${toOpenApiPath(HOT_ENV_ROUTE)}`, `GET ${toOpenApiPath(HOT_KEY_ROUTE)}`);
      return [...new Set(routes)].sort();
    }

    it('finds the routes of every router (sanity of the walk)', function () {
      const routes = served();
      expect(routes).to.include.members([
        'GET /health',
        'GET /metrics',
        'POST /api/v1/tenants',
        'PUT /api/v1/configs/{configId}',
        'GET /api/v1/audit-logs',
        'POST /api/v1/deployments/{deploymentId}/promote',
      ]);
      expect(routes.some((r) => r.includes(ADMIN_QUEUES_PATH))).to.equal(false);
    });

    it('documents every route the app serves', function () {
      const documented = new Set(documentedOperations(doc));
      const missing = served().filter((r) => !documented.has(r));
      expect(
        missing,
        `routes missing from the OpenAPI document:\n  ${missing.join('\n  ')}`,
      ).to.deep.equal([]);
    });

    it('documents only routes the app serves', function () {
      const routes = new Set(served());
      const extra = documentedOperations(doc).filter((op) => !routes.has(op));
      expect(extra, `documented but not served:\n  ${extra.join('\n  ')}`).to.deep.equal([]);
    });
  });

  describe('request schemas are the validators', function () {
    /** Every feature's exported request schemas (each *.schemas.ts). */
    const schemas = {
      ...tenantSchemas,
      ...configSchemas,
      ...configSchemaSchemas,
      ...auditSchemas,
      ...replaySchemas,
      ...deploymentSchemas,
      ...changeRequestSchemas,
      ...hotReadSchemas,
      ...webhookSchemas,
      ...changeSetSchemas,
      ...importExportSchemas,
      ...scheduleSchemas,
      ...environmentSchemas,
      ...apiKeySchemas,
      ...blameSchemas,
      ...timeTravelSchemas,
      ...futurePreviewSchemas,
      ...acknowledgementSchemas,
    };
    const exported = new Map<unknown, string>(
      Object.entries(schemas).map(([name, value]) => [value, name] as const),
    );
    /** The declarations, as the catalogue listed them (body and query beside the route). */
    const ROUTES = API_ROUTES.map((r) => ({
      ...r,
      body: r.request?.body,
      query: r.request?.query,
    }));
    const withoutDialect = (s: z.ZodType) => {
      const { $schema: _d, ...rest } = z.toJSONSchema(s, { io: 'input' }) as Json;
      return rest;
    };

    it('documents each body with the very schema exported from api/schemas.ts', function () {
      const bodies = ROUTES.filter((op) => op.body);
      expect(bodies.length).to.be.greaterThan(10);
      for (const op of bodies) {
        const name = exported.get(op.body);
        expect(name, `${op.operationId}'s body is not an export of schemas.ts`).to.be.a('string');
        const documented = (
          (doc.paths as Record<string, Record<string, Json>>)[toOpenApiPath(op.path)]![op.method]!
            .requestBody as { content: Record<string, { schema: { $ref: string } }> }
        ).content['application/json']!.schema.$ref;
        expect(resolvePointer(doc, documented), op.operationId).to.deep.equal(
          withoutDialect(op.body!),
        );
      }
    });

    it('documents each query with the very schema exported from api/schemas.ts', function () {
      const queries = ROUTES.filter((op) => op.query);
      expect(queries.length).to.be.greaterThan(3);
      for (const op of queries) {
        expect(exported.get(op.query), `${op.operationId}'s query`).to.be.a('string');
        const params = (doc.paths as Record<string, Record<string, Json>>)[toOpenApiPath(op.path)]![
          op.method
        ]!.parameters as { in?: string; name?: string; schema?: Json }[];
        const expected = withoutDialect(op.query!) as { properties: Record<string, Json> };
        for (const [name, schema] of Object.entries(expected.properties)) {
          const param = params.find((p) => p.in === 'query' && p.name === name);
          expect(param?.schema, `${op.operationId} ?${name}`).to.deep.equal(schema);
        }
      }
    });

    it('refuses what the document refuses (sample: a strict body)', async function () {
      // createTenantBody is strict: the document says additionalProperties false, the API 400s.
      const component = resolvePointer(doc, '#/components/schemas/CreateTenantBody') as Json;
      expect(component.additionalProperties).to.equal(false);
      const res = await request(h.url)
        .post('/api/v1/tenants')
        .set('Authorization', `Bearer ${h.admin}`)
        .send({ tenantId: 'openapi-x', name: 'x', unknownField: 1 });
      expect(res.status).to.equal(400);
      expect(res.body.field).to.equal('unknownField');
    });
  });

  describe('examples (Swagger UI "Try it out")', function () {
    interface Param {
      name: string;
      in: string;
      required?: boolean;
      example?: unknown;
      $ref?: string;
    }
    const operations = () =>
      API_ROUTES.map((r) => {
        const op = (doc.paths as Record<string, Record<string, Json>>)[toOpenApiPath(r.path)]![
          r.method
        ]!;
        const params = (op.parameters as Param[]).map((p) =>
          p.$ref ? (resolvePointer(doc, p.$ref) as Param) : p,
        );
        const body = (op.requestBody as { content: Record<string, Json> } | undefined)?.content[
          'application/json'
        ];
        return { r, params, body };
      });

    it('gives every path parameter, required query parameter and body an example its schema accepts', function () {
      let bodies = 0;
      for (const { r, params, body } of operations()) {
        const of = (where: string) =>
          Object.fromEntries(
            params
              .filter((p) => p.in === where && p.example !== undefined)
              .map((p) => [p.name, p.example]),
          );
        for (const p of params.filter((p) => p.in === 'path' || (p.in === 'query' && p.required))) {
          expect(p.example, `${r.operationId}: ${p.in} parameter ${p.name}`).not.to.equal(
            undefined,
          );
        }
        const parse = (schema: z.ZodType | undefined, value: unknown, what: string) => {
          if (!schema) return;
          const parsed = schema.safeParse(value);
          expect(
            parsed.success,
            `${r.operationId}: ${what} ${JSON.stringify(parsed.error?.issues)}`,
          ).to.equal(true);
        };
        parse(r.request?.params, of('path'), 'path example');
        parse(r.request?.query, of('query'), 'query example');
        parse(r.request?.headers, of('header'), 'header example');
        if (r.request?.body) {
          bodies++;
          expect(body?.example, `${r.operationId}: body example`).not.to.equal(undefined);
          parse(r.request.body, body!.example, 'body example');
        }
      }
      expect(bodies).to.be.greaterThan(10);
    });

    it('sends every operation as Swagger UI fills it in, and no example is refused as invalid', async function () {
      this.timeout(60_000);
      const refused: string[] = [];
      for (const { r, params, body } of operations()) {
        const example = (where: string) =>
          params.filter((p) => p.in === where && p.example !== undefined);
        let path = r.path;
        for (const p of example('path')) {
          path = path.replace(`:${p.name}`, encodeURIComponent(String(p.example)));
        }
        const query = Object.fromEntries(example('query').map((p) => [p.name, String(p.example)]));
        let req = request(h.url)
          [r.method](path)
          .query(query)
          .set('Authorization', `Bearer ${h.admin}`);
        for (const p of example('header')) req = req.set(p.name, String(p.example));
        const res =
          body?.example !== undefined ? await req.send(body.example as object) : await req;
        if ([400, 415, 422].includes(res.status)) {
          refused.push(`${r.operationId}: ${res.status} ${JSON.stringify(res.body)}`);
        }
      }
      expect(refused, refused.join('\n')).to.deep.equal([]);
    });
  });

  describe('Swagger UI', function () {
    it('serves HTML at /swagger and /swagger/ that loads the bundle from this server', async function () {
      for (const path of [UI_PATH, `${UI_PATH}/`, `${UI_PATH}/index.html`]) {
        const res = await request(h.url).get(path);
        expect(res.status, path).to.equal(200);
        expect(res.headers['content-type'], path).to.match(/^text\/html/);
        expect(res.text, path).to.include('id="swagger-ui"');
      }
      const html = (await request(h.url).get(UI_PATH)).text;
      const scripts = [...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]!);
      const styles = [...html.matchAll(/<link[^>]*\bhref="([^"]+)"/g)].map((m) => m[1]!);
      const bundle = scripts.find((s) => s.includes('swagger-ui-bundle'));
      expect(bundle, html).to.be.a('string');
      for (const url of [...scripts, ...styles]) {
        expect(url, 'no CDN').to.match(/^\//);
        const res = await request(h.url).get(url);
        expect(res.status, url).to.equal(200);
      }
      const js = await request(h.url).get(bundle!);
      expect(js.headers['content-type']).to.match(/javascript/);
      expect(Number(js.headers['content-length'])).to.be.greaterThan(100_000);
    });

    it('points the UI at the spec', async function () {
      const html = (await request(h.url).get(UI_PATH)).text;
      const initializer = [...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)]
        .map((m) => m[1]!)
        .find((s) => s.includes('initializer'));
      const js = await request(h.url).get(initializer!);
      expect(js.status).to.equal(200);
      expect(js.text).to.include(JSON.stringify(SPEC_PATH));
    });

    it('serves only the UI files of the package', async function () {
      for (const path of [
        `${UI_PATH}/package.json`,
        `${UI_PATH}/README.md`,
        `${UI_PATH}/..%2Fpackage.json`,
      ]) {
        const res = await request(h.url).get(path);
        expect(res.status, path).to.equal(404);
      }
    });
  });
});
