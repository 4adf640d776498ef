import { describe, expect, it } from 'vitest';
import { deploymentBounds } from '../../src/audit/bounds.js';
import { defaultCatalog } from '../../src/catalog/index.js';
import { loadDeployment } from '../../src/experiment/measured.js';
import { fixture } from './helpers.js';

/**
 * The physical bounds worked out by hand for Llama-3.1-8B-Instruct (config.json: 32 layers, hidden 4096, 32 heads,
 * 8 KV heads of 128, vocab 128256, 8.03 B parameters, bf16) on one H100 SXM (989 TFLOP/s bf16 dense, 3.35 TB/s).
 */
const matmulParams = 8.03e9 - 2 * 128256 * 4096; // 6,979,326,848: all but the embedding and the LM head
const prefillFlops = (isl: number) => 2 * matmulParams * isl + 2 * 128256 * 4096 + 32 * 2 * 2 * (32 * 128) * ((isl * (isl + 1)) / 2);
const weightBytes = 8.03e9 * 2;
const kvPerToken = 2 * 32 * 8 * 128 * 2; // K and V, 32 layers, 8 heads of 128, bf16: 131,072 B

describe('physical bounds', () => {
  const catalog = defaultCatalog();
  const agg = loadDeployment(fixture('p5-aggregated.yaml'), { catalog }).deployment;
  const dis = loadDeployment(fixture('p5-disaggregated.yaml'), { catalog }).deployment;

  it('prefill at 100% of peak FLOP/s: an 8000-token prompt of the 8B model is ~129.9 ms on one H100', () => {
    // linear 2 x 6,979,326,848 x 8000 + LM head 1,050,673,152 = 1.11670e14; attention 32 x 4 x 4096 x 32,004,000 =
    // 1.67793e13; total 1.28450e14 FLOP / 989e12 = 0.12988 s. The weights at 3.35 TB/s take only 4.8 ms.
    const expected = prefillFlops(8000) / 989e12;
    expect(expected).toBeCloseTo(0.12988, 5);
    expect(weightBytes / 3.35e12).toBeLessThan(expected);
    const b = deploymentBounds(agg, catalog, { isl: 8000, osl: 50, concurrency: 1 });
    expect(b.prefillS).toBeCloseTo(expected, 9);
    expect(b.kvTransferS).toBe(0);
    expect(b.ttftS).toBeCloseTo(expected, 9);
  });

  it('decode at 100% of HBM bandwidth: the weights and the mean context of KV over 3.35 TB/s', () => {
    // Mean context over 50 outputs after 8000: 8025 tokens x 131,072 B = 1.0519 GB, plus 16.06 GB of weights:
    // 17.112 GB / 3.35 TB/s = 5.108 ms a token.
    const itl = (weightBytes + 8025 * kvPerToken) / 3.35e12;
    expect(itl).toBeCloseTo(0.005108, 6);
    const b = deploymentBounds(agg, catalog, { isl: 8000, osl: 50, concurrency: 1 });
    expect(b.itlS).toBeCloseTo(itl, 12);
    expect(b.latencyS).toBeCloseTo(prefillFlops(8000) / 989e12 + 49 * itl, 9);
  });

  it('the KV transfer at EFA line rate: 1.05 GB over 4 rails of 12.5 GB/s (p5.48xlarge: 32 NICs / 8 GPUs)', () => {
    // 500 blocks of 16 tokens x 131,072 B = 1,048,576,000 B at 50 GB/s = 20.97 ms, no latency or per-read cost.
    const wire = (500 * 16 * kvPerToken) / (4 * 12.5e9);
    expect(wire).toBeCloseTo(0.02097152, 9);
    const b = deploymentBounds(dis, catalog, { isl: 8000, osl: 50, concurrency: 10 });
    expect(b.kvTransferS).toBeCloseTo(wire, 12);
    expect(b.ttftS).toBeCloseTo(prefillFlops(8000) / 989e12 + wire, 9);
  });

  it('short prompts: prefill is bounded by their FLOPs alone, since a batch of prompts reads the weights once', () => {
    // ISL 128 alone is memory-bound: 16.06 GB / 3.35 TB/s = 4.79 ms against 2 x 6.98e9 x 128 + ... = 1.792e12 FLOP /
    // 989e12 = 1.812 ms of compute. 64 prompts in one step still read the weights once, so one worker prefills at most
    // 1 / 1.812 ms = ~552 prompts/s: with OSL 2 that is ~1104 tok/s (the roofline of one prompt alone would say 417).
    const computeS = prefillFlops(128) / 989e12;
    expect(weightBytes / 3.35e12).toBeGreaterThan(computeS);
    const b = deploymentBounds(agg, catalog, { isl: 128, osl: 2, concurrency: 64 });
    expect(b.prefillS).toBeCloseTo(weightBytes / 3.35e12, 9); // one prompt's TTFT: its own step's roofline
    // The prefill limit is the least: 1 worker x 2 tokens / 1.812 ms. The closed loop allows 64 x 2 / 9.59 ms (TTFT
    // + one ITL of ~4.8 ms each) = ~13,300 tok/s, and a decode step of 64 short sequences reads the weights once.
    expect(b.throughput).toBeCloseTo(2 / computeS, 6);
    expect(b.throughput).toBeGreaterThan(2 / (weightBytes / 3.35e12));
  });

  it('throughput: the least of decode, prefill and closed-loop limits (here one prefill worker: 50 / 0.1299 s)', () => {
    const b = deploymentBounds(dis, catalog, { isl: 8000, osl: 50, concurrency: 10 });
    const prefillCap = 50 / (prefillFlops(8000) / 989e12); // 385 tok/s
    // Decode: 10 sequences at 8000 tokens a step: (16.06 + 10.486) GB / 3.35 TB/s = 7.92 ms -> 1262 tok/s.
    const decodeCap = 10 / ((weightBytes + 10 * 8000 * kvPerToken) / 3.35e12);
    expect(decodeCap).toBeGreaterThan(prefillCap);
    expect(b.throughput).toBeCloseTo(prefillCap, 6);
    expect(b.throughput).toBeCloseTo(384.98, 1);
  });
});
