import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import yargs from 'yargs';
import { runCommand } from '../../src/cli/commands/run.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/nixlsim.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI (npm test builds dist/ first) as a user would, from the project root unless told otherwise: a
 * child process, ~0.3-0.5 s before any work. For what only a process shows (the binary and its bundle loading, exit
 * by signal or by the --timeout timer, pipes, a flag to node, variables read at startup); anything else runs faster
 * through nixlsimInProcess.
 */
export function nixlsim(args: string[], cwd = ROOT): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export interface InProcessOptions {
  /** The working directory of the command (default: the project root, as nixlsim()). */
  cwd?: string;
  /** Environment variables for the command: a string sets one, undefined unsets it. CI is 'true', as in nixlsim(). */
  env?: Record<string, string | undefined>;
}

/** The command lines running in this process, one at a time: output is captured by replacing process-wide writers. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs one command line in this process as the binary runs it (runCli, src/cli/main.ts without the process around it),
 * with what it prints on stdout and stderr captured, and the same exit code. The working directory, environment and
 * the catalog's user directories are put back afterwards; calls made at once run one after another. Not for a command
 * line with --timeout: its timer ends the process.
 */
export function nixlsimInProcess(args: string[], opts: InProcessOptions = {}): Promise<CliResult> {
  if (args.some((a) => a === '--timeout' || a.startsWith('--timeout='))) throw new Error('nixlsimInProcess: --timeout ends the process; use nixlsim()');
  const run = queue.then(() => inProcess(args, opts));
  queue = run.catch(() => undefined);
  return run;
}

async function inProcess(args: string[], { cwd = ROOT, env = {} }: InProcessOptions): Promise<CliResult> {
  const { runCli } = await import('../../src/cli/cli.js');
  const { useUserCatalog, userCatalogDirs } = await import('../../src/catalog/index.js');
  const out: string[] = [];
  const err: string[] = [];
  const text = (chunk: string | Uint8Array, encoding?: unknown) =>
    typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  const sink = (to: string[]) =>
    ((chunk: string | Uint8Array, encoding?: unknown, done?: unknown) => {
      to.push(text(chunk, encoding));
      const cb = typeof encoding === 'function' ? encoding : done;
      if (typeof cb === 'function') process.nextTick(cb as () => void);
      return true;
    }) as typeof process.stdout.write;
  const saved = { out: process.stdout.write, err: process.stderr.write, log: console.log, info: console.info, error: console.error, warn: console.warn };
  const envBefore = { ...process.env };
  const home = process.cwd();
  for (const [k, v] of Object.entries({ CI: 'true', ...env })) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  process.chdir(cwd);
  process.stdout.write = sink(out);
  process.stderr.write = sink(err);
  console.log = console.info = (...a: unknown[]) => void out.push(`${format(...a)}\n`);
  console.error = console.warn = (...a: unknown[]) => void err.push(`${format(...a)}\n`);
  try {
    const code = await runCli([...args]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    Object.assign(console, { log: saved.log, info: saved.info, error: saved.error, warn: saved.warn });
    process.chdir(home);
    // What the command set (the --timeout deadline, --debug-invariants) goes, and what it changed comes back.
    for (const k of Object.keys(process.env)) if (!(k in envBefore)) delete process.env[k];
    for (const [k, v] of Object.entries(envBefore)) if (process.env[k] !== v) process.env[k] = v;
    // A process reads the catalog once; the next command line here may name other directories or other files in them.
    if (userCatalogDirs().length > 0) useUserCatalog([]);
  }
}

/** Parses a `run` command line with run's real builder and a handler that only records what it was given. */
export async function parseRunArgs(argv: string[]): Promise<Record<string, unknown>> {
  let got: Record<string, unknown> = {};
  await yargs(argv)
    .command({ ...runCommand, handler: (a) => void (got = a as unknown as Record<string, unknown>) })
    .strict()
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .parseAsync();
  return got;
}
