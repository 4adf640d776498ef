import type { Catalog } from '../catalog/types.js';
import type { Point, PointResult } from '../experiment/types.js';

/** Runs one point of an experiment to completion (or its horizon) and summarises it. Deterministic for a seed. */
export function simulatePoint(point: Point, catalog: Catalog): PointResult {
  void catalog;
  throw new Error(`simulatePoint not implemented yet (point ${point.id})`);
}
