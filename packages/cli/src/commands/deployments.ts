/** Deployments: deploy, list, status, follow (with a progress bar), pause, resume, promote, rollback. */
import type { Command } from '../command.js';
import type { Context } from '../context.js';
import { EXIT, UsageError } from '../errors.js';
import { bar, show, table } from '../format.js';
import { configOrFail, valueFor } from './configs.js';
import { ROLLOUT_OPTIONS, rolloutOf, tenantQuery } from './changes.js';

const enc = encodeURIComponent;

interface Deployment {
  deploymentId: string;
  key: string | null;
  environment: string;
  strategy: string;
  status: string;
  progress: number;
  canaryPercentage: number | null;
  value: string;
  rollbackReason: string | null;
  metrics?: { totals?: Record<string, { requests: number; errors: number }> };
}

const FINAL = ['Completed', 'RolledBack'];

/** The share of clients on the new value: what the bar shows. */
function share(d: Deployment): number {
  if (d.status === 'Completed') return 100;
  if (d.status === 'RolledBack') return 0;
  return d.canaryPercentage ?? d.progress;
}

function summary(d: Deployment): string {
  const totals = d.metrics?.totals;
  const canary = totals?.canary
    ? `  canary ${totals.canary.requests} req / ${totals.canary.errors} err`
    : '';
  const reason = d.rollbackReason ? `  (${d.rollbackReason})` : '';
  return `${bar(share(d))}  ${d.status}${canary}${reason}`;
}

/**
 * Polls the deployment until it completes or is rolled back: a bar redrawn in place on a
 * terminal, a line per change otherwise (and a JSON line per change with --json).
 */
async function follow(ctx: Context, id: string, intervalMs: number): Promise<number> {
  const tty = ctx.io.stdout.isTTY === true && !ctx.json;
  let last = '';
  for (;;) {
    const d = await ctx.get<Deployment>(`/deployments/${enc(id)}`);
    const line = ctx.json ? JSON.stringify(d) : summary(d);
    if (line !== last) {
      ctx.io.stdout.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      last = line;
    }
    if (FINAL.includes(d.status)) {
      if (tty) ctx.io.stdout.write('\n');
      return d.status === 'Completed' ? EXIT.ok : EXIT.rolledBack;
    }
    const stopped = await pause(intervalMs, ctx.io.signal);
    if (stopped) {
      if (tty) ctx.io.stdout.write('\n');
      return EXIT.interrupted;
    }
  }
}

/** Waits `ms`; true when `signal` aborted first (Ctrl-C). */
function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (aborted: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(aborted);
    };
    const onAbort = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function intervalOf(text: string | boolean | undefined): number {
  if (text === undefined) return 2000;
  const s = Number(text);
  if (typeof text !== 'string' || !(s >= 0.1 && s <= 3600)) {
    throw new UsageError('--interval is seconds, 0.1 to 3600');
  }
  return s * 1000;
}

const INTERVAL = {
  interval: {
    type: 'string' as const,
    value: '<seconds>',
    description: 'how often to look (default 2)',
  },
};

const deploy: Command = {
  name: 'deploy',
  args: '<key> <value>',
  summary: 'roll a new value out (directly, or as a canary) where no approval is needed',
  options: {
    ...ROLLOUT_OPTIONS,
    follow: { type: 'boolean', description: 'follow its progress until it ends' },
    ...INTERVAL,
  },
  async run(ctx, [key, text], o) {
    const config = await configOrFail(ctx, key!);
    const interval = intervalOf(o.interval);
    const result = await ctx.post<Deployment>('/deployments', {
      configId: config.configId,
      value: valueFor(config.type, text!),
      expectedVersion: config.version,
      ...(rolloutOf(o) ?? { strategy: 'Direct' }),
    });
    if (!o.follow) {
      ctx.print(`deployment ${result.deploymentId}: ${result.status}`, result);
      return;
    }
    if (!ctx.json) ctx.note(`deployment ${result.deploymentId}`);
    return follow(ctx, result.deploymentId, interval);
  },
};

const list: Command = {
  name: 'deployments',
  args: '',
  summary: 'deployments of the tenant (of --env, if given), newest first',
  options: {
    status: {
      type: 'string',
      value: '<status>',
      description: 'InProgress, Paused, Completed or RolledBack',
    },
  },
  async run(ctx, _args, o) {
    const page = await ctx.get<{ items: Deployment[] }>(
      `/deployments?${await tenantQuery(ctx, o)}`,
    );
    const rows = page.items.map((d) => [
      d.deploymentId,
      d.status,
      d.environment,
      d.key,
      d.strategy,
      `${d.progress} %`,
      d.value,
    ]);
    ctx.print(table(['ID', 'STATUS', 'ENV', 'KEY', 'STRATEGY', 'PROGRESS', 'VALUE'], rows), page);
  },
};

const status: Command = {
  name: 'deployment status',
  args: '<deployment-id>',
  summary: "a deployment's state, progress and canary metrics",
  async run(ctx, [id]) {
    const d = await ctx.get<Deployment>(`/deployments/${enc(id!)}`);
    ctx.print(
      [
        `${d.key ?? d.deploymentId} → ${show(d.value)} (${d.strategy}, ${d.environment})`,
        summary(d),
      ],
      d,
    );
  },
};

const followCommand: Command = {
  name: 'deployment follow',
  args: '<deployment-id>',
  summary: 'show progress until the deployment completes (exit 0) or is rolled back (exit 3)',
  options: INTERVAL,
  run: (ctx, [id], o) => follow(ctx, id!, intervalOf(o.interval)),
};

function action(name: 'pause' | 'resume' | 'promote' | 'rollback', what: string): Command {
  return {
    name: `deployment ${name}`,
    args: '<deployment-id>',
    summary: what,
    options:
      name === 'rollback'
        ? { reason: { type: 'string', short: 'm', value: '<text>', description: 'why (required)' } }
        : {},
    async run(ctx, [id], o) {
      if (name === 'rollback' && typeof o.reason !== 'string')
        throw new UsageError('missing --reason');
      const d = await ctx.post<Deployment>(
        `/deployments/${enc(id!)}/${name}`,
        name === 'rollback' ? { reason: o.reason } : {},
      );
      ctx.print(`deployment ${id}: ${d.status}`, d);
    },
  };
}

export const deploymentCommands = [
  deploy,
  list,
  status,
  followCommand,
  action('pause', 'stop at the current step'),
  action('resume', 'go on from where it was paused'),
  action('promote', 'jump to 100 %'),
  action('rollback', 'back to the previous value (also after completion)'),
];
