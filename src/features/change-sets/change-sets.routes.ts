/**
 * Working across environments: compare two environments of a tenant, promote keys from one to
 * another, and the change sets promotions (and imports) make: one per operation, applied at once
 * or, where the target needs approval, reviewed as one change request.
 */
import { ok, route } from '../../core/http/route.js';
import { authorize } from '../../core/auth/auth.js';
import { commandReply } from '../../core/http/request-context.js';
import { limitedEnvironments } from '../../core/http/resource-access.js';
import { DomainError } from '../../core/domain-error.js';
import { tenantParams } from '../tenants/tenants.schemas.js';
import {
  changeSet,
  changeSetOfState,
  changeSetOutcome,
  changeSetOutcomeOf,
  changeSetPage,
  changeSetResult,
} from './change-set.view.js';
import { comparison } from './compare.view.js';
import {
  changeSetParams,
  changeSetsQuery,
  compareQuery,
  promoteBody,
  reviewBody,
} from './change-sets.schemas.js';
import type { ProposeOutcome } from './change-sets.commands.js';

const TENANT = '/api/v1/tenants/:tenantId';

const notFound = (changeSetId: string) =>
  new DomainError('not_found', `Change set '${changeSetId}' not found`, 'changeSetId');

/** 202 while the set waits for approval, 200 otherwise. */
export function outcomeReply(result: ProposeOutcome) {
  const body = changeSetOutcomeOf(result);
  return result.outcome === 'Pending'
    ? commandReply(202, body, result.position)
    : commandReply(200, body, result.position);
}

const compareEnvironments = route({
  operationId: 'compareEnvironments',
  method: 'get',
  path: `${TENANT}/compare`,
  tag: 'Across environments',
  summary: 'Compare two environments key by key (values of secrets masked)',
  description:
    'Each key present in either environment: Equal, Different, OnlyInFrom or OnlyInTo, with ' +
    "each side's value, version and last change. Pass the `to` versions you saw as " +
    '`expectedVersions` when promoting, so a change made after the comparison is not overwritten.',
  access: 'read',
  request: { params: tenantParams, query: compareQuery },
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'The comparison', schema: comparison } },
  errors: [403, 404, 422],
  async handle({ params, query }, { s, allow }) {
    allow(params.tenantId, query.from);
    allow(params.tenantId, query.to);
    if (query.from === query.to) {
      throw new DomainError('validation', 'from and to must be different environments', 'to');
    }
    const filter = {
      ...(query.keys ? { keys: query.keys } : {}),
      ...(query.tags ? { tags: query.tags } : {}),
    };
    return ok(await s.queries.changeSets.compare(params.tenantId, query.from, query.to, filter));
  },
});

const promote = route({
  operationId: 'promote',
  method: 'post',
  path: `${TENANT}/promote`,
  tag: 'Across environments',
  summary: 'Promote keys from one environment to another as one change set',
  description:
    'Without `keys`: every key that differs or is missing in `to`. Types and schemas are ' +
    'checked against the target first (a key is never re-typed). Where the target needs ' +
    'approval the promotion becomes ONE change set awaiting it (202); otherwise all keys ' +
    'change in one atomic write (200). A key changed after `expectedVersions` refuses the ' +
    'whole promotion (409, code stale, `conflicts` naming each key).',
  access: 'write',
  request: { params: tenantParams, body: promoteBody },
  readYourWrites: ['read-model'],
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
  errors: [403, 404, 409, 422],
  async handle({ params, body }, { s, principal, allow, command }) {
    allow(params.tenantId, body.to);
    authorize(principal, 'read', params.tenantId, body.from);
    const keys =
      body.keys ??
      (await s.queries.changeSets.compare(params.tenantId, body.from, body.to, {})).items
        .filter((i) => i.status === 'Different' || i.status === 'OnlyInFrom')
        .map((i) => i.key);
    const result = await s.changeSetCommands.promote(
      {
        tenantId: params.tenantId,
        from: body.from,
        to: body.to,
        keys,
        ...(body.expectedVersions ? { expectedVersions: body.expectedVersions } : {}),
        description: body.description ?? null,
        dryRun: body.dryRun,
      },
      command(),
    );
    return outcomeReply(result);
  },
});

const listChangeSets = route({
  operationId: 'listChangeSets',
  method: 'get',
  path: `${TENANT}/change-sets`,
  tag: 'Across environments',
  summary: "A tenant's change sets (promotions and imports), newest first",
  access: 'read',
  request: { params: tenantParams, query: changeSetsQuery },
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'A page', schema: changeSetPage } },
  errors: [403, 404],
  async handle({ params, query }, { s, allow, res }) {
    allow(params.tenantId, query.environment);
    return ok(
      await s.queries.changeSets.changeSets(params.tenantId, {
        ...query,
        environments: limitedEnvironments(res, params.tenantId),
      }),
    );
  },
});

const getChangeSet = route({
  operationId: 'getChangeSet',
  method: 'get',
  path: `${TENANT}/change-sets/:changeSetId`,
  tag: 'Across environments',
  summary: 'One change set: its keys, status and approvals',
  access: 'read',
  request: { params: changeSetParams },
  readYourWrites: ['read-model'],
  responses: { 200: { description: 'The change set', schema: changeSet } },
  errors: [403, 404],
  async handle({ params }, { s, allow, guard }) {
    allow(params.tenantId);
    const found = await s.queries.changeSets.changeSet(params.tenantId, params.changeSetId);
    if (!found) throw notFound(params.changeSetId);
    guard('Change set', params.changeSetId, 'changeSetId')(params.tenantId, found.environment);
    return ok(found);
  },
});

const review = (action: 'approve' | 'reject' | 'cancel', summary: string) =>
  route({
    operationId: `${action}ChangeSet`,
    method: 'post',
    path: `${TENANT}/change-sets/:changeSetId/${action}`,
    tag: 'Across environments',
    summary,
    access: action === 'cancel' ? 'write' : 'approve',
    request: { params: changeSetParams, body: reviewBody },
    responses: {
      200: { description: 'Done', schema: changeSetResult, headers: ['X-Event-Position'] },
    },
    errors: [403, 404, 409, 422],
    async handle({ params, body }, { s, allow, guard, command }) {
      allow(params.tenantId);
      const check = guard('Change set', params.changeSetId, 'changeSetId');
      const result = await s.changeSetCommands[action](
        { ...params, comments: body.comments ?? null },
        command(),
        (environment) => check(params.tenantId, environment),
      );
      return commandReply(200, changeSetOfState(result.changeSet!), result.position);
    },
  });

export const changeSetRoutes = [
  compareEnvironments,
  promote,
  listChangeSets,
  getChangeSet,
  review(
    'approve',
    'Approve a change set; the last approval needed applies every key at once (409 stale if any moved)',
  ),
  review('reject', 'Reject a change set'),
  review('cancel', 'Cancel your own change set'),
];
