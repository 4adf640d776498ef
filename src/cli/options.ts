import { UserError } from '../errors.js';

/** yargs `coerce` functions that turn a bad flag value into one clear UserError naming the flag. */
export function wholeNumber(flag: string, min = 0, max = Number.MAX_SAFE_INTEGER): (v: unknown) => number {
  return (v) => {
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new UserError(`--${flag} must be a whole number from ${min} to ${max}, got '${String(v)}'`);
    }
    return n;
  };
}

export function positiveNumber(flag: string, allowZero = false): (v: unknown) => number {
  return (v) => {
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
      throw new UserError(`--${flag} must be a number ${allowZero ? '>= 0' : '> 0'}, got '${String(v)}'`);
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
