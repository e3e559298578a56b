/** Configurations: get, set, history, diff, rollback, watch. */
import { createClient } from '@config-service/client';
import type { Command } from '../command.js';
import type { Context } from '../context.js';
import { CliError, EXIT, UsageError } from '../errors.js';
import { diffLines, linesOf, show, table } from '../format.js';

export interface ConfigRow {
  configId: string;
  key: string;
  type: string;
  value: string;
  version: number;
  environment: string;
  isSensitive: boolean;
}

const enc = encodeURIComponent;

/** The apps' route for the whole environment. */
const envRoute = async (ctx: Context) =>
  `/tenants/${enc(await ctx.tenant())}/environments/${enc(await ctx.environment())}/configs`;

/** The configuration named `key` in the environment, or undefined. */
export async function findConfig(ctx: Context, key: string): Promise<ConfigRow | undefined> {
  const tenant = await ctx.tenant();
  const environment = await ctx.environment();
  // `key=` matches a prefix: take the exact one (environment names match without regard to case).
  const page = await ctx.get<{ items: ConfigRow[] }>(
    `/configs?tenantId=${enc(tenant)}&environment=${enc(environment)}&key=${enc(key)}&pageSize=500`,
  );
  return page.items.find((c) => c.key === key);
}

export async function configOrFail(ctx: Context, key: string): Promise<ConfigRow> {
  const found = await findConfig(ctx, key);
  if (!found) throw new CliError(`no configuration '${key}' in ${await ctx.environment()}`);
  return found;
}

/** A value typed on the command line, as the service takes it for `type`. */
export function valueFor(type: string, text: string): unknown {
  if (type !== 'JSON') return text; // String as it is; Boolean, Integer, Number from their text
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`the value is not JSON (type JSON): ${text}`);
  }
}

const TYPES = ['String', 'Boolean', 'Integer', 'Number', 'JSON'];

const get: Command = {
  name: 'get',
  args: '[key]',
  summary: "a key's value as apps get it, or the whole environment",
  details: [
    'Without a key, every key of the environment; --json then gives the environment route’s',
    'answer, which the client takes as a bootstrap file.',
  ],
  async run(ctx, [key]) {
    const base = await envRoute(ctx);
    if (key === undefined) {
      const body = await ctx.get<{ configs: Record<string, unknown> }>(base);
      const rows = Object.entries(body.configs).map(([k, v]) => [k, v]);
      ctx.print(rows.length ? table(['KEY', 'VALUE'], rows) : [], body);
      return;
    }
    const body = await ctx.get<{ value: unknown }>(`${base}/${enc(key)}`);
    ctx.print(show(body.value), body);
  },
};

const set: Command = {
  name: 'set',
  args: '<key> <value>',
  summary: 'create a key or change its value (in environments that need no approval)',
  details: [
    'The value is text for String, Boolean, Integer and Number, and JSON for JSON.',
    'A change names the version it replaces, so a concurrent change fails instead of being lost.',
  ],
  options: {
    type: {
      type: 'string',
      value: '<type>',
      description: `for a new key: ${TYPES.join(', ')} (default String)`,
    },
    description: { type: 'string', value: '<text>', description: 'for a new key: what it is for' },
    sensitive: {
      type: 'boolean',
      description: 'for a new key: mask the value in lists and history',
    },
    message: {
      type: 'string',
      short: 'm',
      value: '<text>',
      description: 'why (change description)',
    },
  },
  async run(ctx, [key, text], o) {
    const type = o.type as string | undefined;
    if (type !== undefined && !TYPES.includes(type)) {
      throw new UsageError(`--type is one of ${TYPES.join(', ')}`);
    }
    const existing = await findConfig(ctx, key!);
    let result: Record<string, unknown>;
    if (existing) {
      if (type && type !== existing.type) {
        throw new CliError(`'${key}' is ${existing.type}; its type cannot change`);
      }
      result = await ctx.call(
        'PUT',
        `/configs/${enc(existing.configId)}`,
        { value: valueFor(existing.type, text!), changeDescription: o.message },
        { 'If-Match': `"${existing.version}"` },
      );
    } else {
      result = await ctx.post('/configs', {
        tenantId: await ctx.tenant(),
        environment: await ctx.environment(),
        key,
        type: type ?? 'String',
        value: valueFor(type ?? 'String', text!),
        description: o.description,
        isSensitive: o.sensitive === true ? true : undefined,
        changeDescription: o.message,
      });
    }
    ctx.print(`${key} = ${show(result.value)} (version ${String(result.version)})`, result);
  },
};

const history: Command = {
  name: 'history',
  args: '<key>',
  summary: "a key's versions, newest first",
  options: {
    page: { type: 'string', value: '<n>', description: 'page (default 1)' },
    'page-size': { type: 'string', value: '<n>', description: 'versions per page (default 50)' },
  },
  async run(ctx, [key], o) {
    const config = await configOrFail(ctx, key!);
    const query = new URLSearchParams({
      page: String(o.page ?? 1),
      pageSize: String(o['page-size'] ?? 50),
    });
    const page = await ctx.get<{ items: Record<string, unknown>[]; total: number }>(
      `/configs/${enc(config.configId)}/versions?${query}`,
    );
    const rows = page.items.map((v) => [
      v.version,
      v.changeType,
      v.value,
      v.changedBy,
      v.createdAt,
      v.changeDescription,
    ]);
    ctx.print(table(['VERSION', 'CHANGE', 'VALUE', 'BY', 'AT', 'DESCRIPTION'], rows), page);
  },
};

const version = (text: string) => {
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw new UsageError(`not a version: ${text}`);
  return Number(text);
};

const diff: Command = {
  name: 'diff',
  args: '<key> <from> <to>',
  summary: 'what changed between two versions of a key',
  async run(ctx, [key, from, to]) {
    const config = await configOrFail(ctx, key!);
    const [a, b] = await Promise.all(
      [version(from!), version(to!)].map((v) =>
        ctx.get<{ version: number; value: string }>(
          `/configs/${enc(config.configId)}/versions/${v}`,
        ),
      ),
    );
    const typed = (v: string) => (config.type === 'JSON' ? safeJson(v) : v);
    const [va, vb] = [typed(a!.value), typed(b!.value)];
    const lines = diffLines(linesOf(va), linesOf(vb));
    const changed = lines.some((l) => l[0] !== ' ');
    ctx.print([`--- ${key} version ${a!.version}`, `+++ ${key} version ${b!.version}`, ...lines], {
      key,
      changed,
      from: { version: a!.version, value: va },
      to: { version: b!.version, value: vb },
    });
  },
};

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const rollback: Command = {
  name: 'rollback',
  args: '<key> <version>',
  summary: "a new version with an earlier version's value",
  options: { message: { type: 'string', short: 'm', value: '<text>', description: 'why' } },
  async run(ctx, [key, to], o) {
    const config = await configOrFail(ctx, key!);
    const result = await ctx.call(
      'POST',
      `/configs/${enc(config.configId)}/rollback`,
      { version: version(to!), changeDescription: o.message },
      { 'If-Match': `"${config.version}"` },
    );
    ctx.print(
      `${key} = ${show(result.value)} (version ${String(result.version)}, from version ${to})`,
      result,
    );
  },
};

const watch: Command = {
  name: 'watch',
  args: '<key>',
  summary: "print a key's value now and on every change, until Ctrl-C",
  details: ['Follows the environment live, as apps do (server-sent events).'],
  async run(ctx, [key]) {
    // Once the read side has this profile's last change (X-Min-Position), as `get` would.
    await ctx.get(await envRoute(ctx));
    const client = createClient(await ctx.clientOptions());
    const line = (value: unknown, version: number | undefined) => {
      const at = new Date().toISOString();
      if (ctx.json)
        ctx.io.stdout.write(
          `${JSON.stringify({ key, value: value ?? null, version: version ?? null, at })}\n`,
        );
      else ctx.io.stdout.write(`${at}  ${value === undefined ? '(no such key)' : show(value)}\n`);
    };
    try {
      await client.ready();
      const first = client.lookup(key!);
      line(first?.value, first?.version);
      client.on('change', (_s, changed) => {
        if (!changed.includes(key!)) return;
        const e = client.lookup(key!);
        line(e?.value, e?.version);
      });
      client.on('stale', (e) =>
        ctx.note(`lost the service (${(e as Error).message}); reconnecting`),
      );
      client.on('reconnected', () => ctx.note('reconnected'));
      await new Promise<void>((resolve) => {
        if (ctx.io.signal?.aborted) return resolve();
        ctx.io.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
      return EXIT.interrupted;
    } catch (error) {
      throw new CliError((error as Error).message);
    } finally {
      await client.close();
    }
  },
};

export const configCommands = [get, set, history, diff, rollback, watch];
