/**
 * Writing a command's output files all or nothing. A command computes everything first (every point simulated, every
 * chart rendered) and hands the files over in one call; nothing is created before that, so a mistake found on the
 * way leaves no directory behind. Then, in two phases:
 *
 * 1. Stage: each file is written in full under a temporary name.
 *    - The command's output directory (`dir`, its `--out`), when it exists already, is rebuilt as a sibling
 *      `<dir>.tmp-<pid>`: its present entries hard-linked in (so files other commands put there stay), the new files
 *      written over them.
 *    - Files under a directory that does not exist yet go into a temporary sibling of the topmost missing directory
 *      (`reports/run.tmp-<pid>/...`), which holds the whole new tree.
 *    - Any other file goes next to its target (`baseline.json.tmp-<pid>`).
 * 2. Commit: the output directory is swapped in by two renames of directories: the old one to `<dir>.old-<pid>-0`,
 *    the staged one to `<dir>`; then the backup is removed. A new directory appears by one rename, with every file
 *    in it at once. Then each staged file is renamed over its target, in the order given.
 *
 * A failure while staging (a full disk, a directory we may not write) removes everything staged and changes nothing,
 * and is a UserError naming the path. A process killed at any point leaves the output directory whole: old or new,
 * or, between the two renames of the swap, absent with the old one whole in `<dir>.old-<pid>-0`. The next write to
 * that directory (recoverOutputDir) puts such a backup back and removes the temporaries of processes that are gone.
 * Two processes writing one directory at once each swap in their whole output; the later one wins.
 *
 * The swap is skipped, and the files are renamed in one by one as before, where swapping the directory would surprise:
 * the working directory or one of its ancestors, a directory whose parent we may not write, a tree of more than
 * MAX_SWAP_ENTRIES entries, or one holding something other than files, directories and symbolic links.
 */
import { accessSync, chmodSync, constants, copyFileSync, linkSync, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { InvariantError, shownPath, UserError } from '../errors.js';

/**
 * Where a command writes its reports when not given --out: reports/<name>/ (and any further segments) under the
 * current working directory, the user's project, never under the installed package.
 */
export function defaultReportDir(name: string, ...more: string[]): string {
  return join(process.cwd(), 'reports', name, ...more);
}

/** One file to write. */
export interface OutputFile {
  /** Where it goes (made absolute against the working directory). */
  path: string;
  data: string | Uint8Array;
  /** The flag that chose the place (`--out DIR`, `--junit FILE`), named in messages; by default the path alone. */
  flag?: string;
}

/** The temporary names of this process. */
const TAG = `.tmp-${process.pid}`;

/** The path's stat, or undefined when nothing is there (also when a file stands where a directory should). */
function statOf(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/**
 * `path`'s nearest ancestor that exists (itself included), and the topmost of its ancestors that does not (undefined
 * when `path` exists). A regular file in the way counts as existing: it is what makes the path impossible.
 */
function ancestry(path: string): { existing: string; firstMissing?: string } {
  let cur = resolve(path);
  let firstMissing: string | undefined;
  for (;;) {
    // Nothing here, or a file in the way further up (ENOTDIR): keep walking up to what exists.
    const st = statOf(cur);
    if (st) return firstMissing === undefined ? { existing: cur } : { existing: cur, firstMissing };
    firstMissing = cur;
    const up = dirname(cur);
    if (up === cur) return { existing: cur, firstMissing };
    cur = up;
  }
}

function where(path: string, flag: string | undefined): string {
  return flag ?? shownPath(path);
}

function why(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  if (e.code === 'ENOSPC') return 'no space left on the device';
  if (e.code === 'EROFS') return 'the file system is read-only';
  return err instanceof Error ? err.message : String(err);
}

/**
 * Checks, creating nothing, that directory `dir` exists or could be created and written: the nearest existing
 * ancestor must be a directory we may write in. Commands call it before the work, so that an impossible `--out` is
 * reported at once rather than after an hour of simulation; writeOutputs checks again.
 */
export function checkOutputDir(dir: string, flag?: string): void {
  const abs = resolve(dir);
  const at = where(abs, flag);
  let existing: string;
  let st: ReturnType<typeof statOf>;
  try {
    existing = ancestry(abs).existing;
    st = statOf(existing);
  } catch (err) {
    throw new UserError(`cannot use it: ${why(err)}`, at); // a name too long, a directory we may not search
  }
  if (!st?.isDirectory()) {
    const what = `${existing === abs ? '' : 'cannot create the directory: '}'${shownPath(existing)}' is a file, not a directory`;
    throw new UserError(what, at);
  }
  try {
    accessSync(existing, constants.W_OK);
  } catch (err) {
    throw new UserError(`cannot write in '${shownPath(existing)}': ${why(err)}`, at);
  }
}

/** The same for a file's place: its directory, and the file itself must not be a directory. */
export function checkOutputFile(file: string, flag?: string): void {
  const abs = resolve(file);
  checkOutputDir(dirname(abs), flag);
  let st: ReturnType<typeof statOf>;
  try {
    st = statOf(abs);
  } catch (err) {
    throw new UserError(`cannot use it: ${why(err)}`, where(abs, flag));
  }
  if (st?.isDirectory()) throw new UserError('it is a directory; expected a file name', where(abs, flag));
}

// ---------------------------------------------------------------------------------------------------------------------
// Temporaries of killed processes, and the swap of an existing output directory

/** Entries of an existing output directory tree past which it is not swapped but written file by file. */
export const MAX_SWAP_ENTRIES = 10_000;

/** `<name>.tmp-<pid>` (a staged file or directory) and `<name>.old-<pid>-<k>` (a swapped-out directory). */
const STAGED = /\.tmp-(\d+)$/;
const BACKUP = /\.old-(\d+)-\d+$/;

/** Whether process `pid` still runs (then its temporaries are its own business). This process's own are stale. */
function running(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // someone else's process: alive
  }
}

function staleOf(name: string, base: string): 'staged' | 'backup' | undefined {
  if (!name.startsWith(`${base}.`)) return undefined;
  const rest = name.slice(base.length);
  const staged = STAGED.exec(rest);
  if (staged && rest === staged[0] && !running(Number(staged[1]))) return 'staged';
  const backup = BACKUP.exec(rest);
  if (backup && rest === backup[0] && !running(Number(backup[1]))) return 'backup';
  return undefined;
}

/** Removes `<file>.tmp-<pid>` files of dead processes in a tree (a run killed among its file renames). */
function removeStaleFiles(dir: string, budget: { left: number }): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (--budget.left < 0) return;
    const m = STAGED.exec(e.name);
    if (m && !running(Number(m[1]))) rmSync(join(dir, e.name), { recursive: true, force: true });
    else if (e.isDirectory()) removeStaleFiles(join(dir, e.name), budget);
  }
}

/**
 * Makes `dir` whole again after a killed run: when it is absent and a dead process's backup of it is there, the
 * backup goes back (the newest, should there be several); then the dead processes' staged copies and backups beside it
 * and their staged files inside it are removed. Changes nothing when no process was killed. Every writeOutputs with
 * a `dir` calls it first.
 */
export function recoverOutputDir(dir: string): void {
  const abs = resolve(dir);
  const parent = dirname(abs);
  const base = basename(abs);
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return; // no parent yet: nothing to recover
  }
  const stale = names.map((n) => ({ n, kind: staleOf(n, base) })).filter((x) => x.kind !== undefined);
  let restored: string | undefined;
  if (!statOf(abs)) {
    // The newest backup goes back (there are several only when runs were killed mid-swap again and again).
    const mtime = (n: string) => lstatSync(join(parent, n)).mtimeMs;
    restored = stale.filter((x) => x.kind === 'backup').map((x) => x.n).sort((a, b) => mtime(b) - mtime(a) || (a < b ? -1 : 1))[0];
    if (restored !== undefined) renameSync(join(parent, restored), abs);
  }
  for (const x of stale) if (x.n !== restored) rmSync(join(parent, x.n), { recursive: true, force: true });
  if (statOf(abs)?.isDirectory()) removeStaleFiles(abs, { left: MAX_SWAP_ENTRIES });
}

/** Whether the existing directory `dir` may be swapped (see the top of this file). */
function swappable(dir: string): boolean {
  const cwd = process.cwd();
  const fromDir = relative(dir, cwd);
  if (fromDir === '' || (!fromDir.startsWith('..') && !isAbsolute(fromDir))) return false; // the working directory or above it
  if (dirname(dir) === dir) return false;
  try {
    accessSync(dirname(dir), constants.W_OK);
  } catch {
    return false;
  }
  let left = MAX_SWAP_ENTRIES;
  const walk = (d: string): boolean => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (--left < 0) return false;
      if (e.isDirectory()) {
        if (!walk(join(d, e.name))) return false;
      } else if (!e.isFile() && !e.isSymbolicLink()) return false;
    }
    return true;
  };
  try {
    return walk(dir);
  } catch {
    return false;
  }
}

/**
 * Rebuilds the tree `from` at `to` (which exists) from hard links (copies where the file system has none), leaving
 * out the relative paths in `skip`: the files about to be written anew.
 */
function cloneTree(from: string, to: string, skip: ReadonlySet<string>, rel = ''): void {
  for (const e of readdirSync(from, { withFileTypes: true })) {
    const r = rel === '' ? e.name : `${rel}${sep}${e.name}`;
    if (skip.has(r)) continue;
    const src = join(from, e.name);
    const dst = join(to, e.name);
    if (e.isDirectory()) {
      mkdirSync(dst);
      chmodSync(dst, statSync(src).mode & 0o7777);
      cloneTree(src, dst, skip, r);
    } else if (e.isSymbolicLink()) {
      symlinkSync(readlinkSync(src), dst);
    } else {
      try {
        linkSync(src, dst);
      } catch {
        copyFileSync(src, dst);
      }
    }
  }
}

/**
 * Renames `stage` to `dir`, moving the directory there (if any) out of the way first and removing it after. Another
 * process may be swapping the same directory: when one has put a directory back between our two renames, we move
 * that one out too and try again.
 */
function swapIn(stage: string, dir: string): void {
  const backups: string[] = [];
  try {
    for (let k = 0; ; k++) {
      if (k === 100) throw new Error(`another process keeps replacing '${shownPath(dir)}'`);
      const backup = `${dir}.old-${process.pid}-${k}`;
      try {
        renameSync(dir, backup);
        backups.push(backup);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      try {
        renameSync(stage, dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      }
    }
  } catch (err) {
    // Put the old directory back where nothing took its place; the caller removes the staged one.
    const last = backups.pop();
    if (last !== undefined && !statOf(dir)) renameSync(last, dir);
    for (const b of backups) rmSync(b, { recursive: true, force: true });
    throw err;
  }
  for (const b of backups) rmSync(b, { recursive: true, force: true });
}

/** Options of writeOutputs. */
export interface WriteOptions {
  /**
   * The command's output directory: the files under it are swapped in together with it (see the top of this file),
   * and a killed earlier run's leftovers in and beside it are cleaned up first.
   */
  dir?: string;
}

/** Writes every file or none (see the top of this file). Returns their absolute paths, in the order given. */
export function writeOutputs(files: readonly OutputFile[], opts: WriteOptions = {}): string[] {
  const targets = files.map((f) => resolve(f.path));
  if (new Set(targets).size !== targets.length) throw new InvariantError(`writeOutputs was given one file twice: ${targets.join(', ')}`);
  for (const [i, f] of files.entries()) checkOutputFile(targets[i]!, f.flag);
  const outDir = opts.dir !== undefined ? resolve(opts.dir) : undefined;
  if (outDir !== undefined) {
    try {
      recoverOutputDir(outDir);
    } catch (err) {
      throw new UserError(`cannot clean up after an earlier run in ${shownPath(outDir)}: ${why(err)}`, files[0]?.flag);
    }
  }
  const swapDir = outDir !== undefined && statOf(outDir)?.isDirectory() && swappable(outDir) ? outDir : undefined;

  /** The existing output directory's staged copy, once made. */
  let swapStage: string | undefined;
  /** New top directory -> its staging directory. */
  const stages = new Map<string, string>();
  /** Staged files that go next to their targets: temp -> target, in order. */
  const inPlace: { from: string; to: string }[] = [];
  let current: OutputFile | undefined;
  /** Whether a target goes into the swapped directory, and the first file that does (named if the swap fails). */
  const inSwap = (t: string) => swapDir !== undefined && t.startsWith(swapDir + sep);
  const firstInSwap = files[targets.findIndex(inSwap)];
  try {
    if (swapDir !== undefined) {
      const inside = targets.filter(inSwap).map((t) => relative(swapDir, t));
      current = firstInSwap;
      swapStage = `${swapDir}${TAG}`;
      rmSync(swapStage, { recursive: true, force: true });
      mkdirSync(swapStage);
      chmodSync(swapStage, statSync(swapDir).mode & 0o7777);
      cloneTree(swapDir, swapStage, new Set(inside));
    }
    for (const [i, f] of files.entries()) {
      current = f;
      const target = targets[i]!;
      let tmp: string;
      if (swapStage !== undefined && inSwap(target)) {
        tmp = join(swapStage, relative(swapDir!, target));
        mkdirSync(dirname(tmp), { recursive: true });
      } else {
        const { firstMissing } = ancestry(dirname(target));
        if (firstMissing === undefined) {
          tmp = `${target}${TAG}`;
          inPlace.push({ from: tmp, to: target });
        } else {
          let stage = stages.get(firstMissing);
          if (stage === undefined) {
            stage = `${firstMissing}${TAG}`;
            rmSync(stage, { recursive: true, force: true }); // left by an earlier process of the same id that was killed
            stages.set(firstMissing, stage);
            mkdirSync(stage);
          }
          tmp = join(stage, relative(firstMissing, target));
          mkdirSync(dirname(tmp), { recursive: true });
        }
      }
      writeFileSync(tmp, f.data);
    }
    current = undefined;
    if (swapStage !== undefined) {
      current = firstInSwap;
      swapIn(swapStage, swapDir!);
      swapStage = undefined;
    }
    for (const [top, stage] of stages) {
      current = files.find((_, i) => targets[i]!.startsWith(top + sep));
      renameSync(stage, top);
      stages.delete(top);
    }
    for (const m of inPlace.splice(0)) {
      current = files[targets.indexOf(m.to)];
      renameSync(m.from, m.to);
    }
  } catch (err) {
    if (swapStage !== undefined) rmSync(swapStage, { recursive: true, force: true });
    for (const stage of stages.values()) rmSync(stage, { recursive: true, force: true });
    for (const m of inPlace) rmSync(m.from, { force: true });
    if (err instanceof UserError) throw err;
    const path = current ? resolve(current.path) : targets[0]!;
    throw new UserError(`cannot write ${shownPath(path)}: ${why(err)}`, current?.flag);
  }
  return targets;
}

/** Writes dir/name through a temporary file and a rename (writeOutputs with one file). Returns its path. */
export function writeFileAtomic(dir: string, name: string, data: string | Uint8Array, flag?: string): string {
  return writeOutputs([{ path: join(dir, name), data, ...(flag !== undefined ? { flag } : {}) }])[0]!;
}
