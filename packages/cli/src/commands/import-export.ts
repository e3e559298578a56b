/** An environment as a file: export it (JSON, YAML, .env, .properties), import one (dry run first). */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from '../command.js';
import type { Context } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { propose, type ChangeSetOutcome } from './change-sets.js';

const enc = encodeURIComponent;

export const FORMATS = ['json', 'yaml', 'env', 'properties'] as const;
export type Format = (typeof FORMATS)[number];

const BY_EXTENSION: Record<string, Format> = {
  '.json': 'json',
  '.yaml': 'yaml',
  '.yml': 'yaml',
  '.env': 'env',
  '.properties': 'properties',
};

/** --format when given, else the file's extension (`.env` and `prod.env` alike), else JSON. */
export function formatOf(flag: string | boolean | undefined, file: string | undefined): Format {
  if (typeof flag === 'string') {
    if (!(FORMATS as readonly string[]).includes(flag)) {
      throw new UsageError(`--format is one of ${FORMATS.join(', ')}`);
    }
    return flag as Format;
  }
  if (file === undefined || file === '-') return 'json';
  const name = path.basename(file).toLowerCase();
  const ext = name === '.env' ? '.env' : path.extname(name);
  return BY_EXTENSION[ext] ?? 'json';
}

const FORMAT = {
  type: 'string' as const,
  value: '<format>',
  description: `${FORMATS.join(', ')} (default: from the file name, else json)`,
};

const environmentPath = async (ctx: Context) =>
  `/tenants/${enc(await ctx.tenant())}/environments/${enc(await ctx.environment())}`;

const exportCommand: Command = {
  name: 'export',
  args: '[file]',
  summary: 'write the environment (or its keys with a tag) to a file, or to stdout',
  details: [
    'Types are kept (JSON/YAML: { type, value } per key; .env/.properties: a `# @type` line).',
    'Secrets are written masked (********); importing the mask back leaves a secret as it is.',
  ],
  options: {
    format: FORMAT,
    tag: { type: 'string', value: '<tag>', description: 'only keys with this tag' },
  },
  async run(ctx, [file], o) {
    const format = formatOf(o.format, file);
    const query = new URLSearchParams({ format });
    if (typeof o.tag === 'string') query.set('tag', o.tag);
    const content = await ctx.getText(`${await environmentPath(ctx)}/export?${query}`);
    if (file === undefined || file === '-') {
      ctx.io.stdout.write(content);
      return;
    }
    await writeFile(file, content);
    const environment = await ctx.environment();
    ctx.print(`wrote ${environment} to ${file} (${format}, ${Buffer.byteLength(content)} bytes)`, {
      environment,
      file,
      format,
      bytes: Buffer.byteLength(content),
    });
  },
};

const importCommand: Command = {
  name: 'import',
  args: '<file>',
  summary: 'import a file into the environment as one change (`-`: stdin)',
  details: [
    'All keys or none: keys the environment has keep their type; new keys take the file’s',
    '(.env/.properties without `# @type`: String). --dry-run shows what would be created,',
    'updated or left unchanged, and the errors, writing nothing. Refused keys are named with',
    'their lines (exit 5). Where the environment needs approval the import becomes one change',
    'request (approve it with `cfgctl approve cs_…`).',
  ],
  options: {
    format: FORMAT,
    'dry-run': { type: 'boolean', description: 'show what would change; write nothing' },
    message: { type: 'string', short: 'm', value: '<text>', description: 'why (description)' },
  },
  async run(ctx, [file], o) {
    const format = formatOf(o.format, file);
    const base = await environmentPath(ctx);
    const what = `import ${file === '-' ? 'stdin' : file} into ${await ctx.environment()}`;
    if (file !== '-') {
      // The file itself as the body (no 1 MB JSON limit), with progress on stderr.
      const bytes = await read(file!);
      const query = new URLSearchParams({ format });
      if (o['dry-run'] === true) query.set('dryRun', 'true');
      if (typeof o.message === 'string') query.set('description', o.message);
      const big = bytes.length > 1 << 20;
      await propose(ctx, what, () =>
        ctx.upload<ChangeSetOutcome>(
          `${base}/import?${query}`,
          bytes,
          'application/octet-stream',
          (line) => {
            if (big && !ctx.json) ctx.note(progressText(line));
          },
        ),
      );
      return;
    }
    const content = await stdin(ctx);
    await propose(ctx, what, () =>
      ctx.post<ChangeSetOutcome>(`${base}/import`, {
        format,
        content,
        dryRun: o['dry-run'] === true,
        ...(typeof o.message === 'string' ? { description: o.message } : {}),
      }),
    );
  },
};

/** One progress line for people: `parsing: 1048576 bytes, 412 lines`. */
const progressText = (line: Record<string, unknown>) =>
  `${String(line.phase)}: ${Object.entries(line)
    .filter(([k]) => k !== 'phase' && k !== 'done')
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ')}`;

async function read(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new CliError(`cannot read ${file} (${(error as NodeJS.ErrnoException).code})`);
  }
}

async function stdin(ctx: Context): Promise<string> {
  if (!ctx.io.readStdin) throw new CliError('no standard input to read');
  return ctx.io.readStdin();
}

export const importExportCommands = [exportCommand, importCommand];
