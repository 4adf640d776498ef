import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExperiment, runExperimentOnPool } from '../../src/run/run.js';
import { band, pointBands, quantile } from '../../src/spec/bands.js';
import { mergeShards } from '../../src/experiment/shard.js';
import { expandPoints, loadExperiment } from '../../src/experiment/load.js';
import { summaryJson } from '../../src/spec/summary.js';
import { defaultCatalog } from '../../src/catalog/index.js';
import { nixlsimInProcess } from '../helpers/cli.js';
import { fakeResult } from '../experiment/helpers.js';
import { userError } from '../experiment/helpers.js';
import { aggregatedExperiment, experimentFile, tmp } from './helpers.js';

describe('quantiles and bands', () => {
  it('interpolates between order statistics (type 7): h = (n - 1) q', () => {
    const xs = [1, 2, 3, 4, 5];
    expect(quantile(xs, 0.05)).toBeCloseTo(1.2, 12); // h = 0.2: 1 + 0.2 x (2 - 1)
    expect(quantile(xs, 0.5)).toBe(3); // h = 2
    expect(quantile(xs, 0.95)).toBeCloseTo(4.8, 12); // h = 3.8: 4 + 0.8 x (5 - 4)
    expect(band([5, 1, 4, 2, 3])).toEqual({ p5: 1.2, p50: 3, p95: 4.8 }); // order of the samples does not matter
    expect(band([])).toBeNull();
  });

  it('leaves samples without completed requests out of the latency bands but not out of throughput', () => {
    const catalog = defaultCatalog();
    const point = expandPoints(loadExperiment(experimentFile(aggregatedExperiment(1000)), { catalog }))[0]!;
    const ok = fakeResult(point); // ttftMs.p95 = 1000 / 10 x 1.8 = 180
    const dead = { ...fakeResult(point, { request_failed: 100 }), ttftMs: { mean: null, p50: null, p90: null, p95: null, p99: null, min: null, max: null }, throughput: { outputTokensPerS: 0, requestsPerS: 0 } };
    const b = pointBands([ok, dead, ok], ['gpu.efficiency.prefillCompute']);
    expect(b.samples).toBe(3);
    expect(b.ttftMs.p95).toEqual({ p5: 180, p50: 180, p95: 180 });
    // Throughput over all three: [0, 1234.5, 1234.5]: p5 at h = 0.1 is 123.45.
    expect(b.outputTokensPerS).toEqual({ p5: 123.45, p50: 1234.5, p95: 1234.5 });
  });
});

describe('run --uncertainty', () => {
  const file = () => experimentFile(aggregatedExperiment(8000));

  it('bands a compute-bound point between the bounds its ranges allow', () => {
    const r = runExperiment(file(), { out: tmp(), uncertainty: 40 });
    const p = r.summary.points[0]!;
    const b = p.bands!;
    expect(b.samples).toBe(40);
    expect(b.varied).toEqual(['gpu.efficiency.prefillCompute', 'gpu.efficiency.decodeMemory', 'gpu.efficiency.stepOverheadS', 'gpu.efficiency.piecewiseLayerOverheadS']);
    for (const x of [b.ttftMs.mean, b.ttftMs.p50, b.ttftMs.p95, b.itlMs.mean, b.itlMs.p50, b.outputTokensPerS]) {
      expect(x).not.toBeNull();
      expect(x!.p5).toBeLessThanOrEqual(x!.p50);
      expect(x!.p50).toBeLessThanOrEqual(x!.p95);
      expect(x!.p5).toBeLessThan(x!.p95); // the factors do move it
    }
    // TTFT is one prefill step of 8,000 tokens, compute-bound: FLOPs = 2 x 6.979e9 matmul params (8.03e9 - 2 x 128,256
    // x 4,096 embeddings) x 8,000 + the LM head 1.05e9 + attention 32 layers x 4 x 4,096 x 32,004,000 pairs = 1.2845e14,
    // over 989e12 FLOP/s = 129.88 ms at efficiency 1. Efficiency in [0.3, 0.85], host time in [0.5, 10] ms (the
    // piecewise launches, at most 32 x 0.1 ms, hide under the compute): TTFT in [129.88 / 0.85 + 0.5, 129.88 / 0.3 +
    // 10] = [153.3, 442.9] ms.
    expect(b.ttftMs.p95!.p5).toBeGreaterThanOrEqual(153.3);
    expect(b.ttftMs.p95!.p95).toBeLessThanOrEqual(442.9);
    // Its median: triangular(0.3, 0.761, 0.85) has F(mode) = 0.838 > 0.5, median 0.3 + sqrt(0.5 x 0.55 x 0.461) = 0.656;
    // the host's triangular(0.5, 2.38, 10) ms has F(mode) = 0.198, median 10 - sqrt(0.5 x 9.5 x 7.62) = 3.98 ms: about
    // 129.88 / 0.656 + 3.98 = 202 ms (the median of a sum is not the sum of medians: within 15%).
    expect(b.ttftMs.p50!.p50).toBeGreaterThan(202 * 0.85);
    expect(b.ttftMs.p50!.p50).toBeLessThan(202 * 1.15);
    // ITL: one decode step reads 16.06e9 B of weights + 8,000 x 131,072 B of KV = 17.11e9 B at 3.35e12 B/s x [0.5, 0.95]
    // = [5.38, 10.21] ms, plus [0.5, 10] ms of host time: [5.88, 20.22] ms.
    expect(b.itlMs.mean!.p5).toBeGreaterThanOrEqual(5.88);
    expect(b.itlMs.mean!.p95).toBeLessThanOrEqual(20.22);
    // Throughput: 4 tokens per request, one request at a time, each taking TTFT + 3 ITL: between
    // 4 / (0.4429 + 3 x 0.02022) = 7.94 and 4 / (0.1533 + 3 x 0.00588) = 23.4 tok/s.
    expect(b.outputTokensPerS.p5).toBeGreaterThanOrEqual(7.94);
    expect(b.outputTokensPerS.p95).toBeLessThanOrEqual(23.4);
    expect(b.kvTransferMs.mean).toBeNull(); // aggregated: no KV moves
    // The nominal numbers stay the point's: the same as a run without samples.
    const plain = runExperiment(file(), { out: tmp() }).summary.points[0]!;
    expect({ ...p, bands: undefined }).toEqual({ ...plain, bands: undefined });
    expect(r.text).toContain('uncertainty: p5 / p50 / p95 over 40 Monte Carlo samples a point');
  });

  it('writes byte-identical summary.json for 1 and 2 workers, and the same in this thread', async () => {
    const f = experimentFile({ ...aggregatedExperiment(2000), sweep: { 'workload.isl.mean': [2000, 4000] } });
    const [a, b, c] = [tmp(), tmp(), tmp()];
    const progress: number[] = [];
    await runExperimentOnPool(f, { out: a, workers: 1, uncertainty: 5, onProgress: (d) => progress.push(d) });
    await runExperimentOnPool(f, { out: b, workers: 2, uncertainty: 5 });
    runExperiment(f, { out: c, uncertainty: 5 });
    // Progress counts simulations: 2 points x (1 nominal + 5 samples).
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const one = readFileSync(join(a, 'summary.json'), 'utf8');
    expect(JSON.parse(one).points[1].bands.samples).toBe(5);
    expect(readFileSync(join(b, 'summary.json'), 'utf8')).toBe(one);
    expect(readFileSync(join(c, 'summary.json'), 'utf8')).toBe(one);
    expect(readFileSync(join(b, 'events.log'), 'utf8')).toBe(readFileSync(join(a, 'events.log'), 'utf8'));
  });

  it('shards run their points\u2019 samples; merge keeps the bands and refuses shards run with other sample counts', () => {
    const f = experimentFile({ ...aggregatedExperiment(2000), sweep: { 'workload.isl.mean': [2000, 3000, 4000] } });
    const whole = runExperiment(f, { out: tmp(), uncertainty: 3 });
    const s1 = runExperiment(f, { out: tmp(), uncertainty: 3, shard: { index: 1, count: 2 } });
    const s2 = runExperiment(f, { out: tmp(), uncertainty: 3, shard: { index: 2, count: 2 } });
    const merged = mergeShards([s1.outDir, s2.outDir]);
    expect(summaryJson(merged.summary)).toBe(summaryJson(whole.summary));
    expect(merged.summary.points.every((p) => p.bands?.samples === 3)).toBe(true);
    const other = runExperiment(f, { out: tmp(), uncertainty: 4, shard: { index: 2, count: 2 } });
    expect(userError(() => mergeShards([s1.outDir, other.outDir])).message).toMatch(/ran --uncertainty 4 .*--uncertainty 3: shards of different runs/);
    const none = runExperiment(f, { out: tmp(), shard: { index: 2, count: 2 } });
    expect(userError(() => mergeShards([s1.outDir, none.outDir])).message).toMatch(/ran no --uncertainty/);
  });

  it('refuses a sample count below 2 naming the flag, and writes nothing', () => {
    const out = join(tmp(), 'never');
    expect(userError(() => runExperiment(file(), { out, uncertainty: 1 })).message).toMatch(/^--uncertainty must be a whole number of samples from 2/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('nixlsim run --uncertainty (CLI)', () => {
  it('exits 2 naming the flag for a bad value, writing nothing', async () => {
    for (const bad of ['1', 'abc']) {
      const out = join(tmp(), 'never');
      const r = await nixlsimInProcess(['run', experimentFile(aggregatedExperiment(1000)), '--out', out, `--uncertainty=${bad}`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^nixlsim: error: --uncertainty must be a whole number from 2 to 100000, got/);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('prints the bands under the table and writes them to summary.json', async () => {
    const out = tmp();
    const r = await nixlsimInProcess(['run', experimentFile(aggregatedExperiment(1000)), '--out', out, '--uncertainty', '3', '--workers', '1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/uncertainty: p5 \/ p50 \/ p95 over 3 Monte Carlo samples a point/);
    expect(r.stdout).toMatch(/TTFT p95 ms/);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).points[0].bands.samples).toBe(3);
  });
});
