/**
 * Authorisation against a resource's own tenant and environment, once it is found: another
 * tenant's resource (or another environment's, for a limited token) answers exactly as a missing
 * one does, so ids cannot be probed.
 */
import type { Response } from 'express';
import type { z } from 'zod';
import type { Services } from '../../composition.js';
import type { Page, ResourceFilter } from '../postgres/paging.js';
import { page } from './common.schemas.js';
import { DomainError } from '../domain-error.js';
import { named, ok, route, type Tag } from './route.js';
import { authorizeOrHide, environmentsIn, type Capability, type Principal } from '../auth/auth.js';
import { principalOf } from './request-context.js';

export const notFoundError = (what: string, id: string, field: string) => () =>
  new DomainError('not_found', `${what} '${id}' not found`, field);

/** A command guard: checks the caller's capability on the resource's tenant and environment. */
export const hidingGuard =
  (principal: Principal, capability: Capability, what: string, id: string, field: string) =>
  (tenantId: string, environment: string) =>
    authorizeOrHide(principal, capability, tenantId, environment, notFoundError(what, id, field));

/** The environments a token is limited to (null: all of the tenant's). */
export function limitedEnvironments(res: Response, tenantId: string): string[] | null {
  return environmentsIn(principalOf(res), tenantId);
}

/** Reads a row (after any read-your-writes wait) the caller may read, or answers 404. */
export async function readableRow<T extends { tenantId: string }>(
  res: Response,
  find: () => Promise<T | undefined>,
  environmentOf: (row: T) => string,
  hidden: () => DomainError,
): Promise<T> {
  const row = await find();
  if (!row) throw hidden();
  authorizeOrHide(principalOf(res), 'read', row.tenantId, environmentOf(row), hidden);
  return row;
}

/** What the reads of a tenant's resources of one kind need from its queries (read tables). */
export interface ResourceQueries<V> {
  list(filter: ResourceFilter): Promise<Page<V>>;
  find(id: string): Promise<V | undefined>;
  /** The environment a resource belongs to (a token may be limited to some). */
  environmentOf(row: V): string;
}

const pascal = (words: string) =>
  words.replace(/(?:^|\s)(\w)/g, (_m, c: string) => c.toUpperCase());

/**
 * The two reads of a tenant's resources of one kind (change requests, deployments), from the
 * read tables: a page filtered by the query (a token limited to some environments lists only
 * theirs), and one by id (another tenant's or environment's answers as a missing one does).
 */
export function resourceReads<
  V extends z.ZodType<{ tenantId: string }, { tenantId: string }>,
>(spec: {
  /** The collection, e.g. /api/v1/deployments. */
  path: string;
  /** One and many, e.g. ['deployment', 'deployments']: operation ids, tag, summaries, 404s. */
  noun: [one: string, many: string];
  /** Its id parameter (one field). */
  params: z.ZodObject<Record<string, z.ZodString>>;
  query: z.ZodObject;
  view: V;
  queries: (s: Services) => ResourceQueries<z.input<V>>;
}) {
  const [one, many] = spec.noun;
  const tag = (many[0]!.toUpperCase() + many.slice(1)) as Tag;
  const idField = Object.keys(spec.params.shape)[0]!;
  const list = route({
    operationId: `list${pascal(many)}`,
    method: 'get',
    path: spec.path,
    tag,
    summary: `List ${many} (paged)`,
    access: 'read',
    request: { query: spec.query },
    readYourWrites: ['read-model'],
    responses: {
      200: { description: 'A page', schema: named(`${pascal(one)}Page`, page(spec.view, many)) },
    },
    errors: [403, 404],
    async handle({ query }, { s, allow, res }) {
      const filter = query as unknown as ResourceFilter & { tenantId: string };
      allow(filter.tenantId, filter.environment);
      const environments = limitedEnvironments(res, filter.tenantId);
      // Under its declared spelling; an undeclared environment is 404 naming the declared ones.
      const environment =
        filter.environment === undefined
          ? undefined
          : await s.queries.environments.resolve(filter.tenantId, filter.environment);
      return ok(await spec.queries(s).list({ ...filter, environment, environments }));
    },
  });
  const get = route({
    operationId: `get${pascal(one)}`,
    method: 'get',
    path: `${spec.path}/:${idField}`,
    tag,
    summary: `Get a ${one}`,
    access: 'read',
    request: { params: spec.params },
    readYourWrites: ['read-model'],
    responses: { 200: { description: `The ${one}`, schema: spec.view } },
    errors: [403, 404],
    async handle({ params }, { s, res }) {
      const id = params[idField]!;
      const queries = spec.queries(s);
      const what = one[0]!.toUpperCase() + one.slice(1);
      const found = () => queries.find(id);
      const env = (row: z.input<V>) => queries.environmentOf(row);
      return ok(await readableRow(res, found, env, notFoundError(what, id, idField)));
    },
  });
  return [list, get] as const;
}
