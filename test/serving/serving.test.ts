import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCatalog, getGpu, getLlm } from '../../src/catalog/index.js';
import { defaultEfficiency, weightBytesPerGpu } from '../../src/physics/index.js';
import { runPoint } from '../../src/serving/simulate.js';
import { VLLM_ENGINE } from '../helpers/fixtures.js';
import { experiment, point } from './helpers.js';

const c = defaultCatalog();
const run = (e: ReturnType<typeof experiment>) => runPoint(point(e), c);
const m8 = getLlm(c, 'llama-3.1-8b-instruct');
const h100 = getGpu(c, 'h100-sxm');

describe('one request alone', () => {
  // 8B, ISL 1000, OSL 50 on one H100 at the catalog's factors.
  const e = h100.efficiency;
  const eff = e.prefillCompute.value;
  const host = e.stepOverheadS.value;
  // Prefill FLOPs by hand: matmul params 8.03e9 - 2 x 128256 x 4096 = 6,979,326,848; x 2 x 1000 tokens, + LM head
  // 2 x 128256 x 4096, + attention 32 layers x 4 x 4096 x (1000 x 1001 / 2) pairs. A prefill step runs piecewise
  // graphs, whose 32 x 30 us of launches hide under its ~19 ms of compute; the host's time adds.
  const flops = 2 * 6_979_326_848 * 1000 + 2 * 128_256 * 4096 + 32 * 4 * 4096 * 500_500;
  const prefillS = flops / (989e12 * eff) + host; // compute-bound: weights take 16.06e9 / (3.35e12 x 0.9) = 5.3 ms
  // A decode step is one full CUDA graph (no launches): 8.03e9 x 2 B of weights + ~1025 x 131,072 B of KV over
  // 3.35e12 x decodeMemory, + the host's time.
  const decodeGpuS = (8.03e9 * 2 + 1025 * 131_072) / (3.35e12 * e.decodeMemory.value);

  it('aggregated: TTFT is one prefill step, and all 50 tokens come out', () => {
    const { result } = run(experiment({ deployment: { mode: 'aggregated' }, workload: { requests: 1 } }));
    expect(result.requests).toMatchObject({ total: 1, completed: 1, failed: 0, inFlight: 0 });
    expect(flops / (989e12 * eff)).toBeGreaterThan(16.06e9 / (3.35e12 * e.decodeMemory.value)); // compute-bound indeed
    expect(flops / (989e12 * eff)).toBeGreaterThan(32 * e.piecewiseLayerOverheadS.value); // launches hidden
    expect(result.ttftMs.mean).toBeCloseTo(prefillS * 1000, 2);
    const decodeS = decodeGpuS + host;
    expect(result.itlMs.mean).toBeGreaterThan(decodeS * 1000 * 0.99);
    expect(result.itlMs.mean).toBeLessThan(decodeS * 1000 * 1.02);
  });

  it('disaggregated over EFA: TTFT adds the KV transfer and a decode step (with its connector time) to the prefill', () => {
    const { result } = run(experiment({ deployment: { prewarmed: true }, workload: { requests: 1 } }));
    // KV: 1000 tokens -> 63 blocks = 1008 slots x 131,072 B = 132,120,576 B over 4 EFA rails x 10 GB/s = 40 GB/s.
    const wire = 132_120_576 / 40e9;
    expect(result.kvTransfer.bytesMean).toBe(132_120_576);
    expect(result.kvTransfer.ms.mean).toBeGreaterThan(wire * 1000);
    expect(result.kvTransfer.ms.mean).toBeLessThan(wire * 1000 + 1); // + latency and posting, well under 1 ms
    // The decode worker's first step (it computes the first token) pays its connector's host time too.
    const firstDecodeS = decodeGpuS + host + e.connectorStepOverheadS.value;
    expect(result.ttftMs.mean).toBeGreaterThan((prefillS + wire + firstDecodeS) * 1000 * 0.99);
    expect(result.ttftMs.mean).toBeLessThan((prefillS + wire + firstDecodeS + 0.005) * 1000); // + handshake, posting
    // Its ITL is a decode step of the disaggregated decode worker: GPU + host + connector.
    expect(result.itlMs.mean).toBeGreaterThan(firstDecodeS * 1000 * 0.99);
    expect(result.itlMs.mean).toBeLessThan(firstDecodeS * 1000 * 1.02);
  });

  it('cold, the first request also waits for the decode worker to register the prefill worker', () => {
    // add_remote_agent builds one descriptor per block of the prefill pool per region: 32 layers x K and V = 64, at
    // 0.225 us each (vllm-project/vllm#48209). The pool: HBM x 0.9 - weights - the 4 GB reserve, in 2,097,152-byte
    // blocks (16 tokens x 131,072 B).
    const blocks = Math.floor((h100.hbmBytes * 0.9 - weightBytesPerGpu(m8, { tp: 1, dp: 1, ep: 1 }) - 4e9) / 2_097_152);
    const prepS = blocks * 64 * 0.225e-6;
    const warm = run(experiment({ deployment: { prewarmed: true }, workload: { requests: 1 } })).result;
    const cold = run(experiment({ workload: { requests: 1 } })).result;
    // + the side channel's round trip (two ZMQ messages over TCP), under a millisecond.
    expect(cold.ttftMs.mean! - warm.ttftMs.mean!).toBeGreaterThan(prepS * 1000);
    expect(cold.ttftMs.mean! - warm.ttftMs.mean!).toBeLessThan(prepS * 1000 + 1);
    expect(prepS).toBeGreaterThan(0.3); // about a third of a second for a 25k-block pool
  });
});

describe('utilisation is over the served window, not the horizon', () => {
  it('one aggregated worker serving back to back (closed loop, concurrency 1) is busy the whole time', () => {
    // Each request starts the moment the last one ends, so busy time (the sum of step times) equals the window.
    const { result } = run(experiment({ deployment: { mode: 'aggregated' }, workload: { requests: 5 } }));
    expect(result.utilisation.workers['agg-0']).toBeCloseTo(1, 3);
  });

  it('a Poisson trickle keeps the worker busy for the share of the window its requests take', () => {
    // 20 requests of ISL 1000 / OSL 50 at 0.1/s: ~200 s of window, each request one prefill (21.3 ms: the 1.4222e13
    // FLOPs above / (989e12 x 0.761) = 18.9 ms, + 2.38 ms of host) plus 49 decode steps (7.8 ms each: (16.06e9 +
    // 1025 x 131,072) B / (3.35e12 x 0.9) = 5.37 ms, + 2.38 ms) = 0.40 s alone, so ~20 x 0.40 / 200 = ~4%.
    // Against the 86,400 s horizon it would read 0.01%.
    const { result } = run(experiment({ deployment: { mode: 'aggregated' }, workload: { kind: 'poisson', rate: 0.1, requests: 20 } }));
    const u = result.utilisation.workers['agg-0']!;
    expect(u).toBeGreaterThan(0.02);
    expect(u).toBeLessThan(0.08);
  });

  it('a run cut by its horizon measures utilisation up to the horizon', () => {
    // Four requests in flight at once from t = 0 keep the engine stepping without a gap until the 1 s horizon.
    const { result } = run(experiment({ deployment: { mode: 'aggregated' }, horizonS: 1, workload: { concurrency: 4, requests: 100 } }));
    expect(result.requests.inFlight).toBeGreaterThan(0);
    expect(result.utilisation.workers['agg-0']).toBeCloseTo(1, 2);
  });
});

describe('determinism and accounting', () => {
  it('the same experiment and seed give identical results; another seed differs when lengths are random', () => {
    const e = (seed: number) => experiment({ seed, workload: { isl: { mean: 3000, stddev: 800 }, osl: { mean: 100, stddev: 30 }, concurrency: 8, requests: 200 } });
    const a = JSON.stringify(run(e(5)).result);
    expect(JSON.stringify(run(e(5)).result)).toBe(a);
    expect(JSON.stringify(run(e(6)).result)).not.toBe(a);
  });

  it('warm-up requests are sent but left out of the metrics', () => {
    const { result } = run(experiment({ workload: { requests: 10, warmup: 3 } }));
    expect(result.requests.total).toBe(10);
    expect(result.requests.completed).toBe(10);
  });

  it('an open-loop Poisson workload sends every request and finishes them all', () => {
    const { result } = run(experiment({ workload: { kind: 'poisson', rate: 5, requests: 300 } }));
    expect(result.requests).toMatchObject({ total: 300, completed: 300, inFlight: 0 });
    // 300 arrivals at 5/s span about 60 s.
    expect(result.durationS).toBeGreaterThan(45);
    expect(result.durationS).toBeLessThan(80);
  });

  it('a horizon cuts the run: unfinished requests are counted in flight', () => {
    const { result } = run(experiment({ horizonS: 1, workload: { concurrency: 4, requests: 100 } }));
    expect(result.requests.total).toBeGreaterThan(0);
    expect(result.requests.completed + result.requests.failed + result.requests.inFlight).toBe(result.requests.total);
    expect(result.requests.inFlight).toBeGreaterThan(0);
  });
});

describe('the seed scenarios in miniature', () => {
  it('seed 003: prefill TP4 -> decode TP1 on decode-wider-tp kills every decode engine and fails every request; any-tp serves all', () => {
    const base = { model: 'llama-3.1-70b-instruct-fp8', gpu: 'h200-sxm', node: 'h200-roce', transport: 'roce-rdma', prefill: { workers: 3, tp: 4 }, decode: { workers: 4, tp: 1 } };
    const w = { isl: { mean: 2000, stddev: 0 }, osl: { mean: 100, stddev: 0 }, concurrency: 100, requests: 500 };
    const bad = run(experiment({ deployment: { ...base, connector: 'decode-wider-tp' }, workload: w })).result;
    expect(bad.requests).toMatchObject({ total: 500, completed: 0, failed: 500 });
    expect(bad.events.engine_dead).toBe(4);
    expect(bad.events.handshake_failed).toBe(4);
    const good = run(experiment({ deployment: { ...base, connector: 'any-tp' }, workload: w })).result;
    expect(good.requests).toMatchObject({ total: 500, completed: 500, failed: 0 });
    expect(good.events.engine_dead).toBe(0);
  });

  it('seed 000: 120k tokens over TCP outlast the 120 s expiry: one kv_blocks_expired per prefill rank, then local prefill', () => {
    const { result } = run(
      experiment({
        deployment: { model: 'deepseek-r1-distill-llama-70b', node: 'dgx-h100', transport: 'tcp', connector: 'decode-wider-tp', prefill: { workers: 1, tp: 8 }, decode: { workers: 1, tp: 8 } },
        workload: { isl: { mean: 120_000, stddev: 0 }, osl: { mean: 10, stddev: 0 }, requests: 2 },
      }),
    );
    expect(result.requests).toMatchObject({ completed: 2, fellBack: 2, failed: 0 });
    expect(result.events.kv_blocks_expired).toBe(2 * 8);
    expect(result.events.fell_back).toBe(2);
    expect(result.events.stale_kv_read).toBe(0); // decode gave up at the timeout instead of reading freed blocks
    // TTFT >= 120 s of waiting plus two prefills of 120k tokens.
    expect(result.ttftMs.min).toBeGreaterThan(120_000);
  });

  it('with kvLoadTimeoutS null decode waits for ever and the late reads are stale (silent corruption in vLLM)', () => {
    const { result } = run(
      experiment({
        deployment: { model: 'deepseek-r1-distill-llama-70b', node: 'dgx-h100', transport: 'tcp', connector: 'decode-wider-tp', prefill: { workers: 1, tp: 8 }, decode: { workers: 1, tp: 8 }, kvLoadTimeoutS: null },
        workload: { isl: { mean: 120_000, stddev: 0 }, osl: { mean: 10, stddev: 0 }, requests: 1 },
      }),
    );
    expect(result.events.stale_kv_read).toBe(1);
    expect(result.requests.stale).toBe(1);
    // 39.32 GB at 100 MB/s: the read takes 393 s.
    expect(result.kvTransfer.ms.mean).toBeGreaterThan(393_216);
  });

  it('the same 120k request over InfiniBand reads in about a second, posting-bound', () => {
    const { result } = run(
      experiment({
        deployment: { model: 'deepseek-r1-distill-llama-70b', node: 'dgx-h100', transport: 'ib-rdma', prefill: { workers: 1, tp: 8 }, decode: { workers: 1, tp: 8 }, prewarmed: true },
        workload: { isl: { mean: 120_000, stddev: 0 }, osl: { mean: 10, stddev: 0 }, requests: 1 },
      }),
    );
    expect(result.requests.fellBack).toBe(0);
    // 39,321,600,000 B over 8 rails x 35 GB/s = 0.140 s on the wire, under each rank's posting of 80 layers x 2 x
    // 7,500 blocks = 1.2M descriptors at 0.87 us = 1.044 s, which sets the time.
    expect(result.kvTransfer.ms.mean).toBeGreaterThan(1044);
    expect(result.kvTransfer.ms.mean).toBeLessThan(1050);
  });

  it('with cross-layer KV blocks (deployment.engine.kvLayout) the same request reads at the wire time', () => {
    const { result } = run(
      experiment({
        deployment: {
          model: 'deepseek-r1-distill-llama-70b',
          node: 'dgx-h100',
          transport: 'ib-rdma',
          prefill: { workers: 1, tp: 8 },
          decode: { workers: 1, tp: 8 },
          engine: { ...VLLM_ENGINE, kvLayout: 'cross-layer' },
          prewarmed: true,
        },
        workload: { isl: { mean: 120_000, stddev: 0 }, osl: { mean: 10, stddev: 0 }, requests: 1 },
      }),
    );
    // One descriptor a block: 7,500 a rank at 0.87 us = 6.5 ms of posting, under the 140.4 ms on the wire.
    expect(result.kvTransfer.ms.mean).toBeGreaterThan(140.4);
    expect(result.kvTransfer.ms.mean).toBeLessThan(146);
  });
});

describe('scheduler behaviour', () => {
  it('running out of KV blocks preempts by recompute, and every request still completes', () => {
    // A pool squeezed to a few hundred blocks: gpu_memory_utilization just above weights + reserve.
    // 8B weights 16.06 GB + 4 GB reserve = 20.06 GB of 80 GB; 0.2575 x 80 = 20.6 GB leaves ~0.54 GB = ~257 blocks of 2 MiB.
    const { result } = run(
      experiment({
        deployment: { mode: 'aggregated', engine: { ...VLLM_ENGINE, gpuMemoryUtilization: 0.2575, prefixCaching: false } },
        workload: { isl: { mean: 1000, stddev: 0 }, osl: { mean: 400, stddev: 0 }, concurrency: 8, requests: 16 },
      }),
    );
    expect(result.requests.completed).toBe(16);
    expect(result.events.preempted).toBeGreaterThan(0);
  });

  it('in aggregated serving a long prompt stretches the inter-token latency of the requests around it', () => {
    const short = run(experiment({ deployment: { mode: 'aggregated' }, workload: { isl: { mean: 500, stddev: 0 }, osl: { mean: 200, stddev: 0 }, concurrency: 8, requests: 32 } })).result;
    const long = run(experiment({ deployment: { mode: 'aggregated' }, workload: { isl: { mean: 16_000, stddev: 0 }, osl: { mean: 200, stddev: 0 }, concurrency: 8, requests: 32 } })).result;
    expect(long.itlMs.mean!).toBeGreaterThan(short.itlMs.mean! * 1.5);
  });

  it('prefix caching: a Mooncake prompt whose hash_ids were seen before prefills only its last block', () => {
    // Two records 10 s apart with the same 8 hash ids (8 x 512 = 4096 tokens); the third shares none.
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-'));
    const file = join(dir, 'trace.jsonl');
    const rec = (ts: number, ids: number[]) => JSON.stringify({ timestamp: ts, input_length: 4096, output_length: 10, hash_ids: ids });
    writeFileSync(file, [rec(0, [1, 2, 3, 4, 5, 6, 7, 8]), rec(10_000, [1, 2, 3, 4, 5, 6, 7, 8]), rec(20_000, [9, 10, 11, 12, 13, 14, 15, 16])].join('\n') + '\n');
    const { result } = run(
      experiment({
        deployment: { mode: 'aggregated', router: 'kv-aware', aggregated: { workers: 2, tp: 1 } },
        workload: { kind: 'trace', requests: 0, trace: { format: 'mooncake', path: file, speedup: 1 } },
      }),
    );
    expect(result.requests.completed).toBe(3);
    // The second prompt finds 255 of its 256 blocks cached (the last token is always computed): its prefill is ~1/256
    // of the work, so its TTFT is far below the others'.
    expect(result.ttftMs.min! * 5).toBeLessThan(result.ttftMs.max!);
    expect(result.ttftMs.p50).toBeCloseTo(result.ttftMs.max!, -1);
  });

  it('without prefix caching the same trace gets no reuse', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-'));
    const file = join(dir, 'trace.jsonl');
    const rec = (ts: number) => JSON.stringify({ timestamp: ts, input_length: 4096, output_length: 10, hash_ids: [1, 2, 3, 4, 5, 6, 7, 8] });
    writeFileSync(file, [rec(0), rec(10_000)].join('\n') + '\n');
    const { result } = run(
      experiment({
        deployment: { mode: 'aggregated', engine: { ...VLLM_ENGINE, prefixCaching: false } },
        workload: { kind: 'trace', requests: 0, trace: { format: 'mooncake', path: file, speedup: 1 } },
      }),
    );
    expect(result.ttftMs.min).toBeCloseTo(result.ttftMs.max!, 3);
  });
});

describe('connector profile overrides from the experiment', () => {
  const base = { model: 'llama-3.1-70b-instruct-fp8', gpu: 'h200-sxm', node: 'h200-roce', transport: 'roce-rdma', prefill: { workers: 1, tp: 4 }, decode: { workers: 1, tp: 1 } };
  const w = { isl: { mean: 2000, stddev: 0 }, osl: { mean: 10, stddev: 0 }, concurrency: 4, requests: 20 };

  it('any-tp overridden to crash when prefill is wider behaves like decode-wider-tp', () => {
    const r = run(experiment({ deployment: { ...base, connector: 'any-tp', connectorOverrides: { tp: { prefillWider: 'crash' } } }, workload: w })).result;
    expect(r.requests.failed).toBe(20);
    expect(r.events.engine_dead).toBe(1);
  });

  it('decode-wider-tp overridden to accept the pair serves it', () => {
    const r = run(experiment({ deployment: { ...base, connector: 'decode-wider-tp', connectorOverrides: { tp: { prefillWider: 'ok' } } }, workload: w })).result;
    expect(r.requests.completed).toBe(20);
  });

  it('an expiry override: VLLM_NIXL_ABORT_REQUEST_TIMEOUT=480 keeps a 393 s tcp read of 120k tokens valid', () => {
    const r = run(
      experiment({
        deployment: { model: 'deepseek-r1-distill-llama-70b', node: 'dgx-h100', transport: 'tcp', connector: 'decode-wider-tp', prefill: { workers: 1, tp: 8 }, decode: { workers: 1, tp: 8 }, expiry: { kind: 'abort-timeout', timeoutS: 480 } },
        workload: { isl: { mean: 120_000, stddev: 0 }, osl: { mean: 10, stddev: 0 }, requests: 1 },
      }),
    ).result;
    expect(r.events.kv_blocks_expired).toBe(0);
    expect(r.requests.fellBack).toBe(0);
    expect(r.kvTransfer.ms.mean).toBeGreaterThan(393_216);
  });
});

describe("vLLM V1's scheduler and graph modes on the serving path", () => {
  const e = h100.efficiency;
  const host = e.stepOverheadS.value;
  const flopsPerS = 989e12 * e.prefillCompute.value;
  const lmHead = 2 * 128_256 * 4096; // FLOPs of the LM head, once per prefill chunk

  it('long_prefill_token_threshold 2048 prefills an 8000-token prompt in 4 steps: 3 more host times and LM heads', () => {
    const once = run(experiment({ deployment: { mode: 'aggregated' }, workload: { requests: 1, isl: { mean: 8000, stddev: 0 } } })).result;
    const capped = run(
      experiment({ deployment: { mode: 'aggregated', engine: { ...VLLM_ENGINE, longPrefillTokenThreshold: 2048 } }, workload: { requests: 1, isl: { mean: 8000, stddev: 0 } } }),
    ).result;
    // Chunks of 2048, 2048, 2048 and 1856 tokens: the same matmul and attention FLOPs in total (causal pairs add up),
    // each chunk compute-bound (~47 ms against 5.3 ms of weights), and one host time and one LM head per step.
    expect(capped.ttftMs.mean! - once.ttftMs.mean!).toBeCloseTo(3 * (host + lmHead / flopsPerS) * 1000, 3); // ms, to the 1 us the summary keeps
  });

  it('the decode worker computes the last prompt token again, a mixed step: piecewise launches show when they outlast the GPU', () => {
    const point1 = point(experiment({ workload: { requests: 1 } }));
    const base = runPoint(point1, c).result;
    const slow = runPoint(point1, c, { efficiency: { ...defaultEfficiency(h100), piecewiseLayerOverheadS: 0.001 } }).result;
    // 32 layers x 1 ms = 32 ms of launches for each mixed step. Before the first token there are two: the prefill of
    // 1000 tokens (18.9 ms of compute: 32 - 18.9 ms more) and the decode worker's one-token recompute (reads 16.06e9 B
    // of weights + 999 x 131,072 B of KV at 3.35e12 x 0.9: 5.37 ms, so 32 - 5.37 ms more). Decode steps after it replay
    // full graphs, so ITL does not move.
    const flops = 2 * 6_979_326_848 * 1000 + lmHead + 32 * 4 * 4096 * 500_500;
    const prefillGpu = flops / flopsPerS;
    const recomputeGpu = (8.03e9 * 2 + 999 * 131_072) / (3.35e12 * e.decodeMemory.value);
    expect(slow.ttftMs.mean! - base.ttftMs.mean!).toBeCloseTo((0.032 - prefillGpu + (0.032 - recomputeGpu)) * 1000, 1);
    expect(slow.itlMs.mean).toBeCloseTo(base.itlMs.mean!, 6);
  });
});
