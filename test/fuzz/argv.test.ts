/**
 * The fuzz target for command lines: every generated `nixlsim ...` argument vector, run in this process as the binary
 * runs it (runCli), must end in exit 0, 1 or 2 within a time bound; a mistake (2) is one `nixlsim: error: ...` line on
 * stderr with no stack trace, and leaves every file as it was; a success leaves no temporaries. Exit 3 (a bug) is a
 * finding, reported with the command line.
 *
 * `npm test` runs FUZZ_RUNS cases (default 150) from a fixed seed; `npm run fuzz -- --runs N [--seed S]` runs more
 * (scripts/fuzz.mjs). Each case runs in a fresh working directory with CI set (no progress bars) and a deadline of
 * FUZZ_CASE_S seconds (a long legal command, a `fidelity` or a `plan`, stops with the --timeout error: exit 2).
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.js';
import { DEADLINE_ENV } from '../../src/deadline.js';
import { argvCase, type ArgvWorld } from './argv.js';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 150);
const SEED = Number(process.env['FUZZ_SEED'] ?? 29);
const CASE_S = Number(process.env['FUZZ_CASE_S'] ?? 3);
/** A file to append each command line to before it runs: the one to blame when a case takes the process down. */
const LOG = process.env['FUZZ_LOG'];
const OK = new URL('../fixtures/bad/_ok.yaml', import.meta.url).pathname;

const root = mkdtempSync(join(tmpdir(), 'nixlsim-fuzz-argv-'));
const home = process.cwd();
afterAll(() => {
  process.chdir(home);
  rmSync(root, { recursive: true, force: true });
});

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command line in this process, capturing what it prints. */
async function cli(argv: string[]): Promise<Ran> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { o: process.stdout.write, e: process.stderr.write, log: console.log, error: console.error, warn: console.warn, info: console.info };
  const sink = (to: string[]) => ((chunk: string | Uint8Array) => (to.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')), true)) as typeof process.stdout.write;
  process.stdout.write = sink(out);
  process.stderr.write = sink(err);
  console.log = console.info = (...a: unknown[]) => void out.push(`${a.join(' ')}\n`);
  console.error = console.warn = (...a: unknown[]) => void err.push(`${a.join(' ')}\n`);
  try {
    const code = await runCli(argv);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = saved.o;
    process.stderr.write = saved.e;
    Object.assign(console, { log: saved.log, error: saved.error, warn: saved.warn, info: saved.info });
  }
}

/** Every path under dir (relative), sorted. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

let world: ArgvWorld;
const fixtures = join(root, 'fixtures');

beforeAll(async () => {
  process.env['CI'] = 'true';
  mkdirSync(fixtures);
  const experiment = join(fixtures, 'ok.yaml');
  cpSync(OK, experiment);
  const fifo = join(fixtures, 'fifo');
  execFileSync('mkfifo', [fifo]);
  mkdirSync(join(fixtures, 'empty-dir'));
  writeFileSync(join(fixtures, 'file.txt'), 'not a directory\n');
  const runDir = join(fixtures, 'run');
  const shards = [join(fixtures, 'shard-1'), join(fixtures, 'shard-2')];
  for (const [args, what] of [
    [['run', experiment, '--out', runDir, '--workers', '1'], 'run'],
    [['run', experiment, '--out', shards[0]!, '--shard', '1/2', '--workers', '1'], 'shard 1'],
    [['run', experiment, '--out', shards[1]!, '--shard', '2/2', '--workers', '1'], 'shard 2'],
  ] as const) {
    const r = await cli([...args]);
    if (r.code !== 0) throw new Error(`setting up the fuzz world (${what}): ${r.stderr}`);
  }
  const commands = (await cli(['--help'])).stdout.match(/^ {2}nixlsim ([a-z]+)/gm)!.map((l) => l.trim().split(' ')[1]!);
  const flags: Record<string, string[]> = {};
  for (const c of commands) {
    const help = (await cli([c, '--help'])).stdout;
    // --timeout arms a timer that ends the process: the case deadline stands in for it here.
    flags[c] = [...new Set(help.match(/--[a-z][a-z0-9-]*/g) ?? [])].filter((f) => f !== '--timeout').sort();
  }
  expect(commands.length).toBeGreaterThan(10);
  world = {
    experiment,
    runDir,
    shards,
    hostile: [fifo, '/dev/zero', '/dev/null', join(fixtures, 'empty-dir'), join(fixtures, 'missing.yaml'), join(fixtures, 'file.txt', 'below'), '/proc/self/mem'],
    out: join(root, 'cases', 'out'),
    flags,
  };
}, 120_000);

describe(`fuzz: command lines (${RUNS} cases, seed ${SEED})`, () => {
  it('each ends in exit 0, 1 or 2; a mistake is one line with no stack trace and changes nothing', async () => {
    const cases = join(root, 'cases');
    const fixturesBefore = tree(fixtures);
    const codes: Record<number, number> = {};
    await fc.assert(
      fc.asyncProperty(fc.constant(null).chain(() => argvCase(world)), async (argv) => {
        if (LOG) appendFileSync(LOG, `${JSON.stringify(argv)}\n`);
        rmSync(cases, { recursive: true, force: true });
        mkdirSync(cases);
        process.chdir(cases);
        process.env[DEADLINE_ENV] = String(Date.now() + CASE_S * 1000);
        process.env['NIXLSIM_TIMEOUT_S'] = String(CASE_S);
        let r: Ran;
        try {
          r = await cli(argv);
        } finally {
          delete process.env[DEADLINE_ENV];
          delete process.env['NIXLSIM_TIMEOUT_S'];
          process.chdir(home);
        }
        codes[r.code] = (codes[r.code] ?? 0) + 1;
        const context = `nixlsim ${argv.map((a) => JSON.stringify(a)).join(' ')}\nexit ${r.code}\nstderr: ${r.stderr}`;
        expect([0, 1, 2], context).toContain(r.code);
        expect(r.stderr, context).not.toMatch(/\n\s+at /);
        if (r.code === 2) {
          // One line; `validate` reports each file it was given on a line of its own.
          if (argv[0] === 'validate') expect(r.stderr, context).toMatch(/^(nixlsim: (error|note): [^\n]+\n)+$/);
          else expect(r.stderr, context).toMatch(/^nixlsim: error: [^\n]+\n$/);
          expect(tree(cases), context).toEqual([]);
        }
        expect(tree(cases).filter((p) => /\.(tmp|old)-\d+/.test(p)), context).toEqual([]);
        const now = tree(fixtures);
        expect(now.filter((p) => /\.(tmp|old)-\d+/.test(p)), context).toEqual([]);
        if (r.code === 2) expect(now, context).toEqual(fixturesBefore);
        // A legal command may write where it was pointed (`chart <run dir>` adds charts there): take its files away again.
        else for (const p of now.filter((q) => !fixturesBefore.includes(q)).reverse()) rmSync(join(fixtures, p), { recursive: true, force: true });
        expect(tree(fixtures)).toEqual(fixturesBefore);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    console.log(`fuzz command lines: exit codes ${JSON.stringify(codes)}`);
    // Some legal command lines among them, or the fuzz tests only the parser.
    expect(codes[0] ?? 0).toBeGreaterThan(0);
  }, 900_000);
});
