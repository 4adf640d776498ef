/**
 * The nixlsim command line. Each command parses its flags, calls one function and prints; no logic lives here.
 * Errors: a user mistake prints one line and exits 2; a broken invariant exits 3 with a report (DESIGN.md, "Errors").
 */
import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { EXIT_INVARIANT, EXIT_USER, InvariantError, UserError } from '../errors.js';
import { withCatalogOption } from './catalog-option.js';
import { checkRepeatedFlags, positiveNumber } from './options.js';
import { setDeadline } from '../deadline.js';
import { auditCommand } from './commands/audit.js';
import { breakevenCommand } from './commands/breakeven.js';
import { calibrateCommand } from './commands/calibrate.js';
import { chartCommand } from './commands/chart.js';
import { checkCommand } from './commands/check.js';
import { fidelityCommand } from './commands/fidelity.js';
import { handshakeCommand } from './commands/handshake.js';
import { listCommand } from './commands/list.js';
import { mergeCommand } from './commands/merge.js';
import { nixlbenchCommand } from './commands/nixlbench.js';
import { planCommand } from './commands/plan.js';
import { quickstartCommand } from './commands/quickstart.js';
import { runCommand } from './commands/run.js';
import { sensitivityCommand } from './commands/sensitivity.js';
import { transferCommand } from './commands/transfer.js';
import { validateCommand } from './commands/validate.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The --timeout timer, cleared when the command ends (so that it never reports on a command that already has). */
let deadlineTimer: NodeJS.Timeout | undefined;

export function buildCli(argv: string[]): Argv {
  return withCatalogOption(yargs(argv))
    .scriptName('nixlsim')
    .usage('$0 <command> [options]\n\nDiscrete-event simulator of disaggregated LLM inference and its NIXL KV-cache transfers.')
    .command(quickstartCommand)
    .command(runCommand)
    .command(sensitivityCommand)
    .command(mergeCommand)
    .command(validateCommand)
    .command(checkCommand)
    .command(chartCommand)
    .command(breakevenCommand)
    .command(planCommand)
    .command(listCommand)
    .command(transferCommand)
    .command(nixlbenchCommand)
    .command(handshakeCommand)
    .command(auditCommand)
    .command(calibrateCommand)
    .command(fidelityCommand)
    .option('timeout', {
      global: true,
      requiresArg: true,
      describe: 'stop with exit 2 after this many seconds of wall time, writing nothing (outputs are written at the end, all together)',
      coerce: positiveNumber('timeout'),
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
    .version(pkg.version)
    .alias('h', 'help')
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      throw new UserError(`${inOurWords(msg)} (\`nixlsim --help\` lists the commands, \`nixlsim <command> --help\` their flags)`);
    });
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
    process.stderr.write(`nixlsim: error: ${err.message}\n`);
    return EXIT_USER;
  }
  const kind = err instanceof InvariantError ? 'internal invariant violated' : 'internal error';
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`nixlsim: ${kind} (a bug in nixlsim, not in your input; please report it):\n${detail}\n`);
  return EXIT_INVARIANT;
}

async function main(): Promise<void> {
  // A reader that closes the pipe early (`nixlsim run ... --json | head -c 10`) wanted no more: stop quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  try {
    const args = hideBin(process.argv);
    checkRepeatedFlags(args);
    await buildCli(args).parseAsync();
  } catch (err) {
    process.exitCode = reportError(err);
  } finally {
    clearTimeout(deadlineTimer);
  }
}

await main();
