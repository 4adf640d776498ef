/**
 * Every command shown in README.md, docs/*.md and experiments/README.md runs as shown, and every experiment file under
 * experiments/ and docs/ validates and runs.
 *
 * The commands run in order, file by file, as a reader would type them (a `merge` after the `run --shard`s before it),
 * in this process as the binary runs them (runCli; through the binary a command written with `VAR=value` before it,
 * since a variable may be read when the process starts, or with --timeout, whose timer ends the process), in a scratch
 * copy of the project (experiments/, docs/, models/ and traces/ linked in, the committed baselines copied) so that what they
 * write lands there; `/tmp/...` paths are moved under the scratch directory too.
 * `npm test` runs the quick ones (those of the commands in QUICK, a second or so each) and says which it left out;
 * with DOC_COMMANDS=all, as `.ci/run` sets it, every one runs (a few minutes: plans, break-even sweeps, the checks).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nixlsimInProcess, ROOT } from '../helpers/cli.js';
import { docCommands, documentedFiles, type DocCommand } from './doc-commands.js';

const ALL = process.env['DOC_COMMANDS'] === 'all';
/** Commands that answer in about a second whatever their arguments: run in every `npm test`. */
const QUICK = new Set(['--help', '--version', 'transfer', 'handshake', 'list', 'validate', 'audit', 'calibrate', 'nixlbench']);
const BIN = join(ROOT, 'bin', 'nixlsim.js');

const scratch = mkdtempSync(join(tmpdir(), 'nixlsim-doc-commands-'));
for (const d of ['experiments', 'docs', 'models', 'traces']) symlinkSync(join(ROOT, d), join(scratch, d));
mkdirSync(join(scratch, 'reports'));
cpSync(join(ROOT, 'reports', 'baselines'), join(scratch, 'reports', 'baselines'), { recursive: true });
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** `/tmp/x` as a path under the scratch directory; a last segment with `*` expanded as the shell would (sorted). */
function placed(arg: string): string[] {
  const a = arg.replace(/(^|=)\/tmp\//g, `$1${scratch}/tmp/`);
  if (!a.includes('*')) return [a];
  const dir = dirname(a);
  const re = new RegExp(`^${basename(a).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`);
  const hits = existsSync(join(scratch, dir)) || existsSync(dir) ? readdirSync(dir.startsWith('/') ? dir : join(scratch, dir)).filter((n) => re.test(n)).sort() : [];
  return hits.length > 0 ? hits.map((n) => join(dir, n)) : [a];
}

async function nixlsim(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  mkdirSync(join(scratch, 'tmp'), { recursive: true });
  if (Object.keys(env).length === 0 && !args.some((a) => a.startsWith('--timeout'))) return nixlsimInProcess(args, { cwd: scratch });
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: scratch, encoding: 'utf8', env: { ...process.env, CI: 'true', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const label = (c: DocCommand) => `${c.where}: nixlsim ${c.args.join(' ')}`.slice(0, 160);

for (const file of documentedFiles(ROOT)) {
  const commands = docCommands(ROOT, file);
  if (commands.length === 0) continue;
  describe(`the commands in ${file}`, () => {
    for (const c of commands) {
      const quick = QUICK.has(c.args[0] ?? '');
      // A few documented runs replay a whole trace hour (a minute or two on a busy machine, beside the other tests).
      it.skipIf(!ALL && !quick)(label(c), async () => {
        const r = await nixlsim(c.args.flatMap(placed), c.env);
        expect([r.code, r.stderr.split('\n').filter((l) => l.startsWith('nixlsim: error')).join('\n')], `${c.where}`).toEqual([0, '']);
      }, 600_000);
    }
  });
}

describe('every experiment file under experiments/ and docs/', () => {
  const files = [...readdirSync(join(ROOT, 'experiments'), { recursive: true, encoding: 'utf8' }).map((f) => join('experiments', f)), ...readdirSync(join(ROOT, 'docs', 'examples')).map((f) => join('docs', 'examples', f))]
    .filter((f) => f.endsWith('.yaml') && !f.includes(`${join('docs', 'examples', 'catalog')}`))
    .sort();
  /** A user catalog a documented experiment needs: docs/examples/ is run with its catalog, as docs/catalog.md shows. */
  const catalogOf = (f: string) => (f.startsWith(join('docs', 'examples')) ? ['--catalog', join('docs', 'examples', 'catalog')] : []);

  it('there are some', () => {
    expect(files).toContain(join('experiments', 'tcp-vs-rdma.yaml'));
    expect(files.length).toBeGreaterThan(8);
  });

  it.each(files)('%s validates and runs with 2 requests a point', async (f) => {
    const v = await nixlsim(['validate', f, ...catalogOf(f)]);
    expect([v.code, v.stderr]).toEqual([0, expect.not.stringContaining('error')]);
    const out = join(scratch, 'tmp', 'experiments', relative('.', f).replaceAll('/', '_'));
    const r = await nixlsim(['run', f, ...catalogOf(f), '--out', out, '--set', 'workload.requests=2', '--set', 'workload.warmup=0']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(existsSync(join(out, 'summary.json'))).toBe(true);
  });
});
