/**
 * "Simulate these points": the one way nixlsim simulates a batch. simulateJobs simulates a list of jobs (points, or
 * points with some catalog figures replaced) in this thread or on worker threads (pool.ts), and hands back their
 * outcomes in job order. runExperiment (run.ts) and sensitivity call it, audit, fidelity and plan through
 * simulatePoints, so that a failure is reported the same way whatever the thread count: as the failure of the
 * lowest-numbered failing job's point, the one a loop in this thread stops at.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { SingleBar } from 'cli-progress';
import type { Catalog } from '../spec/catalog.js';
import { InvariantError, UserError } from '../errors.js';
import type { EventLog } from '../metrics/event-log.js';
import { runPoint, type SimulateOverrides } from '../serving/simulate.js';
import { pointLabel, type Job, type PointOutcome } from '../experiment/jobs.js';
import type { Point, PointResult } from '../spec/experiment.js';
import { autoWorkers, PointFailure, simulateJobsOnPool, type SimulationPool } from './pool.js';

/**
 * Simulates one point, at its nominal figures or with some replaced (a Monte Carlo sample); may also hand back its
 * event log, whose lines go to events.log (a sample's are not kept).
 */
export type SimulateFn = (point: Point, catalog: Catalog, overrides?: SimulateOverrides) => PointResult | { result: PointResult; log: EventLog };

/**
 * Turns what job `index` (of `point`) threw into what the caller throws: the point named in a mistake's message, say.
 * Anything it does not recognise it should hand back as it is.
 */
export type PointErrorFn = (point: Point, err: unknown, index: number) => unknown;

export interface SimulateJobsOptions {
  catalog: Catalog;
  /**
   * Worker threads; 1 runs the jobs in this thread. Default: one per core when the jobs are work enough to repay
   * starting threads (autoWorkers in pool.ts), else this thread.
   */
  workers?: number;
  progress?: boolean;
  /** What the progress bar counts ('points', 'simulations'). */
  unit?: string;
  onProgress?: (done: number, total: number) => void;
  /** How a failing point is reported; default: a UserError gets the point's label in front. */
  pointError?: PointErrorFn;
  /** Threads kept between calls (simulating against `catalog`), instead of threads started for this call. */
  pool?: SimulationPool;
  /** Another simulator than the real one (tests): the jobs then run in this thread, whatever `workers` and `pool` say. */
  simulate?: SimulateFn;
}

/**
 * Simulates jobs (points, or points with figures replaced) in this thread or on a pool of worker threads; outcome i
 * is job i's whatever the thread count. A failing job is reported as its point's failure (a UserError names the point).
 */
export async function simulateJobs(jobs: readonly Job[], opts: SimulateJobsOptions): Promise<PointOutcome[]> {
  const n = jobs.length;
  const pool = opts.pool;
  if (pool && pool.catalog !== opts.catalog) throw new InvariantError('the simulation pool was started with another catalog than this run');
  const workers = pool ? pool.size : Math.min(opts.workers ?? autoWorkers(jobs.map((j) => j.point)), n);
  const bar = opts.progress && n > 1 ? progressBar(n, opts.unit ?? 'points') : undefined;
  const onError = opts.pointError ?? labelledPointError;
  const onDone = (done: number, total: number): void => {
    bar?.update(done);
    opts.onProgress?.(done, total);
  };
  const outcomes: PointOutcome[] = [];
  try {
    if (opts.simulate || (!pool && workers <= 1)) {
      for (const [i, j] of jobs.entries()) {
        outcomes.push(simulateHere(j, i, opts.catalog, opts.simulate ?? runPoint, onError));
        onDone(outcomes.length, n);
        if (bar) await yieldToLoop(); // let the bar redraw
      }
      return outcomes;
    }
    try {
      // The threads get this thread's catalog (plain data: Maps of records), not each a fresh read of models/.
      return await (pool ? pool.run(jobs, onDone) : simulateJobsOnPool(jobs, { workers, catalog: opts.catalog, onDone }));
    } catch (err) {
      if (err instanceof PointFailure) throw onError(jobs[err.index]!.point, err.cause, err.index);
      throw err;
    }
  } finally {
    bar?.stop();
  }
}

/**
 * Job `index` in this thread, its log taken as plain lines (a sample's is dropped: the point's log is its nominal
 * run's), so that the outcome is what a worker thread sends back. A failure is reported through `onError` (which names
 * the point).
 */
export function simulateHere(job: Job, index: number, catalog: Catalog, simulate: SimulateFn, onError: PointErrorFn): PointOutcome {
  try {
    const out = job.overrides ? simulate(job.point, catalog, job.overrides) : simulate(job.point, catalog);
    if (!('log' in out)) return { result: out };
    if (job.overrides) return { result: out.result };
    return { result: out.result, log: { lines: out.log.lines(), total: out.log.total, dropped: out.log.dropped } };
  } catch (err) {
    throw onError(job.point, err, index);
  }
}

function progressBar(total: number, unit: string): SingleBar {
  const bar = new SingleBar({
    format: `simulating {bar} {value}/{total} ${unit} | {duration_formatted} elapsed | ETA {eta_formatted}`,
    stream: process.stderr,
    clearOnComplete: true,
    hideCursor: null,
    etaBuffer: 20,
    fps: 5,
  });
  bar.start(total, 0);
  return bar;
}

/** The simulator found the deployment impossible: say which point. Other errors as they are. */
function labelledPointError(p: Point, err: unknown): unknown {
  return err instanceof UserError ? new UserError(`point ${pointLabel(p.id, p.params)}: ${err.message}`) : err;
}

// ---------------------------------------------------------------------------------------------------------------------
// Points at their nominal figures

/**
 * Simulates a list of points, each at its nominal figures, on worker threads or in this thread, and hands back their
 * results in point order: simulateJobs for callers that want only the results and name a point their own way (audit by the measurement row it models, plan by its probe). The outcome is the same either way (each
 * point carries its seed); a failing point is reported as the lowest failing one, named by `describePoint`, a mistake
 * (UserError) as a mistake and anything else as itself. A run with catalog figures replaced (an efficiency, a
 * bandwidth) is a Job with overrides, which simulateJobs takes, in this thread or on the threads alike.
 */
export interface SimulatePointsOptions {
  catalog: Catalog;
  /** Threads started for this call when no `pool` is given; default 1, which runs in this thread. */
  workers?: number;
  /**
   * Threads kept between calls (started with `catalog`), so that a caller with several batches starts them once;
   * `workers` is then ignored.
   */
  pool?: SimulationPool;
  /** How a message names point i (e.g. `measurements.csv:4: row 3`). */
  describePoint?: (index: number) => string;
}

export async function simulatePoints(points: readonly Point[], o: SimulatePointsOptions): Promise<PointResult[]> {
  const name = o.describePoint ?? ((i: number) => `point ${points[i]!.id}`);
  // A single point (or none) runs in this thread even beside a pool: a thread would only add the trip there and back.
  const pool = points.length > 1 ? o.pool : undefined;
  const outcomes = await simulateJobs(
    points.map((point) => ({ point })),
    {
      catalog: o.catalog,
      workers: o.workers ?? 1,
      ...(pool ? { pool } : {}),
      pointError: (_p, err, i) => renamed(err, name(i)),
    },
  );
  return outcomes.map((x) => x.result);
}

function renamed(err: unknown, where: string): unknown {
  return err instanceof UserError ? new UserError(`${where}: ${err.message}`) : err;
}
