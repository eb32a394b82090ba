// Rampart's command line: the tree of commands is in program.ts, one file per command under
// commands/. This file runs it and turns what happened into an exit code.

import { type Command, CommanderError } from 'commander';
import { buildProgram, commandPath, walkCommands } from './program.ts';

/** A parse error commander raised, with the command it was parsing. */
class CommandLineError extends Error {
  readonly command: Command;
  readonly error: CommanderError;
  constructor(command: Command, error: CommanderError) {
    super(error.message);
    this.command = command;
    this.error = error;
  }
}

async function main(argv: string[]): Promise<number> {
  const outcome = { code: 0 };
  const program = buildProgram(outcome);
  // Commander's own printing and exiting are taken over here, for every command: errors are
  // worded below, and the exit code follows reportFailure's policy.
  for (const command of [program, ...walkCommands(program).map((c) => c.command)])
    command
      .configureOutput({ outputError: () => undefined })
      .showSuggestionAfterError(true)
      .exitOverride((e) => {
        throw new CommandLineError(command, e);
      });
  try {
    await program.parseAsync(normalizeArgv(argv), { from: 'user' });
    return outcome.code;
  } catch (e) {
    if (e instanceof CommandLineError) return commandLineFailure(e.command, e.error);
    if (e instanceof CommanderError) return commandLineFailure(program, e);
    // Loaded only now: --help and completion stay quick.
    const { reportFailure } = await import('./args.ts');
    return reportFailure(e);
  }
}

/**
 * The arguments as commander reads them: `-c=FILE` becomes `-c FILE` (commander would take
 * `=FILE` as the value). `--config=FILE`, `-cFILE` and `-c FILE` commander reads itself.
 * Nothing after `--` is touched.
 */
function normalizeArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const short = /^-([A-Za-z])=(.*)$/s.exec(arg);
    if (short) out.push(`-${short[1]}`, short[2]!);
    else out.push(arg);
  }
  return out;
}

/**
 * Help and --version end with 0; help printed because a command needs a subcommand (it went
 * to stderr) and every parse error with 2. A parse error names the command, says what was
 * wrong, suggests the nearest name when there is one, and where to read more.
 */
function commandLineFailure(command: Command, e: CommanderError): number {
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
  if (e.code === 'commander.help') return e.exitCode === 0 ? 0 : 2;
  const where = commandPath(command).join(' ');
  const [first = '', ...rest] = e.message.replace(/^error: /, '').split('\n');
  const what =
    e.code === 'commander.unknownCommand'
      ? `unknown command "${command.args[0]}"`
      : `${first.charAt(0).toUpperCase()}${first.slice(1)}`;
  const suggestion = /\(Did you mean (.+)\?\)/.exec(rest.join(' '))?.[1];
  const nearest =
    suggestion === undefined
      ? ''
      : e.code === 'commander.unknownCommand'
        ? `\ndid you mean ${where} ${suggestion}?`
        : `\ndid you mean ${suggestion}?`;
  process.stderr.write(`${where}: ${what}${nearest}\nrun ${where} --help for its usage\n`);
  return 2;
}

// Output piped into `head` and the like: a closed pipe ends the command quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
