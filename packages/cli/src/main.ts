/** cfgctl: argv in, exit code out (the binary wires it to the process; tests call it directly). */
import { commandHelp, findCommand, generalHelp, parseFor, type Command } from './command.js';
import { Context, type GlobalFlags, type Io } from './context.js';
import { CliError, EXIT, UsageError } from './errors.js';
import { changeCommands } from './commands/changes.js';
import { comparePromoteCommands } from './commands/compare-promote.js';
import { importExportCommands } from './commands/import-export.js';
import { configCommands } from './commands/configs.js';
import { deploymentCommands } from './commands/deployments.js';
import { sessionCommands } from './commands/session.js';

/** Every command; a new one is one more module in this list. */
export const COMMANDS: Command[] = [
  ...sessionCommands,
  ...configCommands,
  ...changeCommands,
  ...deploymentCommands,
  ...comparePromoteCommands,
  ...importExportCommands,
];

export const VERSION = '0.1.0';

export async function main(argv: string[], io: Io): Promise<number> {
  if (argv.length === 1 && argv[0] === '--version') {
    io.stdout.write(`cfgctl ${VERSION}\n`);
    return EXIT.ok;
  }
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  const { command, words } = findCommand(
    COMMANDS,
    argv.filter((a) => a !== 'help'),
  );
  if (!command) {
    const first = argv.find((a) => !a.startsWith('-'));
    if ((wantsHelp || argv[0] === 'help') && (first === undefined || first === 'help')) {
      io.stdout.write(generalHelp(COMMANDS));
      return EXIT.ok;
    }
    const group = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map(
      (c) => c.name.split(' ')[1],
    );
    const why =
      first === undefined
        ? 'missing command'
        : group.length
          ? `${first}: missing subcommand (${group.join(', ')})`
          : `unknown command '${first}'`;
    io.stderr.write(`cfgctl: ${why}\n\n${generalHelp(COMMANDS)}`);
    return EXIT.usage;
  }
  try {
    if (argv[0] === 'help') {
      io.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    const { args, values } = parseFor(command, argv, words);
    if (values.help) {
      io.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    const ctx = new Context(io, values as GlobalFlags);
    return (await command.run(ctx, args, values)) ?? EXIT.ok;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`cfgctl ${command.name}: ${error.message}\n\n${commandHelp(command)}`);
      return EXIT.usage;
    }
    if (error instanceof CliError) {
      io.stderr.write(`cfgctl: ${[error.message, ...error.details].join('\n')}\n`);
      return error.exit;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`cfgctl: ${message}\n`);
    if (io.env.CFGCTL_DEBUG && error instanceof Error) io.stderr.write(`${error.stack}\n`);
    return EXIT.failure;
  }
}
