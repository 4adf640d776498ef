/**
 * Crash injection: `nixlsim run` killed (SIGKILL) at each rename of its output step, for a fresh and for an existing
 * output directory. strace's fault injection delivers the signal on entry to the k-th rename, so no test hook lives in
 * src/. After each kill the directory must hold the whole old output or the whole new one (or, between the swap's two
 * renames, be absent with the whole old output in its backup), and after recoverOutputDir (what the next write there
 * does first) the whole old or the whole new output with nothing left beside it.
 *
 * Needs strace (Debian's `strace`); skipped, saying so, where there is none, except under CI (CI set), where its
 * absence fails: `.ci/run` installs it.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recoverOutputDir } from '../../src/spec/output.js';
import { ROOT } from '../helpers/cli.js';

const STRACE = ['/usr/bin/strace', '/bin/strace'].find((p) => existsSync(p));
const inCi = process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false';
const BIN = join(ROOT, 'bin', 'nixlsim.js');
const EXPERIMENT = join(ROOT, 'test', 'fixtures', 'bad', '_ok.yaml');
if (!STRACE && !inCi) console.warn('crash-output.test.ts: skipped, no strace on this machine (apt-get install strace)');

const root = mkdtempSync(join(tmpdir(), 'nixlsim-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every file under dir by relative path, with its bytes as text; undefined when dir does not exist. */
function snapshot(dir: string): Record<string, string> | undefined {
  if (!existsSync(dir)) return undefined;
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, 'latin1');
    }
  };
  walk(dir);
  return out;
}

/** `nixlsim run` of the tiny experiment into out, killed at the k-th rename when k is given. */
function run(out: string, seed: number, killAtRename?: number): { killed: boolean; code: number | null } {
  const args = [BIN, 'run', EXPERIMENT, '--out', out, '--workers', '1', '--seed', String(seed)];
  const r =
    killAtRename === undefined
      ? spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true' } })
      : spawnSync(STRACE!, ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=rename,renameat,renameat2', '-e', `inject=rename,renameat,renameat2:signal=KILL:when=${killAtRename}`, process.execPath, ...args], {
          cwd: ROOT,
          encoding: 'utf8',
          env: { ...process.env, CI: 'true' },
        });
  const killed = r.signal === 'SIGKILL' || r.status === 128 + 9;
  if (!killed && r.status !== 0) throw new Error(`nixlsim run failed (${r.status}): ${r.stderr}`);
  return { killed, code: r.status };
}

describe('a full disk', () => {
  it('is exit 2 naming the file that did not fit, with nothing half-written (where a tmpfs can be mounted)', (ctx) => {
    const mnt = join(root, 'small-disk');
    cpSync(EXPERIMENT, join(root, 'x.yaml'));
    spawnSync('mkdir', ['-p', mnt]);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) return ctx.skip(`cannot mount a small tmpfs here (${(m.stderr || m.error?.message || '').trim()})`);
    try {
      const r = spawnSync(process.execPath, [BIN, 'run', EXPERIMENT, '--out', join(mnt, 'D'), '--workers', '1'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^nixlsim: error: --out .*small-disk\/D: cannot write .*small-disk\/D\/[a-z.-]+: no space left on the device\n$/);
      expect(readdirSync(mnt)).toEqual([]);
    } finally {
      spawnSync('umount', [mnt]);
    }
  });
});

describe.runIf(!STRACE && inCi)('crash injection, under CI', () => {
  it('has strace', () => {
    throw new Error('CI is set but there is no strace: .ci/run installs it');
  });
});

describe.skipIf(!STRACE)('nixlsim run killed at each rename of its output step', () => {
  /** Kills a run into `out` at rename 1, 2, ... until one runs to the end; checks the directory after each kill. */
  function killAtEachRename(out: string, reset: () => void, old: Record<string, string> | undefined, fresh: Record<string, string>): number {
    let kills = 0;
    for (let k = 1; k <= 10; k++) {
      reset();
      const { killed } = run(out, 5, k);
      const parent = join(out, '..');
      if (!killed) {
        expect(snapshot(out)).toEqual(fresh);
        expect(readdirSync(parent)).toEqual(['D']);
        return kills;
      }
      kills++;
      const now = snapshot(out);
      if (now === undefined && old !== undefined) {
        // Between the swap's two renames: the old output whole in its backup.
        const backups = readdirSync(parent).filter((n) => /^D\.old-\d+-0$/.test(n));
        expect(backups).toHaveLength(1);
        expect(snapshot(join(parent, backups[0]!))).toEqual(old);
      } else {
        expect([old, fresh]).toContainEqual(now);
      }
      recoverOutputDir(out);
      expect([old, fresh]).toContainEqual(snapshot(out));
      expect(readdirSync(parent)).toEqual(old === undefined && snapshot(out) === undefined ? [] : ['D']);
    }
    throw new Error('still killed at the 10th rename: the output step renames more than it should');
  }

  it('a fresh directory: absent or whole, never partial, and nothing left behind', () => {
    const base = join(root, 'fresh');
    const out = join(base, 'D');
    run(out, 5);
    const fresh = snapshot(out)!;
    expect(Object.keys(fresh)).toContain('summary.json');
    const kills = killAtEachRename(out, () => rmSync(out, { recursive: true, force: true }), undefined, fresh);
    expect(kills).toBe(1); // one rename: the staged directory to its name
  });

  it('an existing directory: the whole old output or the whole new one, and nothing left behind', () => {
    const base = join(root, 'existing');
    const out = join(base, 'D');
    const keep = join(root, 'old-copy');
    run(out, 5);
    const fresh = snapshot(out)!;
    rmSync(out, { recursive: true });
    run(out, 1);
    const old = snapshot(out)!;
    expect(old['summary.json']).not.toBe(fresh['summary.json']);
    cpSync(out, keep, { recursive: true });
    const reset = () => {
      for (const n of readdirSync(base)) rmSync(join(base, n), { recursive: true, force: true });
      cpSync(keep, out, { recursive: true });
      expect(statSync(out).isDirectory()).toBe(true);
    };
    const kills = killAtEachRename(out, reset, old, fresh);
    expect(kills).toBe(2); // the old directory to its backup, the staged one to its name
  });
});
