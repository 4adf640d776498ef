/**
 * Simulates a list of jobs (points, or points with some catalog figures replaced) in this thread or on worker threads,
 * and hands back their outcomes in job order. run and sensitivity call it, audit and plan through simulatePoints, so
 * that a failure is reported the same way whatever the thread count: as the failure of the lowest-numbered failing
 * job's point, the one a loop in this thread stops at.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { SingleBar } from 'cli-progress';
import type { Catalog } from '../spec/catalog.js';
import { InvariantError, UserError } from '../errors.js';
import type { EventLog } from '../metrics/event-log.js';
import { runPoint, type SimulateOverrides } from '../serving/simulate.js';
import { autoWorkers, PointFailure, simulateJobsOnPool, type Job, type PointOutcome, type SimulationPool } from './pool.js';
import type { Point, PointResult } from '../spec/experiment.js';

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
    if (!pool && workers <= 1) {
      for (const [i, j] of jobs.entries()) {
        outcomes.push(simulateHere(j, i, opts.catalog, runPoint, onError));
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
// How a point reads in messages and tables

/** Most swept fields live under deployment.; the prefix is noise in a table (summary.json keeps full paths). */
export function shortPath(path: string): string {
  return path.startsWith('deployment.') ? path.slice('deployment.'.length) : path;
}

export function valueText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A point's id and its swept values (`p003 prefill.tp=2 transport=tcp`), as failures and the run table name it. */
export function pointLabel(id: string, params: Record<string, unknown>): string {
  const ps = Object.entries(params).map(([k, v]) => `${shortPath(k)}=${valueText(v)}`);
  return [id, ...ps].join(' ');
}
