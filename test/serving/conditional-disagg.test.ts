import { describe, expect, it } from 'vitest';
import { defaultCatalog, getGpu } from '../../src/catalog/index.js';
import { runPoint } from '../../src/serving/simulate.js';
import type { Deployment, Workload } from '../../src/spec/experiment.js';
import { experiment, point } from './helpers.js';

/**
 * Conditional disaggregation (deployment.conditionalDisagg, issue #28): Dynamo v0.x's DisaggregatedRouter prefills on
 * the decode worker when the prompt less its cached prefix is at most max_local_prefill_length tokens (default 1000),
 * or when max_prefill_queue_size requests (default 2) already wait for prefill workers.
 */
const c = defaultCatalog();
const h100 = getGpu(c, 'h100-sxm');

function run(cd: Deployment['conditionalDisagg'], workload: Partial<Workload>) {
  const e = experiment({ deployment: { prewarmed: true, ...(cd ? { conditionalDisagg: cd } : {}) }, workload: { requests: 1, ...workload } });
  return runPoint(point(e), c).result;
}

const DEFAULTS = { maxLocalPrefillLength: 1000, maxPrefillQueueSize: 2 };

describe('conditional disaggregation', () => {
  it('a 500-token prompt is prefilled on the decode worker: no KV transfer, one prefill step there', () => {
    const r = run(DEFAULTS, { isl: { mean: 500, stddev: 0 } });
    expect(r.conditionalDisagg).toEqual({ localPrefills: 1, remotePrefills: 0 });
    expect(r.kvTransfer.bytesMean).toBeNull(); // no transfer at all
    // Llama-3.1-8B, 500 tokens: matmuls 2 x 6,979,326,848 x 500, the LM head 2 x 128,256 x 4096, attention 32 layers
    // x 4 x 4096 x (500 x 501 / 2) pairs, at the H100's 989 TFLOP/s x its prefill efficiency; plus the host's time a
    // step and the decode worker's connector polling.
    const e = h100.efficiency;
    const flops = 2 * 6_979_326_848 * 500 + 2 * 128_256 * 4096 + 32 * 4 * 4096 * 125_250;
    const stepS = flops / (989e12 * e.prefillCompute.value) + e.stepOverheadS.value + e.connectorStepOverheadS.value;
    // Compute-bound: its FLOPs take longer than reading the 16.06 GB of weights (5.3 ms at 3.35 TB/s x 0.9).
    expect(flops / (989e12 * e.prefillCompute.value)).toBeGreaterThan(16.06e9 / (3.35e12 * e.decodeMemory.value));
    expect(r.ttftMs.mean).toBeCloseTo(stepS * 1000, 2);
    const remote = run(undefined, { isl: { mean: 500, stddev: 0 } });
    expect(remote.ttftMs.mean).toBeGreaterThan(r.ttftMs.mean!);
  });

  it('a 2000-token prompt goes to the prefill worker and its KV over the wire: 125 blocks x 16 x 131,072 B', () => {
    const r = run(DEFAULTS, { isl: { mean: 2000, stddev: 0 } });
    expect(r.conditionalDisagg).toEqual({ localPrefills: 0, remotePrefills: 1 });
    expect(r.kvTransfer.bytesMean).toBe(262_144_000);
  });

  it('with a full prefill queue (max 0: always full) every prompt stays on the decode worker', () => {
    const r = run({ maxLocalPrefillLength: 1000, maxPrefillQueueSize: 0 }, { isl: { mean: 2000, stddev: 0 } });
    expect(r.conditionalDisagg).toEqual({ localPrefills: 1, remotePrefills: 0 });
    expect(r.kvTransfer.bytesMean).toBeNull(); // no transfer at all
  });

  it("a conversation's later turns find the earlier ones on the decode worker and stay there", () => {
    // A 2000-token prefix prompt, 400 new tokens and 100 out a turn: prompts of 2400, 2900, 3400 tokens. Turn 1 has
    // nothing cached: 2400 > 1000, remote. The decode worker caches what it received and decoded but the answer's last
    // token: floor((2400 + 99) / 16) = 156 blocks = 2496 tokens, so turn 2 has 2900 - 2496 = 404 left: local; it
    // leaves floor((2900 + 99) / 16) = 187 blocks = 2992 tokens, and turn 3 has 408 left: local. The cache finds what
    // an aggregated worker would: 156 + 187 of 150 + 181 + 212 prompt blocks.
    const r = run(DEFAULTS, {
      requests: 3,
      isl: { mean: 400, stddev: 0 },
      osl: { mean: 100, stddev: 0 },
      prefixPrompts: { count: 1, tokens: 2000 },
      sessions: { turns: { mean: 3, stddev: 0 }, delayS: { mean: 0, stddev: 0 } },
    });
    expect(r.conditionalDisagg).toEqual({ localPrefills: 2, remotePrefills: 1 });
    expect(r.prefixCache).toMatchObject({ promptBlocks: 543, gpuHitBlocks: 343 });
  });

  it('unset, every request is prefilled remotely and the summary has no conditionalDisagg', () => {
    const r = run(undefined, { isl: { mean: 500, stddev: 0 } });
    expect(r.conditionalDisagg).toBeUndefined();
    expect(r.kvTransfer.bytesMean).toBeGreaterThan(0);
  });
});
