/** The shape of a command, and how argv becomes one (node:util parseArgs, strict). */
import { parseArgs } from 'node:util';
import type { Context } from './context.js';
import { UsageError } from './errors.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's name in the usage, e.g. `<seconds>`. */
  value?: string;
  description: string;
}

export type Values = Record<string, string | boolean | undefined>;

export interface Command {
  /** One word, or a group and a word (`deployment follow`). */
  name: string;
  /** Positional arguments: `<required>` and `[optional]`. */
  args: string;
  summary: string;
  /** More lines for `--help`. */
  details?: string[];
  options?: Record<string, OptionSpec>;
  /** Returns the exit code (0 when nothing is returned). */
  run(ctx: Context, args: string[], values: Values): Promise<number | void>;
}

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  url: { type: 'string', value: '<url>', description: 'the service (default: the saved profile)' },
  tenant: { type: 'string', short: 't', value: '<id>', description: 'tenant id' },
  env: { type: 'string', short: 'e', value: '<name>', description: 'environment' },
  token: { type: 'string', value: '<jwt>', description: 'a bearer token for this call' },
  'api-key': { type: 'string', value: '<key>', description: 'an API key (cfgk_…) for this call' },
  profile: { type: 'string', value: '<name>', description: 'the saved profile to use' },
  json: { type: 'boolean', description: 'machine-readable output' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
};

/** parseArgs refuses `short: undefined`: leave it out. */
const toParseArgs = (o: OptionSpec) =>
  o.short ? { type: o.type, short: o.short } : { type: o.type };

const arity = (args: string) => ({
  min: (args.match(/<[^>]+>/g) ?? []).length,
  max: (args.match(/<[^>]+>|\[[^\]]+\]/g) ?? []).length,
});

/** Finds the command in `argv` (its first one or two positionals). */
export function findCommand(
  commands: Command[],
  argv: string[],
): { command: Command | undefined; words: number } {
  // A lenient pass over every known option, only to tell flags' values from positionals.
  const all: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const spec of [GLOBAL_OPTIONS, ...commands.map((c) => c.options ?? {})]) {
    for (const [name, o] of Object.entries(spec)) all[name] = toParseArgs(o);
  }
  const { positionals } = parseArgs({
    args: argv,
    options: all,
    strict: false,
    allowPositionals: true,
  });
  const [first, second] = positionals;
  const two = commands.find((c) => c.name === `${first} ${second}`);
  if (two) return { command: two, words: 2 };
  return { command: commands.find((c) => c.name === first), words: 1 };
}

/** Parses `argv` for `command`: unknown flags and wrong argument counts are UsageErrors. */
export function parseFor(
  command: Command,
  argv: string[],
  words: number,
): { args: string[]; values: Values } {
  const options = { ...GLOBAL_OPTIONS, ...command.options };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries(options).map(([k, o]) => [k, toParseArgs(o)])),
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]!.replace(/\. To specify.*$/, ''));
  }
  const args = parsed.positionals.slice(words);
  const values = parsed.values as Values;
  if (values.help) return { args, values };
  const { min, max } = arity(command.args);
  if (args.length < min) {
    const missing = command.args.match(/<[^>]+>/g)![args.length]!;
    throw new UsageError(`missing ${missing}`);
  }
  if (args.length > max) throw new UsageError(`unexpected argument '${args[max]}'`);
  return { args, values };
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, o]) => [
    `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`,
    o.description,
  ]);
  const width = Math.max(...rows.map(([l]) => l!.length));
  return rows.map(([l, d]) => `  ${l!.padEnd(width)}  ${d}`);
}

export function commandHelp(command: Command): string {
  const lines = [
    `usage: cfgctl ${command.name}${command.args ? ` ${command.args}` : ''} [options]`,
    '',
    command.summary,
  ];
  if (command.details) lines.push('', ...command.details);
  if (command.options && Object.keys(command.options).length) {
    lines.push('', 'options:', ...optionLines(command.options));
  }
  lines.push('', 'global options:', ...optionLines(GLOBAL_OPTIONS));
  return `${lines.join('\n')}\n`;
}

export function generalHelp(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => `${c.name} ${c.args}`.length));
  return [
    'usage: cfgctl <command> [arguments] [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${`${c.name} ${c.args}`.padEnd(width)}  ${c.summary}`),
    '',
    'global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    '`cfgctl <command> --help` shows a command’s options. Exit codes: 0 ok, 1 failure,',
    '2 usage, 3 followed deployment rolled back, 4 changed since read (stale, conflict),',
    '5 import/promote refused keys (nothing written), 130 interrupted.',
    '',
  ].join('\n');
}
