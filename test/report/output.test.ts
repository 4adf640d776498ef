import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { checkOutputDir, checkOutputFile, recoverOutputDir, writeFileAtomic, writeOutputs } from '../../src/spec/output.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'nixlsim-output-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A value writeFileSync refuses: the way to make the second of two writes fail after the first succeeded. */
const UNWRITABLE = 42 as unknown as string;

function errorOf(f: () => unknown): UserError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error('expected a UserError');
}

describe('writeOutputs', () => {
  it('creates a new directory tree with every file in it, and nothing else (no temporary names left)', () => {
    const root = tmp();
    const out = join(root, 'reports', 'run');
    const files = writeOutputs([
      { path: join(out, 'events.log'), data: 'log\n' },
      { path: join(out, 'summary.json'), data: '{}\n' },
      { path: join(out, 'charts', 'a.png'), data: new Uint8Array([1, 2, 3]) },
    ]);
    expect(files).toEqual([join(out, 'events.log'), join(out, 'summary.json'), join(out, 'charts', 'a.png')]);
    expect(readdirSync(root)).toEqual(['reports']);
    expect(readdirSync(join(root, 'reports'))).toEqual(['run']);
    expect(readdirSync(out).sort()).toEqual(['charts', 'events.log', 'summary.json']);
    expect([...readFileSync(join(out, 'charts', 'a.png'))]).toEqual([1, 2, 3]);
  });

  it('a failure while writing the second file of a new directory leaves no directory at all', () => {
    const root = tmp();
    const out = join(root, 'new', 'run');
    const err = errorOf(() => writeOutputs([{ path: join(out, 'events.log'), data: 'log\n' }, { path: join(out, 'summary.json'), data: UNWRITABLE, flag: `--out ${out}` }]));
    expect(err.message).toMatch(/^--out .*: cannot write .*summary\.json/);
    expect(readdirSync(root)).toEqual([]);
  });

  it('a failure while writing the second file into an existing directory leaves the earlier files as they were', () => {
    const out = tmp();
    writeFileSync(join(out, 'events.log'), 'old log\n');
    writeFileSync(join(out, 'summary.json'), 'old summary\n');
    errorOf(() => writeOutputs([{ path: join(out, 'events.log'), data: 'new log\n' }, { path: join(out, 'summary.json'), data: UNWRITABLE }]));
    expect(readdirSync(out).sort()).toEqual(['events.log', 'summary.json']);
    expect(readFileSync(join(out, 'events.log'), 'utf8')).toBe('old log\n');
    expect(readFileSync(join(out, 'summary.json'), 'utf8')).toBe('old summary\n');
  });

  it('replaces files in an existing directory, keeping the others', () => {
    const out = tmp();
    writeFileSync(join(out, 'summary.json'), 'old\n');
    writeFileSync(join(out, 'notes.txt'), 'mine\n');
    writeFileAtomic(out, 'summary.json', 'new\n');
    expect(readdirSync(out).sort()).toEqual(['notes.txt', 'summary.json']);
    expect(readFileSync(join(out, 'summary.json'), 'utf8')).toBe('new\n');
  });

  it('checks every place before writing anything: a file in the way of the last one stops all of them', () => {
    const root = tmp();
    writeFileSync(join(root, 'file'), 'a regular file\n');
    const err = errorOf(() => writeOutputs([{ path: join(root, 'a', 'x.json'), data: '1' }, { path: join(root, 'file', 'y.json'), data: '2', flag: '--junit file/y.json' }]));
    expect(err.message).toBe(`--junit file/y.json: '${join(root, 'file')}' is a file, not a directory`);
    expect(readdirSync(root)).toEqual(['file']);
  });
});

/** The pid of a process that has ended (a finished child's). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

describe('writeOutputs with an output directory: the directory is swapped in whole', () => {
  it('replaces an existing directory by a new one holding the new files and the files it had that were not replaced', () => {
    const root = tmp();
    const out = join(root, 'run');
    mkdirSync(join(out, 'charts'), { recursive: true });
    writeFileSync(join(out, 'summary.json'), 'old\n');
    writeFileSync(join(out, 'charts', 'old.png'), 'old chart\n');
    writeFileSync(join(out, 'notes.txt'), 'mine\n');
    chmodSync(out, 0o750);
    const before = statSync(out).ino;
    writeOutputs([{ path: join(out, 'summary.json'), data: 'new\n' }, { path: join(out, 'charts', 'a.png'), data: 'a\n' }], { dir: out });
    // A new directory (another inode) took the old one's place, and nothing else is left beside it.
    expect(statSync(out).ino).not.toBe(before);
    expect(readdirSync(root)).toEqual(['run']);
    expect(readdirSync(out).sort()).toEqual(['charts', 'notes.txt', 'summary.json']);
    expect(readdirSync(join(out, 'charts')).sort()).toEqual(['a.png', 'old.png']);
    expect(readFileSync(join(out, 'summary.json'), 'utf8')).toBe('new\n');
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('mine\n');
    expect(statSync(out).mode & 0o777).toBe(0o750);
  });

  it('a failure while staging leaves the existing directory as it was (the same directory) and no temporaries', () => {
    const root = tmp();
    const out = join(root, 'run');
    mkdirSync(out);
    writeFileSync(join(out, 'summary.json'), 'old\n');
    const before = statSync(out).ino;
    errorOf(() => writeOutputs([{ path: join(out, 'events.log'), data: 'log\n' }, { path: join(out, 'summary.json'), data: UNWRITABLE }], { dir: out }));
    expect(statSync(out).ino).toBe(before);
    expect(readdirSync(root)).toEqual(['run']);
    expect(readdirSync(out)).toEqual(['summary.json']);
    expect(readFileSync(join(out, 'summary.json'), 'utf8')).toBe('old\n');
  });

  it('writes file by file into the working directory (never swapping the directory a shell stands in)', () => {
    const out = tmp();
    writeFileSync(join(out, 'summary.json'), 'old\n');
    const before = statSync(out).ino;
    const cwd = process.cwd();
    process.chdir(out);
    try {
      writeOutputs([{ path: join(out, 'summary.json'), data: 'new\n' }], { dir: out });
    } finally {
      process.chdir(cwd);
    }
    expect(statSync(out).ino).toBe(before);
    expect(readFileSync(join(out, 'summary.json'), 'utf8')).toBe('new\n');
  });

  it("recoverOutputDir puts back a killed run's backup and removes the temporaries of processes that are gone", () => {
    const root = tmp();
    const out = join(root, 'run');
    const dead = deadPid();
    // Killed between the swap's two renames: the old output in the backup, the new one staged, the directory absent.
    mkdirSync(join(root, `run.old-${dead}-0`));
    writeFileSync(join(root, `run.old-${dead}-0`, 'summary.json'), 'old\n');
    mkdirSync(join(root, `run.tmp-${dead}`));
    writeFileSync(join(root, `run.tmp-${dead}`, 'summary.json'), 'new\n');
    // Another directory's temporaries, and a live process's (this one's parent), are not ours to touch.
    mkdirSync(join(root, `other.tmp-${dead}`));
    mkdirSync(join(root, `run.tmp-${process.ppid}`));
    recoverOutputDir(out);
    expect(readdirSync(root).sort()).toEqual(['other.tmp-' + dead, 'run', `run.tmp-${process.ppid}`].sort());
    expect(readFileSync(join(out, 'summary.json'), 'utf8')).toBe('old\n');
    // Killed among per-file renames: staged files inside the directory.
    writeFileSync(join(out, `summary.json.tmp-${dead}`), 'half\n');
    mkdirSync(join(out, 'charts'));
    writeFileSync(join(out, 'charts', `a.png.tmp-${dead}`), 'half\n');
    recoverOutputDir(out);
    expect(readdirSync(out).sort()).toEqual(['charts', 'summary.json']);
    expect(readdirSync(join(out, 'charts'))).toEqual([]);
    // With nothing to recover it changes nothing.
    const ino = statSync(out).ino;
    recoverOutputDir(out);
    expect(statSync(out).ino).toBe(ino);
  });

  it('a write into a directory first recovers it: the backup comes back, then the new files go in', () => {
    const root = tmp();
    const out = join(root, 'run');
    const dead = deadPid();
    mkdirSync(join(root, `run.old-${dead}-0`));
    writeFileSync(join(root, `run.old-${dead}-0`, 'notes.txt'), 'mine\n');
    writeOutputs([{ path: join(out, 'summary.json'), data: 'new\n' }], { dir: out });
    expect(readdirSync(root)).toEqual(['run']);
    expect(readdirSync(out).sort()).toEqual(['notes.txt', 'summary.json']);
  });
});

describe('checkOutputDir and checkOutputFile create nothing and name the flag', () => {
  it('a regular file as the directory, or in its path, is a UserError naming the file (root included)', () => {
    const root = tmp();
    const f = join(root, 'f.txt');
    writeFileSync(f, 'x');
    expect(errorOf(() => checkOutputDir(f, '--out f.txt')).message).toBe(`--out f.txt: '${f}' is a file, not a directory`);
    expect(errorOf(() => checkOutputDir(join(f, 'a', 'b'), '--out f.txt/a/b')).message).toMatch(/^--out f\.txt\/a\/b: cannot create the directory: '.*f\.txt' is a file/);
    expect(errorOf(() => checkOutputFile(root, '--junit .')).message).toBe('--junit .: it is a directory; expected a file name');
    checkOutputDir(join(root, 'new', 'deeper'));
    checkOutputFile(join(root, 'new', 'x.xml'));
    expect(readdirSync(root)).toEqual(['f.txt']);
  });

  it.skipIf(process.getuid?.() === 0)('a directory without write permission is a UserError (not as root, whom chmod does not stop)', () => {
    const root = tmp();
    const ro = join(root, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    try {
      expect(errorOf(() => checkOutputDir(join(ro, 'out'), '--out ro/out')).message).toMatch(/^--out ro\/out: cannot write in '.*ro': permission denied/);
      expect(existsSync(join(ro, 'out'))).toBe(false);
    } finally {
      chmodSync(ro, 0o700);
    }
  });
});
