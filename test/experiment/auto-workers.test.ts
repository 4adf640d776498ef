import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runExperimentOnPool } from '../../src/run/run.js';
import { defaultCatalog } from '../../src/catalog/load.js';
import { expandPoints, loadExperiment } from '../../src/experiment/index.js';
import { autoWorkers, POOL_MIN_REQUESTS, pointRequests } from '../../src/run/pool.js';
import type { Point } from '../../src/spec/experiment.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const BREAKEVEN = join(ROOT, 'experiments', 'seeds', 'breakeven.yaml');
const root = mkdtempSync(join(tmpdir(), 'nixlsim-auto-workers-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The breakeven seed's 16 points with `requests` measured requests each (and its 10 warm-up requests). */
const points = (requests: number): Point[] => expandPoints(loadExperiment(BREAKEVEN, { catalog: defaultCatalog(), set: [`workload.requests=${requests}`] }));

describe('autoWorkers: threads only for work that repays starting them', () => {
  it("counts a point's measured and warm-up requests", () => {
    expect(pointRequests(points(100)[0]!)).toBe(110);
  });

  it('runs a small sweep in this thread and a large one on one thread per core, at most one per point', () => {
    const perPoint = Math.ceil(POOL_MIN_REQUESTS / 16);
    expect(autoWorkers(points(perPoint - 11), 2)).toBe(1);
    expect(autoWorkers(points(perPoint), 2)).toBe(2);
    expect(autoWorkers(points(perPoint), 8)).toBe(8);
    expect(autoWorkers(points(perPoint).slice(0, 3), 8)).toBe(1); // 3 points are below the threshold again
    expect(autoWorkers(points(POOL_MIN_REQUESTS).slice(0, 3), 8)).toBe(3);
  });

  it('never starts threads for one point or on one core', () => {
    const big = points(POOL_MIN_REQUESTS);
    expect(autoWorkers(big.slice(0, 1), 8)).toBe(1);
    expect(autoWorkers(big, 1)).toBe(1);
    expect(autoWorkers([], 8)).toBe(1);
  });

  it('counts a trace replayed whole as large', () => {
    const [p] = points(100);
    const trace = { ...p!, experiment: { ...p!.experiment, workload: { ...p!.experiment.workload, kind: 'trace' as const, requests: 0 } } };
    expect(pointRequests(trace)).toBe(Infinity);
    expect(autoWorkers([trace, trace], 2)).toBe(2);
  });
});

describe('a run without --workers', () => {
  it('writes the bytes of a run on two threads', async () => {
    const set = ['workload.requests=40', 'sweep.workload.isl.mean=[1000,8000]'];
    const auto = join(root, 'auto');
    const pooled = join(root, 'pooled');
    await runExperimentOnPool(BREAKEVEN, { out: auto, set });
    await runExperimentOnPool(BREAKEVEN, { out: pooled, set, workers: 2 });
    for (const f of ['summary.json', 'events.log', 'points.csv']) expect(readFileSync(join(auto, f), 'utf8'), f).toBe(readFileSync(join(pooled, f), 'utf8'));
  });
});
