/**
 * A worker_threads pool that simulates the points of a sweep in parallel. Each point's simulation depends only on the
 * point (it carries its own seed), so the outcomes are the same whichever thread ran a point and in whichever order the
 * points finished; they come back indexed by point, and the caller builds its summary in point order.
 *
 * The threads run the bundled worker (dist/pool-worker.js under the project root, scripts/build.mjs), also under
 * vitest, which runs the TypeScript sources: `npm test` builds first (pretest), so the file is there.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { defaultCatalog, projectRoot, userCatalogDirs } from '../catalog/load.js';
import type { Catalog } from '../spec/catalog.js';
import { FieldError, InvariantError, UserError, type FieldPath } from '../errors.js';
import type { Job, PointOutcome } from '../experiment/jobs.js';
import type { SimulateOverrides } from '../serving/simulate.js';
import type { Point } from '../spec/experiment.js';

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

/** One worker per core: what a pool starts when no thread count is given and the work is worth threads (autoWorkers). */
export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism());
}

/**
 * Simulated requests in all (each point's measured and warm-up requests, summed over the points) from which a batch
 * runs on threads when no thread count was asked for. Below it, a pool is slower than this thread alone: each thread
 * loads the simulator (~0.2 s) and runs its first points before V8 has compiled them, then sends its results back.
 * Measured with `nixlsim run` on a 2-core machine: threads lost at 40,000 requests and won narrowly at 120,000 when
 * the other core was free, and lost up to 1.2 million while other jobs kept both cores busy (docs/performance.md,
 * "Small runs stay on the main thread").
 */
export const POOL_MIN_REQUESTS = 100_000;

/** What a point simulates, in requests: a trace replayed whole (no cap) counts as more than any threshold. */
export function pointRequests(p: Point): number {
  const w = p.experiment.workload;
  if (w.kind === 'trace' && w.requests === 0) return Infinity;
  return w.requests + w.warmup;
}

/**
 * The threads to simulate `points` on when the user named no count: one per core when there are two points or more
 * and their requests add up to POOL_MIN_REQUESTS, else 1 (this thread). The outcomes are the same either way.
 */
export function autoWorkers(points: readonly Point[], cores = defaultWorkerCount()): number {
  if (points.length < 2 || cores < 2) return 1;
  let requests = 0;
  for (const p of points) requests += pointRequests(p);
  return requests >= POOL_MIN_REQUESTS ? Math.min(cores, points.length) : 1;
}

/** The worker script: dist/pool-worker.js under the project root, the bundle of pool-worker.ts. */
export function poolWorkerFile(): string {
  return join(projectRoot(), 'dist', 'pool-worker.js');
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
  /** A FieldError's field and problem. */
  field?: FieldPath;
  problem?: string;
}

export type Reply = { index: number; ok: true; outcome: PointOutcome } | { index: number; ok: false; error: WireError };

export interface WorkerInit {
  /** The catalog to simulate against; absent, each thread loads defaultCatalog() once (the package's models/ alone). */
  catalog?: Catalog;
}

/** An error as data, so that it survives postMessage with its kind (UserError, InvariantError or anything else). */
export function encodeError(err: unknown): WireError {
  if (err instanceof Error) {
    if (err instanceof FieldError) return { kind: 'user', name: err.name, message: err.message, field: err.field, problem: err.problem }; // postMessage copies it
    const kind = err instanceof UserError ? 'user' : err instanceof InvariantError ? 'invariant' : 'other';
    return { kind, name: err.name, message: err.message, ...(err.stack !== undefined ? { stack: err.stack } : {}) };
  }
  return { kind: 'other', name: 'Error', message: String(err) };
}

/**
 * The error again, of its kind: a UserError with the same message (it is what exit 2 prints; a FieldError keeps its
 * field), an InvariantError or an Error of the same name with the thread's stack (what exit 3 prints).
 */
export function decodeError(w: WireError): Error {
  if (w.kind === 'user') return w.field !== undefined && w.problem !== undefined ? new FieldError(w.field, w.problem) : new UserError(w.message);
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

/** simulateJobsOnPool for plain points, each at its nominal figures. */
export async function simulateOnPool(points: readonly Point[], opts: PoolOptions): Promise<PointOutcome[]> {
  return simulateJobsOnPool(points.map((point) => ({ point })), opts);
}

/**
 * Simulates every job on a pool of threads started for the purpose (at most one per job) and stopped after: see
 * SimulationPool.run. A caller with several batches keeps one SimulationPool instead.
 */
export async function simulateJobsOnPool(jobs: readonly Job[], opts: PoolOptions): Promise<PointOutcome[]> {
  if (!(Number.isInteger(opts.workers) && opts.workers >= 1)) throw new InvariantError(`a pool needs a whole number of workers >= 1, got ${opts.workers}`);
  if (jobs.length === 0) return [];
  const pool = new SimulationPool({ ...opts, workers: Math.min(opts.workers, jobs.length) });
  try {
    return await pool.run(jobs, opts.onDone);
  } finally {
    await pool.close();
  }
}

/** The state of one SimulationPool.run. */
interface Batch {
  jobs: readonly Job[];
  outcomes: (PointOutcome | undefined)[];
  /** The job each busy thread is simulating. */
  busy: Map<Worker, number>;
  next: number;
  done: number;
  /** The failure with the lowest job index so far (index -1: a thread failed outside any job). */
  failed: { index: number; error: unknown } | undefined;
  onDone: ((done: number, total: number) => void) | undefined;
  resolve: (outcomes: PointOutcome[]) => void;
  reject: (err: unknown) => void;
}

/**
 * Worker threads that stay up between batches of simulations. A thread's first simulations are slow: it loads the
 * modules, V8 compiles the hot code afresh in every thread, and its heap grows from nothing; a pool kept for several
 * batches (the planner's probes, a benchmark's rounds) pays that once. The threads start at construction, so that
 * they load while the caller prepares its first batch. One batch at a time; after a failed batch the pool is closed.
 */
export class SimulationPool {
  private readonly threads: Worker[] = [];
  private batch: Batch | undefined;
  /** Why the pool can no longer run batches (a failure, or close()). */
  private broken: unknown;
  private closing: Promise<void> | undefined;

  /** The catalog the threads simulate against (absent: each thread's defaultCatalog()). */
  readonly catalog: Catalog | undefined;

  constructor(opts: { workers: number; catalog?: Catalog; workerFile?: string }) {
    // A thread's own defaultCatalog() is the package's alone (the user's --catalog was given to this thread, not to
    // it): with a user catalog in use, the threads are sent this process's catalog instead.
    this.catalog = opts.catalog ?? (userCatalogDirs().length > 0 ? defaultCatalog() : undefined);
    if (!(Number.isInteger(opts.workers) && opts.workers >= 1)) throw new InvariantError(`a pool needs a whole number of workers >= 1, got ${opts.workers}`);
    const file = opts.workerFile ?? poolWorkerFile();
    if (!existsSync(file)) {
      this.broken = new InvariantError(`the worker script ${file} is missing: nixlsim is built incompletely (run \`npm run build\`)`);
      return;
    }
    const init: WorkerInit = this.catalog ? { catalog: this.catalog } : {};
    for (let k = 0; k < opts.workers; k++) {
      let w: Worker;
      try {
        w = new Worker(file, { workerData: init });
      } catch (err) {
        this.broken = err;
        void this.close();
        return;
      }
      this.threads.push(w);
      w.on('message', (reply: Reply) => this.answered(w, reply));
      // An exception outside the message handler (the script failing to load, running out of memory).
      w.on('error', (err) => this.lost(w, err));
      w.on('exit', (code) => {
        if (this.closing) return; // stopped on purpose
        const index = this.batch?.busy.get(w);
        if (index !== undefined) {
          this.lost(w, new Error(`a worker thread exited (code ${code}) while simulating point ${this.batch!.jobs[index]!.point.id}`));
          return;
        }
        // Not simulating (its error, if it had one, came first): the pool is unusable from now on, but a batch
        // still running finishes on the other threads.
        this.broken ??= new Error(`a worker thread exited (code ${code})`);
        if (!this.batch) void this.close();
      });
    }
  }

  /** Threads in the pool. */
  get size(): number {
    return this.threads.length;
  }

  /**
   * Simulates every job, handing each thread the next job in index order as it becomes free. Resolves with outcome i
   * for job i. If a job fails, no further job starts; the jobs before it that are still running finish, and the run
   * rejects with a PointFailure for the lowest failing index (the job the in-process loop, which stops at the first
   * failure, would have reported), after closing the pool.
   */
  run(jobs: readonly Job[], onDone?: (done: number, total: number) => void): Promise<PointOutcome[]> {
    if (this.broken !== undefined) return Promise.reject(this.broken instanceof Error ? this.broken : new InvariantError(String(this.broken)));
    if (this.batch) return Promise.reject(new InvariantError('a SimulationPool runs one batch at a time'));
    if (jobs.length === 0) return Promise.resolve([]);
    return new Promise<PointOutcome[]>((resolve, reject) => {
      const batch: Batch = {
        jobs,
        outcomes: new Array<PointOutcome | undefined>(jobs.length).fill(undefined),
        busy: new Map(),
        next: 0,
        done: 0,
        failed: undefined,
        onDone,
        resolve,
        reject,
      };
      this.batch = batch;
      for (const w of this.threads) this.dispatch(batch, w);
      this.settle(batch);
    });
  }

  /** Stops every thread; the pool runs nothing more. */
  close(): Promise<void> {
    this.broken ??= new InvariantError('the simulation pool is closed');
    this.closing ??= Promise.all(this.threads.map((w) => w.terminate())).then(() => undefined);
    return this.closing;
  }

  private dispatch(batch: Batch, w: Worker): void {
    if (batch.failed || batch.next >= batch.jobs.length) return;
    const index = batch.next++;
    const job = batch.jobs[index]!;
    const task: Task = { index, point: job.point, ...(job.overrides ? { overrides: job.overrides } : {}) };
    batch.busy.set(w, index);
    try {
      w.postMessage(task);
    } catch (err) {
      // The point cannot be cloned: a bug in whoever built it.
      batch.busy.delete(w);
      this.fail(batch, index, new InvariantError(`point ${job.point.id} cannot be sent to a worker thread: ${err instanceof Error ? err.message : String(err)}`));
    }
  }

  private answered(w: Worker, reply: Reply): void {
    const batch = this.batch;
    if (!batch) return; // a late answer of a batch that failed
    if (batch.busy.get(w) !== reply.index) {
      this.fail(batch, reply.index, new InvariantError(`a worker thread answered for point ${reply.index}, which it was not simulating`));
    } else if (reply.ok) {
      batch.outcomes[reply.index] = reply.outcome;
      batch.done++;
      batch.onDone?.(batch.done, batch.jobs.length);
    } else {
      this.fail(batch, reply.index, decodeError(reply.error));
    }
    batch.busy.delete(w);
    this.dispatch(batch, w);
    this.settle(batch);
  }

  private lost(w: Worker, why: unknown): void {
    const batch = this.batch;
    if (this.closing) return; // stopped on purpose
    if (!batch) {
      // Between batches: the next run reports it.
      this.broken ??= why;
      void this.close();
      return;
    }
    const index = batch.busy.get(w);
    batch.busy.delete(w);
    this.fail(batch, index ?? -1, why);
    this.settle(batch);
  }

  private fail(batch: Batch, index: number, error: unknown): void {
    if (!batch.failed || index < batch.failed.index) batch.failed = { index, error };
  }

  private settle(batch: Batch): void {
    if (this.batch !== batch) return;
    if (batch.failed) {
      // Wait for the jobs before the failed one: one of them may fail too, and it would be the one to report.
      const f = batch.failed;
      for (const i of batch.busy.values()) if (i < f.index) return;
      this.batch = undefined;
      this.broken ??= f.error;
      void this.close().finally(() => batch.reject(f.index < 0 ? f.error : new PointFailure(f.index, f.error)));
      return;
    }
    if (batch.done < batch.jobs.length) return;
    this.batch = undefined;
    if (this.broken !== undefined) void this.close();
    const lack = batch.outcomes.findIndex((o) => o === undefined);
    if (lack >= 0) batch.reject(new InvariantError(`the pool finished without an outcome for point ${batch.jobs[lack]!.point.id}`));
    else batch.resolve(batch.outcomes as PointOutcome[]);
  }
}
