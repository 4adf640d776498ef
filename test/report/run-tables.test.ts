import { describe, expect, it } from 'vitest';
import { formatRun, prefixCacheTable, runReportFiles, turnsTable } from '../../src/report/run-table.js';
import type { AutoscaleResult, Point, PointResult, PrefixCacheResult } from '../../src/spec/experiment.js';
import { buildSummary, type Summary } from '../../src/spec/summary.js';
import { fakeResult } from '../experiment/helpers.js';

const NO_TIER = { storedBlocks: 0, onboardedBlocks: 0, evictedBlocks: 0, droppedStores: 0 };

/**
 * 1,000 prompt blocks: 500 in a GPU cache, 200 loaded from host memory, 100 from disk, 200 computed. By hand: hit
 * rate (1000 - 200) / 1000 = 80.0%, GPU 50.0%, host 20.0%, disk 10.0%, computed 20.0%.
 */
const TIERED: PrefixCacheResult = {
  promptBlocks: 1000,
  gpuHitBlocks: 500,
  hostHitBlocks: 200,
  diskHitBlocks: 100,
  missedBlocks: 200,
  gpuHitRate: 0.5,
  hostHitRate: 0.2,
  diskHitRate: 0.1,
  hitRate: 0.8,
  host: { storedBlocks: 700, onboardedBlocks: 200, evictedBlocks: 0, droppedStores: 0 },
  disk: { storedBlocks: 300, onboardedBlocks: 100, evictedBlocks: 0, droppedStores: 0 },
};

/** GPU cache only: 3 of 8 blocks hit (37.5%), 5 computed (62.5%); no tier, so its counts are zero. */
const GPU_ONLY: PrefixCacheResult = {
  promptBlocks: 8,
  gpuHitBlocks: 3,
  hostHitBlocks: 0,
  missedBlocks: 5,
  gpuHitRate: 0.375,
  hostHitRate: 0,
  hitRate: 0.375,
  host: NO_TIER,
};

function summary(extras: Partial<PointResult>[]): Summary {
  const results = extras.map((extra, i) => {
    const point: Point = { id: `p00${i}`, params: { 'workload.rate': i + 1 }, experiment: { workload: { isl: { mean: 1000 } } } as Point['experiment'] };
    return { ...fakeResult(point), ...extra };
  });
  return buildSummary('tiers', 1, results);
}

const rows = (lines: readonly string[]) => lines.map((l) => l.trim().split(/ {2,}/));

describe('the turns table of run and report.md', () => {
  const stats = (p50: number, p95: number) => ({ mean: p50, p50, p90: p95, p95, p99: p95, min: p50, max: p95 });
  it('gives TTFT p50 / p95 by turn number, a dash for a turn a point lacks, nothing without sessions', () => {
    const turns = [
      { turn: 1, completed: 2, failed: 0, promptTokensMean: 1700, ttftMs: stats(36, 54) },
      { turn: 2, completed: 1, failed: 1, promptTokensMean: 2200, ttftMs: stats(46.5, 91.2) },
    ];
    expect(rows(turnsTable(summary([{ turns }, { turns: turns.slice(0, 1) }])))).toEqual([
      ['point', 'workload.rate', 'turn 1', 'turn 2'],
      ['p000', '1', '36.0 / 54.0', '46.5 / 91.2'],
      ['p001', '2', '36.0 / 54.0', '-'],
    ]);
    expect(turnsTable(summary([{}]))).toEqual([]);
  });
});

describe('the prefix-cache table of run and report.md', () => {
  it('gives the shares of prompt blocks by tier, a column per tier some point has', () => {
    expect(rows(prefixCacheTable(summary([{ prefixCache: TIERED }, { prefixCache: GPU_ONLY }])))).toEqual([
      ['point', 'workload.rate', 'prompt blocks', 'hit rate', 'GPU', 'host', 'disk', 'computed'],
      ['p000', '1', '1000', '80.0%', '50.0%', '20.0%', '10.0%', '20.0%'],
      ['p001', '2', '8', '37.5%', '37.5%', '0.0%', '-', '62.5%'],
    ]);
  });

  it('has an object column when some point has an object store', () => {
    // 1,000 blocks: 500 on a GPU, 250 from the shared bucket, 250 computed.
    const shared: PrefixCacheResult = { ...GPU_ONLY, promptBlocks: 1000, gpuHitBlocks: 500, objectHitBlocks: 250, missedBlocks: 250, host: { ...NO_TIER, storedBlocks: 750 } };
    expect(rows(prefixCacheTable(summary([{ prefixCache: shared }])))).toEqual([
      ['point', 'workload.rate', 'prompt blocks', 'hit rate', 'GPU', 'host', 'object', 'computed'],
      ['p000', '1', '1000', '75.0%', '50.0%', '0.0%', '25.0%', '25.0%'],
    ]);
  });

  it('leaves out the host and disk columns when no point has those tiers, and adds where requests prefilled under conditional disaggregation', () => {
    expect(rows(prefixCacheTable(summary([{ prefixCache: GPU_ONLY, conditionalDisagg: { localPrefills: 7, remotePrefills: 3 } }])))).toEqual([
      ['point', 'workload.rate', 'prompt blocks', 'hit rate', 'GPU', 'computed', 'local / remote prefills'],
      ['p000', '1', '8', '37.5%', '37.5%', '62.5%', '7 / 3'],
    ]);
  });

  it('is empty, and neither run nor report.md mentions it, when no prompt carries block hashes', () => {
    const s = summary([{}]);
    expect(prefixCacheTable(s)).toEqual([]);
    expect(formatRun(s, s.points, '/tmp/r/summary.json')).not.toContain('prefix cache');
    expect(String(runReportFiles(s, s.points, { dir: '/tmp/r' }, [])[1]!.data)).not.toContain('## Prefix cache');
  });

  it('is printed by run and written to report.md, as the autoscaling table is', () => {
    const autoscale: AutoscaleResult = {
      target: 'sla',
      gpuHours: 2.84,
      slo: { ttftMs: 500, itlMs: 50 },
      sloAttainment: 0.913,
      metSlo: 913,
      ended: 1000,
      scaleUps: 2,
      scaleDowns: 2,
      peakWorkers: { prefill: 2, decode: 2 },
      series: [],
    };
    const s = summary([{ prefixCache: TIERED, autoscale }]);
    const text = formatRun(s, s.points, '/tmp/r/summary.json');
    expect(text).toMatch(/\nprefix cache: .*\npoint .*\np000 .* 80\.0% /);
    expect(text).toMatch(/\nautoscaling: .*\npoint .*\np000 .* 2\.84 +91\.3% +913 \/ 1000 /);
    const md = String(runReportFiles(s, s.points, { dir: '/tmp/r' }, [])[1]!.data);
    expect(md).toContain('## Prefix cache');
    expect(md).toContain('## Autoscaling');
  });
});
