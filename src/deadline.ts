/**
 * `--timeout`: the wall time a command may take. The CLI sets the deadline; long synchronous work (a simulation runs
 * its events in chunks) asks `checkDeadline` between chunks, and the CLI's timer covers the time spent waiting
 * (worker threads, I/O). Worker threads inherit the deadline through the environment. A guard on the process only:
 * no result ever reads the clock.
 */
import { UserError } from './errors.js';

export const DEADLINE_ENV = 'NIXLSIM_DEADLINE_MS';

/** The deadline, ms since the epoch (Date.now()), from now on and for worker threads started later. */
export function setDeadline(timeoutS: number): void {
  process.env[DEADLINE_ENV] = String(Date.now() + timeoutS * 1000);
  process.env['NIXLSIM_TIMEOUT_S'] = String(timeoutS);
}

/** Throws the --timeout error when the deadline has passed. */
export function checkDeadline(): void {
  const at = process.env[DEADLINE_ENV];
  if (at === undefined || Date.now() <= Number(at)) return;
  throw new UserError(`--timeout ${process.env['NIXLSIM_TIMEOUT_S'] ?? ''}: the command ran out of time; nothing was written`);
}
