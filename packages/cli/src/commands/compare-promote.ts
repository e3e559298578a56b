/** Across environments: compare two, promote keys from one to another. */
import { readFile } from 'node:fs/promises';
import type { Command, Values } from '../command.js';
import { CliError, UsageError } from '../errors.js';
import { show, table } from '../format.js';
import { propose, type ChangeSetOutcome } from './change-sets.js';

const enc = encodeURIComponent;

interface Side {
  value: string;
  version: number;
  type: string;
}

/** The service's comparison (`GET /tenants/{t}/compare`). */
export interface Comparison {
  tenantId: string;
  from: string;
  to: string;
  summary: { equal: number; different: number; onlyInFrom: number; onlyInTo: number };
  items: {
    key: string;
    status: 'Equal' | 'Different' | 'OnlyInFrom' | 'OnlyInTo';
    from: Side | null;
    to: Side | null;
  }[];
}

/** `a,b` → `['a', 'b']`. */
const list = (text: string | boolean | undefined) =>
  typeof text === 'string'
    ? text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;

/** A value in a table cell: one line, at most `width` characters. */
function cell(side: Side | null, width = 40): string {
  if (!side) return '-';
  const text = show(side.value).replace(/\s+/g, ' ');
  const value = text.length > width ? `${text.slice(0, width - 1)}…` : text;
  return `${value} (v${side.version})`;
}

/** What people read of a comparison: a summary line, then the keys (equal ones with `all`). */
export function comparisonLines(c: Comparison, all: boolean): string[] {
  const s = c.summary;
  const status = {
    Equal: 'equal',
    Different: 'different',
    OnlyInFrom: `only in ${c.from}`,
    OnlyInTo: `only in ${c.to}`,
  };
  const shown = c.items.filter((i) => all || i.status !== 'Equal');
  const hidden = c.items.length - shown.length;
  return [
    `${c.from} → ${c.to}: ${s.different} different, ${s.onlyInFrom} only in ${c.from}, ` +
      `${s.onlyInTo} only in ${c.to}, ${s.equal} equal`,
    ...(shown.length
      ? table(
          ['KEY', 'STATUS', c.from.toUpperCase(), c.to.toUpperCase()],
          shown.map((i) => [
            i.key,
            status[i.status] + (i.from && i.to && i.from.type !== i.to.type ? ' (type)' : ''),
            cell(i.from),
            cell(i.to),
          ]),
        )
      : []),
    ...(hidden
      ? [`(${hidden} equal key${hidden === 1 ? '' : 's'} not shown: --all shows them)`]
      : []),
  ];
}

const FILTERS = {
  keys: { type: 'string' as const, value: '<k,k,…>', description: 'only these keys' },
  tags: {
    type: 'string' as const,
    value: '<t,t,…>',
    description: 'only keys with any of these tags',
  },
};

const compare: Command = {
  name: 'compare',
  args: '<from> <to>',
  summary: 'compare two environments key by key',
  details: [
    'Shows the keys that differ or are in one environment only (values of secrets masked).',
    '`--json > reviewed.json` keeps what you saw: `promote --expect reviewed.json` then refuses',
    '(exit 4) if the target changed since.',
  ],
  options: {
    ...FILTERS,
    all: { type: 'boolean', description: 'show equal keys too' },
  },
  async run(ctx, [from, to], o) {
    const c = await ctx.get<Comparison>(
      `/tenants/${enc(await ctx.tenant())}/compare?${filterQuery(from!, to!, o)}`,
    );
    ctx.print(comparisonLines(c, o.all === true), c);
  },
};

function filterQuery(from: string, to: string, o: Values): URLSearchParams {
  const query = new URLSearchParams({ from, to });
  for (const name of ['keys', 'tags'] as const) {
    const items = list(o[name]);
    if (items?.length) query.set(name, items.join(','));
  }
  return query;
}

/**
 * What a reviewed comparison (`compare --json`) asks of a promotion: the target versions seen
 * (0: absent), and, unless --keys names them, the keys that differed.
 */
export function expectationsOf(
  c: Comparison,
  from: string,
  to: string,
): { keys: string[]; expectedVersions: Record<string, number> } {
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  if (!Array.isArray(c?.items) || typeof c.from !== 'string' || typeof c.to !== 'string') {
    throw new CliError('--expect: not the output of `cfgctl compare --json`');
  }
  if (!same(c.from, from) || !same(c.to, to)) {
    throw new CliError(`--expect: that comparison is of ${c.from} → ${c.to}, not ${from} → ${to}`);
  }
  return {
    keys: c.items
      .filter((i) => i.status === 'Different' || i.status === 'OnlyInFrom')
      .map((i) => i.key),
    expectedVersions: Object.fromEntries(c.items.map((i) => [i.key, i.to?.version ?? 0])),
  };
}

const promote: Command = {
  name: 'promote',
  args: '<from> <to>',
  summary: 'promote keys from one environment to another, all at once',
  details: [
    'Without --keys, every key that differs or is missing in <to>. Where <to> needs approval',
    'it becomes ONE change request for all keys (approve it with `cfgctl approve cs_…`);',
    'otherwise every key changes in one write. Keys whose type differs are refused (exit 5);',
    'with --expect, a target key that changed since that comparison refuses it all (exit 4).',
  ],
  options: {
    keys: FILTERS.keys,
    expect: {
      type: 'string',
      value: '<file>',
      description: 'a `compare --json` you reviewed: promote exactly that, or nothing',
    },
    'dry-run': { type: 'boolean', description: 'show what would change; write nothing' },
    message: { type: 'string', short: 'm', value: '<text>', description: 'why (description)' },
  },
  async run(ctx, [from, to], o) {
    if (from!.toLowerCase() === to!.toLowerCase()) {
      throw new UsageError('<from> and <to> must be different environments');
    }
    let keys = list(o.keys);
    let expectedVersions: Record<string, number> | undefined;
    if (typeof o.expect === 'string') {
      const reviewed = expectationsOf(await readJson(o.expect), from!, to!);
      keys ??= reviewed.keys;
      // Only the keys promoted: another key moving since does not matter to this promotion.
      expectedVersions = Object.fromEntries(
        keys
          .filter((k) => Object.hasOwn(reviewed.expectedVersions, k))
          .map((k) => [k, reviewed.expectedVersions[k]!]),
      );
      if (keys.length === 0) {
        const none = { create: 0, update: 0, unchanged: 0 };
        ctx.print(`promote ${from} → ${to}: nothing differed in that comparison`, {
          outcome: 'Unchanged',
          summary: none,
          items: [],
          changeSet: null,
        });
        return;
      }
    }
    const tenant = await ctx.tenant();
    await propose(ctx, `promote ${from} → ${to}`, () =>
      ctx.post<ChangeSetOutcome>(`/tenants/${enc(tenant)}/promote`, {
        from,
        to,
        ...(keys?.length ? { keys } : {}),
        ...(expectedVersions ? { expectedVersions } : {}),
        ...(typeof o.message === 'string' ? { description: o.message } : {}),
        dryRun: o['dry-run'] === true,
      }),
    );
  },
};

async function readJson(file: string): Promise<Comparison> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`--expect: cannot read ${file} (${(error as NodeJS.ErrnoException).code})`);
  }
  try {
    return JSON.parse(text) as Comparison;
  } catch {
    throw new CliError(`--expect: ${file} is not JSON (the output of \`cfgctl compare --json\`)`);
  }
}

export const comparePromoteCommands = [compare, promote];
