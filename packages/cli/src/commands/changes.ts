/** Change requests: request, requests, approve, reject, cancel. */
import type { Command, OptionSpec, Values } from '../command.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { show, table } from '../format.js';
import { findConfig, valueFor } from './configs.js';

const enc = encodeURIComponent;

/** The rollout options `request` and `deploy` share. */
export const ROLLOUT_OPTIONS: Record<string, OptionSpec> = {
  canary: { type: 'boolean', description: 'roll out as a canary (default: directly)' },
  steps: { type: 'string', value: '<p,p,…>', description: 'canary percentages ending at 100' },
  bake: { type: 'string', value: '<seconds>', description: 'time at each step' },
  'error-threshold': {
    type: 'string',
    value: '<0..1>',
    description: 'canary error rate that rolls back',
  },
  'min-requests': { type: 'string', value: '<n>', description: 'reports needed before judging' },
};

const number = (name: string, text: string | boolean | undefined) => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (typeof text !== 'string' || text.trim() === '' || !Number.isFinite(n)) {
    throw new UsageError(`--${name} is a number`);
  }
  return n;
};

export function rolloutOf(o: Values): Record<string, unknown> | undefined {
  const canaryOnly = ['steps', 'bake', 'error-threshold', 'min-requests'].filter(
    (k) => o[k] !== undefined,
  );
  if (!o.canary) {
    if (canaryOnly.length) throw new UsageError(`--${canaryOnly[0]} needs --canary`);
    return undefined;
  }
  const steps =
    typeof o.steps === 'string'
      ? o.steps.split(',').map((s) => number('steps', s.trim())!)
      : undefined;
  return {
    strategy: 'Canary',
    steps,
    bakeTimeSeconds: number('bake', o.bake),
    errorThreshold: number('error-threshold', o['error-threshold']),
    minRequests: number('min-requests', o['min-requests']),
  };
}

/** The tenant's list filtered by --env (when given) and --status. */
export async function tenantQuery(ctx: Context, o: Values): Promise<URLSearchParams> {
  const query = new URLSearchParams({ tenantId: await ctx.tenant(), pageSize: '500' });
  const env = ctx.flags.env ?? ctx.io.env.CFGCTL_ENV;
  if (env) query.set('environment', env);
  if (typeof o.status === 'string') query.set('status', o.status);
  return query;
}

const request: Command = {
  name: 'request',
  args: '<key> [value]',
  summary: 'propose a change (a change request) where approval is needed',
  details: ['With --delete and no value, proposes deleting the key.'],
  options: {
    type: { type: 'string', value: '<type>', description: 'for a new key (default String)' },
    description: { type: 'string', short: 'm', value: '<text>', description: 'why' },
    delete: { type: 'boolean', description: 'propose deleting the key' },
    ...ROLLOUT_OPTIONS,
  },
  async run(ctx, [key, text], o) {
    if (o.delete ? text !== undefined : text === undefined) {
      throw new UsageError(o.delete ? '--delete takes no value' : 'missing <value>');
    }
    const existing = await findConfig(ctx, key!);
    const body: Record<string, unknown> = { description: o.description };
    if (o.delete) {
      if (!existing) throw new UsageError(`no configuration '${key}' to delete`);
      Object.assign(body, { configId: existing.configId, action: 'Delete' });
    } else {
      const type = existing?.type ?? (o.type as string | undefined) ?? 'String';
      Object.assign(
        body,
        existing
          ? { configId: existing.configId }
          : { tenantId: await ctx.tenant(), environment: await ctx.environment(), key, type },
        { value: valueFor(type, text!), rollout: rolloutOf(o) },
      );
    }
    const result = await ctx.post('/approvals', body);
    ctx.print(
      `change request ${String(result.approvalId)}: ${String(result.status)} ` +
        `(${String(result.currentApprovalLevel ?? 0)}/${String(result.requiredApprovalLevel)} approvals)`,
      result,
    );
  },
};

/** Which list a status filter applies to: change requests of one key, change sets of several. */
const REQUEST_STATUSES = ['Pending', 'Approved', 'Rejected', 'Cancelled', 'Expired'];
const SET_STATUSES = ['Pending', 'Applied', 'Rejected', 'Cancelled', 'Expired'];

const requests: Command = {
  name: 'requests',
  args: '',
  summary: 'change requests of the tenant (of --env, if given), promotions and imports included',
  details: [
    'Change requests of one key (apr_…) first, then those of several keys (cs_…: promotions',
    'and imports awaiting approval or done). --json: the change requests’ page, with the',
    'change sets under `changeSets`.',
  ],
  options: {
    status: {
      type: 'string',
      value: '<status>',
      description: 'Pending, Approved, Applied, Rejected, Cancelled or Expired',
    },
  },
  async run(ctx, _args, o) {
    const status = o.status as string | undefined;
    if (status !== undefined && ![...REQUEST_STATUSES, ...SET_STATUSES].includes(status)) {
      throw new UsageError(
        `--status is one of ${[...new Set([...REQUEST_STATUSES, ...SET_STATUSES])].join(', ')}`,
      );
    }
    const query = await tenantQuery(ctx, o);
    const empty = { items: [] as Record<string, unknown>[] };
    const [page, sets] = await Promise.all([
      status === undefined || REQUEST_STATUSES.includes(status)
        ? ctx.get<{ items: Record<string, unknown>[] }>(`/approvals?${query}`)
        : { ...empty, total: 0 },
      status === undefined || SET_STATUSES.includes(status)
        ? ctx.get<{ items: Record<string, unknown>[] }>(
            `/tenants/${enc(await ctx.tenant())}/change-sets?${withoutTenant(query)}`,
          )
        : empty,
    ]);
    const rows = page.items.map((r) => [
      r.approvalId,
      r.status,
      r.targetEnvironment,
      r.key,
      r.action === 'Delete' ? '(delete)' : r.proposedValue,
      `${show(r.currentApprovalLevel)}/${show(r.requiredApprovalLevel)}`,
      r.requestedBy,
    ]);
    const setRows = sets.items.map((c) => {
      const items = c.items as { key: string }[];
      const from = c.fromEnvironment ? ` from ${String(c.fromEnvironment)}` : '';
      return [
        c.changeSetId,
        c.status,
        c.environment,
        `${items.length} key${items.length === 1 ? '' : 's'}: ${items.map((i) => i.key).join(', ')}`,
        `(${String(c.source).toLowerCase()}${from})`,
        `${(c.approvers as unknown[]).length}/${show(c.requiredApprovals)}`,
        c.requestedBy,
      ];
    });
    ctx.print(
      table(['ID', 'STATUS', 'ENV', 'KEY', 'PROPOSED', 'APPROVALS', 'BY'], [...rows, ...setRows]),
      { ...page, changeSets: sets.items },
    );
  },
};

/** The change-sets route names the tenant in its path, not in the query. */
function withoutTenant(query: URLSearchParams): URLSearchParams {
  const q = new URLSearchParams(query);
  q.delete('tenantId');
  return q;
}

function review(action: 'approve' | 'reject' | 'cancel', summary: string): Command {
  return {
    name: action,
    args: '<request-id>',
    summary,
    details: [
      'An id apr_… is a change request of one key; cs_… one of several keys (a promotion or an',
      'import), applied all at once by the last approval (exit 4 if a key moved since).',
    ],
    options:
      action === 'cancel'
        ? {}
        : { comment: { type: 'string', short: 'm', value: '<text>', description: 'comments' } },
    async run(ctx, [id], o) {
      // Change sets (promotions, imports) are reviewed under their tenant.
      const path = id!.startsWith('cs_')
        ? `/tenants/${enc(await ctx.tenant())}/change-sets/${enc(id!)}/${action}`
        : `/approvals/${enc(id!)}/${action}`;
      const result = await ctx.post(path, action === 'cancel' ? {} : { comments: o.comment });
      const deployment =
        result.status === 'Approved' && result.deploymentId
          ? `, deployment ${String(result.deploymentId)}`
          : '';
      ctx.print(`change request ${id}: ${String(result.status)}${deployment}`, result);
    },
  };
}

export const changeCommands = [
  request,
  requests,
  review('approve', 'approve a change request (the last approval applies it)'),
  review('reject', 'reject a change request'),
  review('cancel', 'withdraw your own change request'),
];
