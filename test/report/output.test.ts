import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { checkOutputDir, checkOutputFile, writeFileAtomic, writeOutputs } from '../../src/report/output.js';

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
