import { UserError } from '../errors.js';

/** yargs `coerce` functions that turn a bad flag value into one clear UserError naming the flag. */
/** A flag's value as a number: NaN for an empty or blank string, which Number() would read as 0. */
function numberOf(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() === '') return NaN;
  return Number(v);
}

export function wholeNumber(flag: string, min = 0, max = Number.MAX_SAFE_INTEGER): (v: unknown) => number {
  return (v) => {
    const n = numberOf(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new UserError(`--${flag} must be a whole number from ${min} to ${max}, got '${String(v)}'`);
    }
    return n;
  };
}

export function positiveNumber(flag: string, allowZero = false): (v: unknown) => number {
  return (v) => {
    const n = numberOf(v);
    if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
      throw new UserError(`--${flag} must be a number ${allowZero ? '>= 0' : '> 0'}, got '${String(v)}'`);
    }
    return n;
  };
}

/**
 * A size in bytes as nixlbench writes it: a whole number with an optional K, M or G (powers of 1024: 4K = 4096,
 * 64M = 67,108,864), at least 1 and at most 2^50.
 */
export function byteSize(flag: string): (v: unknown) => number {
  return (v) => {
    const m = /^\s*(\d+)\s*([KMG]?)i?B?\s*$/i.exec(String(v));
    const n = m ? Number(m[1]) * 1024 ** ['', 'K', 'M', 'G'].indexOf(m[2]!.toUpperCase()) : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 50) {
      throw new UserError(`--${flag} must be a size in bytes, a whole number with an optional K, M or G (4K = 4096), from 1 to 1024T, got '${String(v)}'`);
    }
    return n;
  };
}

/** Most worker threads a command takes (`--workers`). */
export const MAX_WORKERS = 1024;

/** yargs gives one string for one --set and a list for several. */
export function setList(v: unknown): string[] {
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** A repeatable flag whose values may also hold commas (`--kind a,b --kind c`): the names, trimmed, empty ones dropped. */
export function commaList(v: unknown): string[] {
  return (Array.isArray(v) ? v : [v])
    .flatMap((x) => String(x).split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Runs `f`, which checks something a flag gave (a catalog id, a TP size); a UserError it throws without a place of its
 * own is about that flag, and says so: `--model llama-9: unknown model 'llama-9'; ...`.
 */
export function forFlag<T>(flag: string, value: unknown, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof UserError && err.where === undefined) throw new UserError(err.message, `--${flag} ${String(value)}`);
    throw err;
  }
}

/** Flags that name a file or directory: an empty value would write or read somewhere nobody meant. */
export const PATH_FLAGS: ReadonlySet<string> = new Set(['out', 'junit', 'baselines', 'catalog', 'workload', 'experiment', 'transport-out']);

/** Flags a command line may give more than once: each occurrence adds a value. */
export const REPEATABLE_FLAGS: ReadonlySet<string> = new Set(['set', 'catalog', 'kind']);

/**
 * A flag given twice where only one value makes sense (`--out a --out b`) is a mistake, said in one line, rather than
 * an array reaching code that expects a string. Flags after `--` are not flags.
 */
export function checkRepeatedFlags(args: readonly string[]): void {
  const seen = new Map<string, string>();
  for (const [i, a] of args.entries()) {
    if (a === '--') break;
    const m = /^--(?:no-)?([A-Za-z][\w-]*)(=|$)/.exec(a);
    if (!m) continue;
    const name = m[1]!;
    const value = m[2] === '=' ? a.slice(a.indexOf('=') + 1) : args[i + 1];
    if (PATH_FLAGS.has(name) && value !== undefined && value.trim() === '') throw new UserError(`--${name} needs a path, got ''`);
    if (REPEATABLE_FLAGS.has(name)) continue;
    // As given: `--out=a`, or `--out a` when a value follows.
    const next = args[i + 1];
    const shown = m[2] === '=' || next === undefined || next.startsWith('-') ? a : `${a} ${next}`;
    const before = seen.get(name);
    if (before !== undefined) throw new UserError(`--${name} is given twice (${before}, then ${shown}); give it once`);
    seen.set(name, shown);
  }
}

/** Whether the command draws a progress bar: only on a terminal, never under CI (the CI variable set) or with --json. */
export function progressWanted(json: boolean, stderr: { isTTY?: boolean } = process.stderr, env: NodeJS.ProcessEnv = process.env): boolean {
  return !json && stderr.isTTY === true && (env['CI'] === undefined || env['CI'] === '');
}
