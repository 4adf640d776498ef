/**
 * The bad-input corpus (test/fixtures/bad/cases.yaml), every case: a user mistake exits 2 with one `nixlsim: error:`
 * message naming the file, the line (or row) and the field, with no stack trace, nothing on stdout, and nothing written
 * anywhere. The cases run before the assertions: most in this process as the binary runs them (runCli, one after
 * another), and those in SPAWNED through the CLI binary as child processes, so that the bundle's path (its loading,
 * the exit code of the process, its stdout and stderr) is held to the same assertions.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { nixlsimInProcess, ROOT } from '../helpers/cli.js';

const BAD_REL = 'test/fixtures/bad';
const BAD = join(ROOT, BAD_REL);
const BIN = join(ROOT, 'bin/nixlsim.js');
/** Child processes at once: the machine has 2 cores, and each process spends most of its time starting Node. */
const PARALLEL = 2;
/**
 * The cases run through the binary: a YAML mistake and a JSON one, a run that fails after a point has finished (on a
 * worker thread, into an existing report directory), a merge, an input that is a device, and a flag mistake.
 */
const SPAWNED = new Set(['yaml-bad-indent', 'json-truncated', 'trace-bad-row-after-a-good-point', 'shards-of-different-runs', 'input-device-experiment', 'flag-unknown']);

const caseSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9.-]+$/),
  argv: z.array(z.string()).min(1),
  file: z.string().optional(),
  line: z.number().int().min(1).optional(),
  row: z.number().int().min(1).optional(),
  noLine: z.string().optional(),
  field: z.string().min(1),
  says: z.string().optional(),
  outExists: z.boolean().optional(),
  uses: z.array(z.string()).optional(),
});
type Case = z.infer<typeof caseSchema>;

const cases: Case[] = z.array(caseSchema).parse(parseYaml(readFileSync(join(BAD, 'cases.yaml'), 'utf8')));

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  /** What the case's temporary directory holds afterwards (paths relative to it, with sizes), and held before. */
  tmpBefore: string[];
  tmpAfter: string[];
  /** The pre-existing report directory's files and bytes afterwards, for an outExists case. */
  outAfter?: Record<string, string>;
}

/** Every file below `dir`, relative, with its size and modification time: what "nothing written" compares. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) {
        out.push(`${relative(dir, p)}/`);
        walk(p);
      } else out.push(`${relative(dir, p)} ${st.size} ${st.mtimeMs}`);
    }
  };
  walk(dir);
  return out;
}

function contents(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

/** What an outExists case finds in its report directory before the run, and must find after it. */
const EARLIER = { 'summary.json': '{"from": "an earlier run"}\n', 'events.log': '# an earlier run\n' };

const tmps: string[] = [];

/** The binary run as a child process, from the project root. */
function spawned(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...argv], { cwd: ROOT, env: { ...process.env, CI: 'true' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

async function runCase(c: Case): Promise<Outcome> {
  const tmp = mkdtempSync(join(tmpdir(), `nixlsim-bad-${c.id}-`));
  tmps.push(tmp);
  const out = join(tmp, 'out');
  if (c.outExists) {
    mkdirSync(out);
    for (const [f, text] of Object.entries(EARLIER)) writeFileSync(join(out, f), text);
  }
  const tmpBefore = listing(tmp);
  const argv = c.argv.map((a) => a.replaceAll('{bad}', BAD_REL).replaceAll('{out}', out).replaceAll('{tmp}', tmp));
  const r = SPAWNED.has(c.id) ? await spawned(argv) : await nixlsimInProcess(argv);
  return { ...r, tmpBefore, tmpAfter: listing(tmp), ...(c.outExists ? { outAfter: contents(out) } : {}) };
}

/** The spawned cases a few at a time, while the others run here one after another. */
async function runAll(list: Case[]): Promise<Map<string, Outcome>> {
  const results = new Map<string, Outcome>();
  const lanes = (cases: Case[], width: number) => {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < cases.length) {
        const c = cases[next++]!;
        results.set(c.id, await runCase(c));
      }
    };
    return Array.from({ length: width }, lane);
  };
  await Promise.all([...lanes(list.filter((c) => SPAWNED.has(c.id)), PARALLEL), ...lanes(list.filter((c) => !SPAWNED.has(c.id)), 1)]);
  return results;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let fixturesBefore: string[];
let outcomes: Map<string, Outcome>;

beforeAll(async () => {
  fixturesBefore = listing(BAD);
  outcomes = await runAll(cases);
}, 300_000);

afterAll(() => {
  for (const t of tmps) rmSync(t, { recursive: true, force: true });
});

describe('the bad-input corpus', () => {
  it('has at least 40 cases, each with its own id', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
  });

  it('runs the cases of SPAWNED through the binary: each is a case of the corpus', () => {
    expect([...SPAWNED].filter((id) => !cases.some((c) => c.id === id))).toEqual([]);
  });

  it('uses every fixture file in test/fixtures/bad (named in some argv or uses), and every file a case uses exists', () => {
    const named = cases.flatMap((c) => [...c.argv.filter((a) => a.startsWith('{bad}/')).map((a) => a.slice('{bad}/'.length)), ...(c.uses ?? [])]);
    const files = listing(BAD)
      .filter((l) => !l.endsWith('/'))
      .map((l) => l.split(' ')[0]!)
      .filter((f) => f !== 'cases.yaml');
    // A case names a file, or a directory of them (a shard directory, a baselines directory).
    const unused = files.filter((f) => !named.some((n) => f === n || f.startsWith(`${n}/`)));
    expect(unused).toEqual([]);
    for (const c of cases) for (const u of c.uses ?? []) expect(statSync(join(BAD, u)), `${c.id} uses ${u}`).toBeTruthy();
  });

  it('says where each message points: a file with a line or row, or why there is none; a flag needs no file', () => {
    for (const c of cases) {
      const flag = c.field.startsWith('--') || /^[a-z]+$/.test(c.field);
      if (c.file === undefined) expect(flag, `${c.id}: a message without a file must be about a flag`).toBe(true);
      else expect(c.line !== undefined || c.row !== undefined || c.noLine !== undefined, `${c.id}: give line, row or noLine`).toBe(true);
    }
  });

  describe.each(cases.map((c) => [c.id, c] as const))('%s', (_id, c) => {
    it('exits 2 with one error message naming the file, line or row, and field; nothing on stdout, nothing written', () => {
      const r = outcomes.get(c.id)!;
      const shown = `${c.argv.join(' ')} (${SPAWNED.has(c.id) ? 'the binary' : 'in process'})\n--- stderr:\n${r.stderr}--- stdout:\n${r.stdout}`;
      expect(r.code, shown).toBe(2);
      // One message, in nixlsim's words, never a stack trace.
      expect(r.stderr.startsWith('nixlsim: error: '), shown).toBe(true);
      expect(r.stderr.match(/nixlsim:/g), shown).toHaveLength(1);
      expect(r.stderr, shown).not.toMatch(/^\s+at /m);
      expect(r.stderr, shown).not.toMatch(/node:internal|\.js:\d+:\d+|internal error/);
      expect(r.stdout, shown).toBe('');
      // What it names.
      if (c.file !== undefined) expect(r.stderr, shown).toContain(c.file);
      if (c.line !== undefined) expect(r.stderr, shown).toMatch(new RegExp(`${escape(c.file!)}:${c.line}(?!\\d)`));
      if (c.row !== undefined) expect(r.stderr, shown).toMatch(new RegExp(`row ${c.row}(?!\\d)`));
      expect(r.stderr, shown).toContain(c.field);
      if (c.says !== undefined) expect(r.stderr, shown).toMatch(new RegExp(c.says));
      // Nothing written: the temporary directory (where --out pointed) holds what it held before; a report directory
      // that existed keeps its files and bytes.
      expect(r.tmpAfter, shown).toEqual(r.tmpBefore);
      if (c.outExists) expect(r.outAfter, shown).toEqual(EARLIER);
    });
  });

  it('wrote nothing into the fixtures (no output, no temporary file left next to them)', () => {
    expect(listing(BAD)).toEqual(fixturesBefore);
  });
});
