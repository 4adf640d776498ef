import { describe, expect, it } from 'vitest';
import { recommendedExperimentOf } from '../../src/plan/output.js';
import type { DeploymentSection } from '../../src/plan/types.js';
import type { Point } from '../../src/spec/experiment.js';

describe('recommended.yaml', () => {
  it("keeps what the probe ran with: the router, its routerConfig and a prewarmed disaggregated deployment", () => {
    const d: DeploymentSection = {
      mode: 'disaggregated',
      model: 'llama-3.1-8b-instruct',
      gpu: 'h100-sxm',
      node: 'p5.48xlarge',
      connector: 'any-tp',
      transport: 'efa-libfabric',
      prefill: { workers: 2, tp: 1 },
      decode: { workers: 1, tp: 2 },
      placement: 'cross-node',
      prewarmed: true,
      router: 'kv-aware',
      routerConfig: { overlapScoreWeight: 2 },
    };
    const point = {
      id: 'p',
      params: {},
      experiment: { seed: 3, workload: { kind: 'poisson', rate: 4, requests: 100, warmup: 5, isl: { mean: 1000, stddev: 0 }, osl: { mean: 50, stddev: 0 } } },
    } as unknown as Point;
    const out = recommendedExperimentOf(d, point, '/tmp') as { deployment: Record<string, unknown> };
    expect(out.deployment).toMatchObject({ prewarmed: true, router: 'kv-aware', routerConfig: { overlapScoreWeight: 2 }, placement: 'cross-node' });
    expect('aggregated' in out.deployment).toBe(false); // what the section leaves out stays out
  });
});
