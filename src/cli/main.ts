/**
 * The nixlsim command line. Each command parses its flags, calls one function and prints; no logic lives here.
 * Errors: a user mistake prints one line and exits 2; a broken invariant exits 3 with a report (DESIGN.md, "Errors").
 */
import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { EXIT_INVARIANT, EXIT_USER, InvariantError, UserError } from '../errors.js';
import { withCatalogOption } from './catalog-option.js';
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
    .demandCommand(1, 'Name a command; `nixlsim --help` lists them.')
    .strict()
    .recommendCommands()
    .version(pkg.version)
    .alias('h', 'help')
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      throw new UserError(`${msg}\nRun \`nixlsim --help\` for usage.`);
    });
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
  try {
    await buildCli(hideBin(process.argv)).parseAsync();
  } catch (err) {
    process.exitCode = reportError(err);
  }
}

await main();
