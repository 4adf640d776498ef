/**
 * The three ways nixlsim stops early, each with its own exit code (DESIGN.md, "Errors"):
 * a user mistake (2), a broken internal invariant (3). A regression found by `check` exits 1 and is not an error.
 */
import { isAbsolute, relative } from 'node:path';

/** A mistake in what the user gave us: a file, a flag, an impossible deployment. Printed without a stack trace; exit 2. */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    message: string,
    /** Where the mistake is, e.g. `experiments/x.yaml:12:5 deployment.prefill.tp`. */
    readonly where?: string,
  ) {
    super(where ? `${where}: ${message}` : message);
  }
}

/**
 * A value from the user's input as a message quotes it: in single quotes on one line, control characters escaped as
 * JSON escapes them, and cut to its first 60 characters (with the length) when longer.
 */
export function quoted(text: string): string {
  const cut = text.length > 80 ? `${text.slice(0, 60)}… (${text.length.toLocaleString('en-US')} characters)` : text;
  // eslint-disable-next-line no-control-regex
  const line = /[\u0000-\u001f\u007f\u2028\u2029]/.test(cut) ? JSON.stringify(cut).slice(1, -1) : cut;
  return `'${line}'`;
}

/** Paths in messages are relative to where the user stands, as they would type them. */
export function shownPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/** A field of an experiment, as a path: `['faults', 0, 'target']`. */
export type FieldPath = readonly (string | number)[];

/**
 * `deployment.prefill.tp`, `faults[2].rate`: how a user would name the field. A key that is not printable ASCII
 * without spaces (a typo with a tab, a key that is YAML punctuation) is quoted: `deployment["model node"]`.
 */
export function fieldName(path: FieldPath): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : !/^[\x21-\x7e]+$/.test(k) ? `[${JSON.stringify(k)}]` : i === 0 ? k : `.${k}`)).join('');
}

/**
 * A UserError about one field of the experiment, found only when it runs (a fault target that names no worker): the
 * field is kept as a path beside the problem, so that a command that loaded the file can point at the line that gave
 * the field its value. Its message reads `faults[0].target: no worker 'decode-7' ...` wherever it is printed as is.
 */
export class FieldError extends UserError {
  constructor(
    readonly field: FieldPath,
    readonly problem: string,
  ) {
    super(`${fieldName(field)}: ${problem}`);
  }
}

/** Something the simulator promised itself did not hold. A bug in nixlsim, not in the input; exit 3 with a report. */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

export const EXIT_OK = 0;
export const EXIT_REGRESSION = 1;
export const EXIT_USER = 2;
export const EXIT_INVARIANT = 3;
