import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/index.js';
import { expandPoints, loadExperiment } from '../../src/experiment/load.js';
import {
  drawSample,
  overridesFor,
  PARAMETER_NAMES,
  sampleUniform,
  triangular,
  uncertainParameters,
  type ParameterName,
} from '../../src/experiment/uncertainty.js';
import { aggregatedExperiment, experimentFile, tcpExperiment } from './helpers.js';

const catalog = defaultCatalog();
const pointOf = (exp: Record<string, unknown>) => expandPoints(loadExperiment(experimentFile(exp), { catalog }))[0]!;

describe('triangular (inverse CDF)', () => {
  it('maps 0, the mode fraction and 1 to min, mode and max, and inverts the CDF in between', () => {
    // (a, c, b) = (0, 1, 2): F(c) = (c - a) / (b - a) = 0.5.
    expect(triangular(0, 0, 1, 2)).toBe(0);
    expect(triangular(0.5, 0, 1, 2)).toBeCloseTo(1, 12);
    expect(triangular(1, 0, 1, 2)).toBe(2);
    // Left of the mode F(x) = (x - a)^2 / ((b - a)(c - a)): F(x) = 0.25 => x = sqrt(0.25 x 2 x 1) = 0.70711.
    expect(triangular(0.25, 0, 1, 2)).toBeCloseTo(Math.SQRT1_2, 12);
    // Right: 1 - F(x) = (b - x)^2 / ((b - a)(b - c)) = 0.25 => x = 2 - sqrt(0.5) = 1.29289.
    expect(triangular(0.75, 0, 1, 2)).toBeCloseTo(2 - Math.SQRT1_2, 12);
    // A mode at an end (tcp's typical = min): F(c) = 0, so every u lands right of it: u = 0.75 => 3 - sqrt(0.25 x 2.9 x 2.9) = 1.55.
    expect(triangular(0.75, 0.1, 0.1, 3)).toBeCloseTo(1.55, 12);
    expect(triangular(0.3, 5, 5, 5)).toBe(5);
  });

  it('the mean of a large deterministic sample is (a + b + c) / 3, within 4 standard errors', () => {
    const n = 20_000;
    const mean = (a: number, c: number, b: number, name: ParameterName) => {
      let sum = 0;
      for (let j = 0; j < n; j++) sum += triangular(sampleUniform(11, j, name), a, c, b);
      return sum / n;
    };
    // H100 prefillCompute (0.3, 0.761, 0.85): mean 1.911 / 3 = 0.637; variance (a^2 + b^2 + c^2 - ab - ac - bc) / 18 =
    // (1.391621 - 1.13015) / 18 = 0.014526, sd 0.1205, standard error over 20,000 draws 0.00085: 4 SE = 0.0034.
    expect(Math.abs(mean(0.3, 0.761, 0.85, 'gpu.efficiency.prefillCompute') - 0.637)).toBeLessThan(0.0034);
    // tcp (0.1, 0.1, 3) GB/s: mean 3.2 / 3 = 1.06667; variance (9.02 - 0.61) / 18 = 0.46722, sd 0.6835, 4 SE = 0.0193.
    expect(Math.abs(mean(0.1, 0.1, 3, 'transport.bandwidthPerRailGBps') - 1.066667)).toBeLessThan(0.0193);
  });
});

describe('drawing samples of a point', () => {
  const tcp = pointOf(tcpExperiment(4000));
  const agg = pointOf(aggregatedExperiment(4000));

  it('names the figures that can move the point: bandwidth and connector only when disaggregated, launches by graph mode, all-reduce only past TP1', () => {
    expect(uncertainParameters(tcp, catalog).map((p) => p.name)).toEqual([
      'transport.bandwidthPerRailGBps',
      'gpu.efficiency.prefillCompute',
      'gpu.efficiency.decodeMemory',
      'gpu.efficiency.stepOverheadS',
      'gpu.efficiency.piecewiseLayerOverheadS',
      'gpu.efficiency.connectorStepOverheadS',
    ]);
    expect(uncertainParameters(agg, catalog).map((p) => p.name)).toEqual([
      'gpu.efficiency.prefillCompute',
      'gpu.efficiency.decodeMemory',
      'gpu.efficiency.stepOverheadS',
      'gpu.efficiency.piecewiseLayerOverheadS',
    ]);
    const aggDeployment = aggregatedExperiment(0)['deployment'] as Record<string, unknown>;
    const eager = pointOf(aggregatedExperiment(4000, { deployment: { ...aggDeployment, engine: { enforceEager: true } } }));
    expect(uncertainParameters(eager, catalog).map((p) => p.name)).toContain('gpu.efficiency.eagerLayerOverheadS');
    expect(uncertainParameters(eager, catalog).map((p) => p.name)).not.toContain('gpu.efficiency.piecewiseLayerOverheadS');
    const tp2 = pointOf(aggregatedExperiment(4000, { deployment: { ...aggDeployment, aggregated: { workers: 1, tp: 2 } } }));
    expect(uncertainParameters(tp2, catalog).map((p) => p.name)).toContain('gpu.efficiency.allReduceLatencyS');
    // The catalog's ranges, SI units: tcp 0.1 / 0.1 / 3 GB/s per rail (models/transport/tcp.yaml).
    expect(uncertainParameters(tcp, catalog)[0]).toMatchObject({ min: 1e8, nominal: 1e8, max: 3e9, unit: 'GB/s' });
  });

  it('every draw lies within its catalog range, and the draws spread over it', () => {
    const params = uncertainParameters(tcp, catalog);
    const seen = new Map(params.map((p) => [p.name, { lo: Infinity, hi: -Infinity }]));
    for (let j = 0; j < 500; j++) {
      for (const [name, v] of drawSample(tcp, params, j)) {
        const p = params.find((q) => q.name === name)!;
        expect(v).toBeGreaterThanOrEqual(p.min);
        expect(v).toBeLessThanOrEqual(p.max);
        const s = seen.get(name)!;
        s.lo = Math.min(s.lo, v);
        s.hi = Math.max(s.hi, v);
      }
    }
    // 500 draws reach into the outer tenth of each range at both ends (a sampler stuck at the mode would not).
    for (const p of params) {
      const s = seen.get(p.name)!;
      expect(s.lo).toBeLessThan(p.min + 0.1 * (p.max - p.min));
      expect(s.hi).toBeGreaterThan(p.max - 0.1 * (p.max - p.min));
    }
  });

  it('is deterministic; another seed draws otherwise; sample j is the same world at every point', () => {
    const params = uncertainParameters(tcp, catalog);
    expect([...drawSample(tcp, params, 3)]).toEqual([...drawSample(tcp, params, 3)]);
    const other = { ...tcp, experiment: { ...tcp.experiment, seed: 8 } };
    expect([...drawSample(other, params, 3)]).not.toEqual([...drawSample(tcp, params, 3)]);
    // Common random numbers: the aggregated point (same seed 7 here) draws the same GPU factors as the tcp point.
    const sameSeed = { ...agg, experiment: { ...agg.experiment, seed: 7 } };
    const a = drawSample(sameSeed, uncertainParameters(sameSeed, catalog), 3);
    const b = drawSample(tcp, params, 3);
    for (const name of PARAMETER_NAMES.filter((n) => a.has(n))) expect(a.get(name)).toBe(b.get(name));
  });

  it('overrides replace only the named figures; the rest stay at the GPU record', () => {
    const o = overridesFor(tcp, catalog, new Map<ParameterName, number>([['gpu.efficiency.prefillCompute', 0.5], ['transport.bandwidthPerRailGBps', 2e9]]));
    // models/gpu/h100-sxm.yaml's values.
    const rest = {
      decodeMemory: 0.9,
      stepOverheadS: 0.00238,
      eagerLayerOverheadS: 0.000231,
      piecewiseLayerOverheadS: 0.00003,
      allReduceLatencyS: 0.0000298,
      connectorStepOverheadS: 0.00763,
    };
    expect(o).toEqual({ efficiency: { prefillCompute: 0.5, ...rest }, bandwidthPerRail: 2e9 });
    expect(overridesFor(agg, catalog, new Map())).toEqual({ efficiency: { prefillCompute: 0.761, ...rest } });
  });
});
