/**
 * The nixlsim command line. Each command parses its flags, calls one function and prints; no logic lives here.
 * Errors: a user mistake prints one line and exits 2; a broken invariant exits 3 with a report (DESIGN.md, "Errors").
 * runCli runs one command line in this process and returns its exit code: main.ts (the binary) calls it, and so does
 * the argument-vector fuzz test.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs, { type Argv, type CommandModule } from 'yargs';
import { EXIT_INVARIANT, EXIT_USER, InvariantError, quoted, UserError } from '../errors.js';
import { withCatalogOption } from './catalog-option.js';
import { checkRepeatedFlags, positiveNumber } from './options.js';
import { setDeadline } from '../deadline.js';
import { MAX_POINTS, MAX_POINTS_CEILING, setSweepLimit } from '../experiment/sweep-limit.js';
import { commandName, COMMANDS, type CommandEntry } from './commands/index.js';

/**
 * The package's version, from the package.json above this module: the bundle (dist/cli.js), tsc's output
 * (dist/src/cli/main.js) and the source sit at different depths.
 */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    const up = dirname(dir);
    if (up === dir) throw new InvariantError(`no package.json above ${fileURLToPath(import.meta.url)}: nixlsim is installed incompletely`);
    dir = up;
  }
}

/**
 * The commands for yargs: the module of each command named on the command line (any argument spelt as a command's
 * name: the one yargs picks is among them), and for the others their entry in the table alone, which is all the
 * top-level help and yargs' suggestions read. Loading every module would cost most of a short command's time.
 */
async function commandModules(argv: readonly string[]): Promise<CommandModule<object, any>[]> {
  const named = new Set(argv);
  return Promise.all(COMMANDS.map((c) => (named.has(commandName(c)) ? c.load() : Promise.resolve(unloaded(c)))));
}

function unloaded(c: CommandEntry): CommandModule {
  return {
    command: c.command,
    describe: c.describe,
    handler: () => {
      throw new InvariantError(`command '${commandName(c)}' was run without its module loaded`);
    },
  };
}

/** The --timeout timer, cleared when the command ends (so that it never reports on a command that already has). */
let deadlineTimer: NodeJS.Timeout | undefined;

export async function buildCli(argv: string[]): Promise<Argv> {
  const commands = await commandModules(argv);
  return withCatalogOption(yargs(argv))
    .scriptName('nixlsim')
    .usage('$0 <command> [options]\n\nDiscrete-event simulator of disaggregated LLM inference and its NIXL KV-cache transfers.')
    .command(commands)
    .option('timeout', {
      global: true,
      requiresArg: true,
      describe: 'stop with exit 2 after this many seconds of wall time, writing nothing (outputs are written at the end, all together)',
      coerce: positiveNumber('timeout'),
    })
    .option('max-points', {
      global: true,
      requiresArg: true,
      describe: `the most points a sweep may expand to (default ${MAX_POINTS.toLocaleString('en-US')}, at most ${MAX_POINTS_CEILING.toLocaleString('en-US')})`,
      coerce: (v: unknown) => {
        setSweepLimit(v);
        return Number(v);
      },
    })
    .middleware((argv) => {
      const s = argv['timeout'] as number | undefined;
      if (s === undefined) return;
      // A guard on the process, not part of any result: results never read the clock. Simulations check the
      // deadline between chunks of events (deadline.ts); the timer covers the time spent waiting.
      setDeadline(s);
      deadlineTimer = setTimeout(() => {
        process.stderr.write(`nixlsim: error: --timeout ${s}: the command ran out of time; nothing was written\n`);
        process.exit(EXIT_USER);
      }, s * 1000).unref();
    })
    .demandCommand(1, 'Name a command; `nixlsim --help` lists them.')
    .strict()
    .recommendCommands()
    .version(packageVersion())
    .alias('h', 'help')
    // --help and --version print and return like any command: the process ends by itself, and runCli can return.
    .exitProcess(false)
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      const guess = /^Did you mean (\S+)\?$/.exec(msg.trim());
      if (guess) throw new UserError(`unknown command ${quoted(argv[0] ?? '')}; did you mean '${guess[1]}'? (${usageHint([])})`);
      throw new UserError(`${inOurWords(msg)} (${usageHint(argv)})`);
    });
}

/**
 * What to read after a flag mistake: the command's usage line and its --help when the command line names one, else
 * the list of commands.
 */
export function usageHint(argv: readonly string[]): string {
  const entry = COMMANDS.find((c) => commandName(c) === argv[0]);
  if (entry === undefined) return '`nixlsim --help` lists the commands, `nixlsim <command> --help` their flags';
  return `usage: nixlsim ${entry.command} [flags]; \`nixlsim ${commandName(entry)} --help\` lists them`;
}

/** yargs' own messages, said as nixlsim says things: flags with their dashes, on one line. */
export function inOurWords(msg: string): string {
  const flags = (list: string) =>
    list
      .split(',')
      .map((f) => f.trim())
      .filter((f) => f !== '')
      .map((f) => (f.startsWith('-') ? f : `--${f}`))
      .join(', ');
  const one = msg.replace(/\s*\n\s*/g, '; ').trim();
  let m: RegExpExecArray | null;
  if ((m = /^Missing required arguments?: (.*)$/.exec(one))) return `missing ${flags(m[1]!)}`;
  if ((m = /^Unknown arguments?: (.*)$/.exec(one))) return `unknown flag ${flags(m[1]!)}`;
  if ((m = /^Not enough non-option arguments: got (\d+), need at least (\d+)$/.exec(one))) return `this command needs at least ${m[2]} file or value argument(s), got ${m[1]}`;
  if ((m = /^Too many non-option arguments: got (\d+), maximum of (\d+)$/.exec(one))) return `this command takes at most ${m[2]} file or value argument(s), got ${m[1]}`;
  if ((m = /^Not enough arguments following: (.*)$/.exec(one))) return `--${m[1]} needs a value`;
  return one;
}

/** Prints an error the way its kind deserves and returns the exit code. */
export function reportError(err: unknown): number {
  // yargs wraps what a `coerce` function throws (our UserErrors included) in its own YError: a flag mistake too.
  if (err instanceof UserError || (err instanceof Error && err.name === 'YError')) {
    // One line whatever the message holds (messages quote the user's values on one line; this is the net under them).
    process.stderr.write(`nixlsim: error: ${err.message.replace(/\s*[\r\n]+\s*/g, ' ')}\n`);
    return EXIT_USER;
  }
  const kind = err instanceof InvariantError ? 'internal invariant violated' : 'internal error';
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`nixlsim: ${kind} (a bug in nixlsim, not in your input; please report it):\n${detail}\n`);
  return EXIT_INVARIANT;
}

/**
 * Runs one command line (the arguments after `nixlsim`) in this process: parses it, runs the command, prints what it
 * prints, and returns the exit code (0, 1 from `check`-like commands, 2 for a user mistake, 3 for a bug). Never throws.
 */
export async function runCli(args: string[]): Promise<number> {
  process.exitCode = undefined;
  setSweepLimit(undefined);
  try {
    checkRepeatedFlags(args);
    await (await buildCli(args)).parseAsync();
    const code = process.exitCode;
    return typeof code === 'number' ? code : 0;
  } catch (err) {
    return reportError(err);
  } finally {
    clearTimeout(deadlineTimer);
    process.exitCode = undefined;
  }
}
