/**
 * A worker_threads pool that simulates the points of a sweep in parallel. Each point's simulation depends only on the
 * point (it carries its own seed), so the outcomes are the same whichever thread ran a point and in whichever order the
 * points finished; they come back indexed by point, and the caller builds its summary in point order.
 *
 * The threads run the compiled worker (dist/src/experiment/pool-worker.js under the project root), also under vitest,
 * which runs the TypeScript sources: `npm test` compiles first (pretest), so the file is there.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { projectRoot } from '../catalog/load.js';
import type { Catalog } from '../catalog/types.js';
import { InvariantError, UserError } from '../errors.js';
import type { SimulateOverrides } from '../serving/simulate.js';
import type { Point, PointResult } from './types.js';

/** A point's event log as plain data: the kept lines, oldest first, and how many events there were in all. */
export interface LogBlock {
  lines: string[];
  /** Events emitted, of all kinds (lines.length + dropped). */
  total: number;
  /** Lines no longer kept because the log's ring was full. */
  dropped: number;
}

/** What simulating one point gives: its result and, from the real simulator, its event log. */
export interface PointOutcome {
  result: PointResult;
  log?: LogBlock;
}

/** A point's simulation failed: `cause` is what it threw (rebuilt on this side of the thread boundary). */
export class PointFailure extends Error {
  override readonly name = 'PointFailure';
  constructor(
    /** The index of the job (point) in the list given to the pool. */
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super(`point ${index} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** One worker per core, the default for `nixlsim run --workers`. */
export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism());
}

/** The compiled worker script: dist/src/experiment/pool-worker.js under the project root. */
export function poolWorkerFile(): string {
  return join(projectRoot(), 'dist', 'src', 'experiment', 'pool-worker.js');
}

// ---------------------------------------------------------------------------------------------------------------------
// The messages between the pool and its threads (structured clone: a Point and a PointResult are plain data)

export interface Task {
  index: number;
  point: Point;
  /** Catalog figures to run with instead (a Monte Carlo sample, a sensitivity run); such a run sends back no log. */
  overrides?: SimulateOverrides;
}

export interface WireError {
  kind: 'user' | 'invariant' | 'other';
  name: string;
  message: string;
  stack?: string;
}

export type Reply = { index: number; ok: true; outcome: PointOutcome } | { index: number; ok: false; error: WireError };

export interface WorkerInit {
  /** The catalog to simulate against; absent, each thread loads defaultCatalog() once. */
  catalog?: Catalog;
}

/** An error as data, so that it survives postMessage with its kind (UserError, InvariantError or anything else). */
export function encodeError(err: unknown): WireError {
  if (err instanceof Error) {
    const kind = err instanceof UserError ? 'user' : err instanceof InvariantError ? 'invariant' : 'other';
    return { kind, name: err.name, message: err.message, ...(err.stack !== undefined ? { stack: err.stack } : {}) };
  }
  return { kind: 'other', name: 'Error', message: String(err) };
}

/**
 * The error again, of its kind: a UserError with the same message (it is what exit 2 prints), an InvariantError or an
 * Error of the same name with the thread's stack (what exit 3 prints).
 */
export function decodeError(w: WireError): Error {
  if (w.kind === 'user') return new UserError(w.message);
  let err: Error;
  if (w.kind === 'invariant') {
    err = new InvariantError(w.message);
  } else {
    err = new Error(w.message);
    err.name = w.name;
  }
  if (w.stack !== undefined) err.stack = w.stack;
  return err;
}

// ---------------------------------------------------------------------------------------------------------------------
// The pool

export interface PoolOptions {
  /** Threads to start (at most one per point). */
  workers: number;
  /** Sent to every thread; absent, each thread uses defaultCatalog(). */
  catalog?: Catalog;
  /** Called after each job (point) finishes, with how many have. */
  onDone?: (done: number, total: number) => void;
  /** The worker script; default poolWorkerFile(). */
  workerFile?: string;
}

/** One simulation for the pool: a point, at its nominal figures or with some replaced (then without its event log). */
export interface Job {
  point: Point;
  overrides?: SimulateOverrides;
}

/** simulateJobsOnPool for plain points, each at its nominal figures. */
export async function simulateOnPool(points: readonly Point[], opts: PoolOptions): Promise<PointOutcome[]> {
  return simulateJobsOnPool(points.map((point) => ({ point })), opts);
}

/**
 * Simulates every job on a pool of threads, handing each thread the next job in index order as it becomes free.
 * Resolves with outcome i for job i. If a point fails, no further point starts; the points before it that are still
 * running finish, and the pool rejects with a PointFailure for the lowest failing index (the point the in-process
 * loop, which stops at the first failure, would have reported), after terminating every thread.
 */
export async function simulateJobsOnPool(jobs: readonly Job[], opts: PoolOptions): Promise<PointOutcome[]> {
  const points = jobs.map((j) => j.point);
  if (!(Number.isInteger(opts.workers) && opts.workers >= 1)) throw new InvariantError(`a pool needs a whole number of workers >= 1, got ${opts.workers}`);
  if (points.length === 0) return [];
  const file = opts.workerFile ?? poolWorkerFile();
  if (!existsSync(file)) {
    throw new InvariantError(`the worker script ${file} is missing: nixlsim is built incompletely (run \`npm run build\`)`);
  }
  const init: WorkerInit = opts.catalog ? { catalog: opts.catalog } : {};
  const count = Math.min(opts.workers, points.length);
  const outcomes: (PointOutcome | undefined)[] = new Array<PointOutcome | undefined>(points.length).fill(undefined);

  return new Promise<PointOutcome[]>((resolve, reject) => {
    const workers: Worker[] = [];
    /** The point each busy thread is simulating. */
    const busy = new Map<Worker, number>();
    let next = 0;
    let done = 0;
    /** The failure with the lowest point index so far (index -1: a thread failed outside any point). */
    let failed: { index: number; error: unknown } | undefined;
    let settled = false;

    const settle = (): void => {
      if (settled) return;
      if (failed) {
        // Wait for the points before the failed one: one of them may fail too, and it would be the one to report.
        const f = failed;
        for (const i of busy.values()) if (i < f.index) return;
        settled = true;
        void Promise.all(workers.map((w) => w.terminate())).finally(() =>
          reject(f.index < 0 ? f.error : new PointFailure(f.index, f.error)),
        );
        return;
      }
      if (done < points.length) return;
      settled = true;
      void Promise.all(workers.map((w) => w.terminate())).then(() => {
        const lack = outcomes.findIndex((o) => o === undefined);
        if (lack >= 0) reject(new InvariantError(`the pool finished without an outcome for point ${points[lack]!.id}`));
        else resolve(outcomes as PointOutcome[]);
      }, reject);
    };

    const fail = (index: number, error: unknown): void => {
      if (!failed || index < failed.index) failed = { index, error };
    };

    const dispatch = (w: Worker): void => {
      if (failed || next >= points.length) return;
      const job = jobs[next]!;
      const task: Task = { index: next, point: job.point, ...(job.overrides ? { overrides: job.overrides } : {}) };
      busy.set(w, next);
      next++;
      try {
        w.postMessage(task);
      } catch (err) {
        // The point cannot be cloned: a bug in whoever built it.
        busy.delete(w);
        fail(task.index, new InvariantError(`point ${task.point.id} cannot be sent to a worker thread: ${err instanceof Error ? err.message : String(err)}`));
      }
    };

    const lost = (w: Worker, why: unknown): void => {
      const index = busy.get(w);
      busy.delete(w);
      if (settled) return;
      fail(index ?? -1, why);
      settle();
    };

    for (let k = 0; k < count; k++) {
      let w: Worker;
      try {
        w = new Worker(file, { workerData: init });
      } catch (err) {
        fail(-1, err);
        settle();
        return;
      }
      workers.push(w);
      w.on('message', (reply: Reply) => {
        if (settled) return;
        if (busy.get(w) !== reply.index) {
          fail(reply.index, new InvariantError(`a worker thread answered for point ${reply.index}, which it was not simulating`));
        } else if (reply.ok) {
          outcomes[reply.index] = reply.outcome;
          done++;
          opts.onDone?.(done, points.length);
        } else {
          fail(reply.index, decodeError(reply.error));
        }
        busy.delete(w);
        dispatch(w);
        settle();
      });
      // An exception outside the message handler (the script failing to load, running out of memory).
      w.on('error', (err) => lost(w, err));
      w.on('exit', (code) => {
        if (busy.has(w)) lost(w, new Error(`a worker thread exited (code ${code}) while simulating point ${points[busy.get(w)!]!.id}`));
      });
      dispatch(w);
    }
    settle();
  });
}
