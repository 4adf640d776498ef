/**
 * Simulates a list of points, each at its nominal figures, on worker threads or in this thread, and hands back their
 * results in point order: simulateJobs (simulate-jobs.ts) for callers that want only the results and name a point
 * their own way (audit by the measurement row it models, plan by its probe). The outcome is the same either way (each
 * point carries its seed); a failing point is reported as the lowest failing one, named by `describePoint`, a mistake
 * (UserError) as a mistake and anything else as itself. A run with catalog figures replaced (an efficiency, a
 * bandwidth) is a Job with overrides, which simulateJobs takes, in this thread or on the threads alike.
 */
import type { Catalog } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import type { SimulationPool } from './pool.js';
import { simulateJobs } from './simulate-jobs.js';
import type { Point, PointResult } from '../spec/experiment.js';

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
