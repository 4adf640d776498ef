/**
 * Writing a command's output files all or nothing. A command computes everything first (every point simulated, every
 * chart rendered) and hands the files over in one call; nothing is created before that, so a mistake found on the
 * way leaves no directory behind. Then, in two phases:
 *
 * 1. Stage: each file is written in full to a temporary name. A file whose directory exists goes next to its target
 *    (`summary.json.tmp-<pid>`); files under a directory that does not exist yet go into a temporary sibling of the
 *    topmost missing directory (`reports/run.tmp-<pid>/...`), which holds the whole new tree.
 * 2. Commit: each staged directory is renamed to its real name (it appears with every file in it at once), then each
 *    staged file is renamed over its target, in the order given.
 *
 * A failure while staging (a full disk, a directory we may not write) removes everything staged and changes nothing.
 * Renames within a file system do not fail for want of space, so the commit does not fail in practice; if it does
 * (another process made the same directory at the same instant), the files already renamed stay and the rest are
 * removed.
 */
import { accessSync, constants, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { InvariantError, UserError } from '../errors.js';
import { shownPath } from '../yaml/positions.js';

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

/** Writes every file or none (see the top of this file). Returns their absolute paths, in the order given. */
export function writeOutputs(files: readonly OutputFile[]): string[] {
  const targets = files.map((f) => resolve(f.path));
  if (new Set(targets).size !== targets.length) throw new InvariantError(`writeOutputs was given one file twice: ${targets.join(', ')}`);
  for (const [i, f] of files.entries()) checkOutputFile(targets[i]!, f.flag);

  /** New top directory -> its staging directory. */
  const stages = new Map<string, string>();
  /** Staged files that go next to their targets: temp -> target, in order. */
  const inPlace: { from: string; to: string }[] = [];
  let current: OutputFile | undefined;
  try {
    for (const [i, f] of files.entries()) {
      current = f;
      const target = targets[i]!;
      const { firstMissing } = ancestry(dirname(target));
      let tmp: string;
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
      writeFileSync(tmp, f.data);
    }
    current = undefined;
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
