/**
 * Guards on the process, asked between chunks of a simulation's events: the wall time (`--timeout`) and the heap.
 *
 * `--timeout`: the wall time a command may take. The CLI sets the deadline; long synchronous work (a simulation runs
 * its events in chunks) asks `checkDeadline` between chunks, and the CLI's timer covers the time spent waiting
 * (worker threads, I/O). Worker threads inherit the deadline through the environment. A guard on the process only:
 * no result ever reads the clock.
 */
import { getHeapStatistics } from 'node:v8';
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

/**
 * The share of V8's old space past which a simulation stops with a UserError rather than abort in V8. V8's heap limit
 * also counts the young generation's semispaces (48 MB at the most), which used_heap_size never fills: they are taken off
 * before the share.
 */
export const HEAP_SHARE = 0.85;
const YOUNG_BYTES = 48 * 2 ** 20;

/**
 * Throws a UserError naming the knobs when the heap holds more than HEAP_SHARE of what V8 allows this process: past the
 * limit V8 aborts the process (exit 134, no message). Costs about a microsecond.
 */
export function checkHeap(): void {
  const h = getHeapStatistics();
  if (h.used_heap_size <= HEAP_SHARE * (h.heap_size_limit - YOUNG_BYTES)) return;
  const mb = (b: number) => Math.round(b / 2 ** 20).toLocaleString('en-US');
  throw new UserError(
    `the simulation holds ${mb(h.used_heap_size)} MB of the ${mb(h.heap_size_limit)} MB heap Node allows this process: lower the requests in flight ` +
      '(workload.concurrency, workload.rate), the workers or workload.requests, or allow more with NODE_OPTIONS=--max-old-space-size=<MB>',
  );
}
