/**
 * The three ways nixlsim stops early, each with its own exit code (DESIGN.md, "Errors"):
 * a user mistake (2), a broken internal invariant (3). A regression found by `check` exits 1 and is not an error.
 */

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

/** Something the simulator promised itself did not hold. A bug in nixlsim, not in the input; exit 3 with a report. */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

export const EXIT_OK = 0;
export const EXIT_REGRESSION = 1;
export const EXIT_USER = 2;
export const EXIT_INVARIANT = 3;
