/**
 * Simulates a list of points, on the worker pool or in this thread, and hands back their results in point order.
 * The outcome is the same either way (each point carries its seed); a failing point is reported as the lowest
 * failing one, named by `describePoint`, a mistake (UserError) as a mistake and anything else as itself.
 */
import type { Catalog } from '../catalog/types.js';
import { UserError } from '../errors.js';
import type { Efficiency } from '../physics/index.js';
import { simulatePoint } from '../serving/simulate.js';
import { PointFailure, simulateOnPool } from './pool.js';
import type { Point, PointResult } from './types.js';

export interface SimulatePointsOptions {
  catalog: Catalog;
  /** Threads; 1 (or an efficiency override, which the pool's threads do not take) runs in this thread. */
  workers?: number;
  efficiency?: Efficiency;
  /** How a message names point i (e.g. `measurements.csv:4: row 3`). */
  describePoint?: (index: number) => string;
}

export async function simulatePoints(points: readonly Point[], o: SimulatePointsOptions): Promise<PointResult[]> {
  const name = o.describePoint ?? ((i: number) => `point ${points[i]!.id}`);
  const workers = Math.min(o.workers ?? 1, points.length);
  if (workers <= 1 || o.efficiency !== undefined) {
    return points.map((p, i) => {
      try {
        return simulatePoint(p, o.catalog, o.efficiency ? { efficiency: o.efficiency } : {});
      } catch (err) {
        throw renamed(err, name(i));
      }
    });
  }
  try {
    return (await simulateOnPool(points, { workers, catalog: o.catalog })).map((x) => x.result);
  } catch (err) {
    if (err instanceof PointFailure) throw renamed(err.cause, name(err.index));
    throw err;
  }
}

function renamed(err: unknown, where: string): unknown {
  return err instanceof UserError ? new UserError(`${where}: ${err.message}`) : err;
}
