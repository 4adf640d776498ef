import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { UserError } from '../../src/errors.js';
import type { Point, PointResult, Stats } from '../../src/spec/experiment.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/experiments/', import.meta.url));
export const fixture = (name: string): string => `${FIXTURES}${name}`;

/** The one UserError `f` throws. */
export function userError(f: () => unknown): UserError {
  let caught: unknown;
  try {
    f();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(UserError);
  const err = caught as UserError;
  // One line: a position, a field, what is wrong. Never a stack or a list.
  expect(err.message).not.toContain('\n');
  return err;
}

function stats(base: number): Stats {
  return { mean: base, p50: base * 0.9, p90: base * 1.5, p95: base * 1.8, p99: base * 2.5, min: base * 0.5, max: base * 3 };
}

/** A deterministic stand-in for simulatePoint: numbers derived from the point, events as asked. */
export function fakeResult(point: Point, events: Record<string, number> = {}): PointResult {
  const isl = point.experiment.workload.isl.mean;
  const failed = events['request_failed'] ?? 0;
  const fellBack = events['fell_back'] ?? 0;
  return {
    id: point.id,
    params: point.params,
    requests: { total: 100, completed: 100 - failed, failed, fellBack, inFlight: 0, stale: events['stale_kv_read'] ?? 0 },
    ttftMs: stats(isl / 10),
    itlMs: stats(12.5),
    e2eMs: stats(isl / 10 + 2500),
    queueMs: stats(1),
    kvTransfer: { bytesMean: isl * 131072, ms: stats(isl / 100), effectiveGBps: 37.5 },
    throughput: { outputTokensPerS: 1234.5, requestsPerS: 2.5 },
    utilisation: { workers: { 'decode-0': 0.5, 'prefill-0': 0.25 }, kvPoolPeak: { 'decode-0': 0.75 }, links: { 'decode-0.rank0.nic': 0.1 } },
    events,
    durationS: 40,
  };
}
