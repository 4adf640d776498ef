import { describe, expect, it } from 'vitest';
import { defaultCatalog, getConnector, getGpu, getLlm, getNode, getTransport } from '../../src/catalog/index.js';
import { defaultEfficiency, estimateTransfer, kvBytesPerToken, kvBytesPerTokenPerRank, withKvCacheDtype } from '../../src/physics/index.js';
import { kvPoolBlocks } from '../../src/serving/engine.js';
import { runPoint } from '../../src/serving/simulate.js';
import { VLLM_ENGINE } from '../helpers/fixtures.js';
import { experiment, point } from './helpers.js';

/** FP8 KV cache (vLLM --kv-cache-dtype fp8, issue #27): one byte an element instead of bf16's two. */
const c = defaultCatalog();
const m70 = getLlm(c, 'llama-3.1-70b-instruct');
const m8 = getLlm(c, 'llama-3.1-8b-instruct');
const h100 = getGpu(c, 'h100-sxm');

describe('the KV bytes follow --kv-cache-dtype', () => {
  it('70B: 2 x 80 layers x 8 KV heads x 128 x 1 B = 163,840 B a token, 19.66 GB for 120,000 tokens', () => {
    expect(kvBytesPerToken(m70)).toBe(327_680);
    const fp8 = withKvCacheDtype(m70, 'fp8');
    expect(kvBytesPerToken(fp8)).toBe(163_840);
    expect(120_000 * kvBytesPerToken(fp8)).toBe(19_660_800_000);
    expect(kvBytesPerTokenPerRank(fp8, 8)).toBe(2 * 80 * 1 * 128); // one KV head a rank at TP8
  });

  it('DeepSeek-V3 (MLA): 61 layers x (512 + 64) x 1 B = 35,136 B a token', () => {
    expect(kvBytesPerToken(withKvCacheDtype(getLlm(c, 'deepseek-v3'), 'fp8'))).toBe(61 * 576);
  });

  it("'auto' and unset keep the model's own dtype (the same record)", () => {
    expect(withKvCacheDtype(m70, 'auto')).toBe(m70);
    expect(withKvCacheDtype(m70, undefined)).toBe(m70);
  });

  it('the pool holds twice the blocks, to within the one floor()', () => {
    // 8B at TP1 on an H100: (80 GB x 0.9 - 16.06 GB of weights - 4 GB reserve) / (16 x 131,072 B) blocks in bf16,
    // and the same budget over 16 x 65,536 B in fp8.
    const cfg = { id: 'x', gpu: h100, tp: 1, args: { ...VLLM_ENGINE, maxNumBatchedTokens: 8192, maxNumSeqs: 1024 }, eff: defaultEfficiency(h100) };
    const bf16 = kvPoolBlocks({ ...cfg, llm: m8 });
    const fp8 = kvPoolBlocks({ ...cfg, llm: withKvCacheDtype(m8, 'fp8') });
    const budget = h100.hbmBytes * 0.9 - m8.params * 2 - 4e9;
    expect(bf16).toBe(Math.floor(budget / (16 * 131_072)));
    expect(fp8).toBe(Math.floor(budget / (16 * 65_536)));
    expect(fp8 - 2 * bf16).toBeGreaterThanOrEqual(0);
    expect(fp8 - 2 * bf16).toBeLessThanOrEqual(1);
  });
});

describe('a KV transfer in fp8', () => {
  const transport = getTransport(c, 'ib-rdma');
  const node = getNode(c, 'dgx-h100');
  const q = (llm: typeof m70, kvLayout: 'HND' | 'cross-layer') =>
    estimateTransfer({
      llm, transport, tokens: 120_000, prefillTp: 8, decodeTp: 8, prefillNode: node, decodeNode: node,
      hostLinkBandwidth: h100.hostLink.bandwidth, placement: 'cross-node', bandwidth: 'typical', prefillBlockSize: 16, kvLayout, concurrent: 1, timeoutS: 480,
    });

  it('moves half the bytes in the same descriptors', () => {
    const [bf16, fp8] = [q(m70, 'HND'), q(withKvCacheDtype(m70, 'fp8'), 'HND')];
    expect(bf16.bytesTotal).toBe(39_321_600_000);
    expect(fp8.bytesTotal).toBe(19_660_800_000);
    expect(fp8.descriptors).toBe(bf16.descriptors);
    // HND at 16-token blocks posts 2 x 80 x 7500 = 1.2M descriptors a rank: posting-bound, so fp8 saves no time.
    expect(fp8.descriptors).toBe(8 * 2 * 80 * 7500);
    expect(fp8.ms).toBeCloseTo(bf16.ms, 6);
  });

  it('halves the time where the wire sets it (cross-layer: one descriptor a block)', () => {
    // 8 ranks x 2 UCX rails x 400 Gb/s x 0.9 line-rate share = 8 x 35 GB/s = 280 GB/s from prefill to decode.
    const [bf16, fp8] = [q(m70, 'cross-layer'), q(withKvCacheDtype(m70, 'fp8'), 'cross-layer')];
    expect(bf16.ms).toBeGreaterThan((39.3216e9 / 280e9) * 1000);
    expect(bf16.ms).toBeLessThan((39.3216e9 / 280e9) * 1000 + 0.1);
    expect(fp8.ms).toBeGreaterThan((19.6608e9 / 280e9) * 1000);
    expect(fp8.ms).toBeLessThan((19.6608e9 / 280e9) * 1000 + 0.1);
  });
});

describe('deployment.engine.kvCacheDtype in a run', () => {
  it('a disaggregated request moves half the KV bytes', () => {
    const bytes = (dtype: 'auto' | 'fp8') =>
      runPoint(point(experiment({ deployment: { engine: { ...VLLM_ENGINE, kvCacheDtype: dtype } }, workload: { requests: 1 } })), c).result.kvTransfer.bytesMean;
    // 1000 tokens -> 63 blocks = 1008 slots x 131,072 B (bf16), x 65,536 B (fp8).
    expect(bytes('auto')).toBe(1008 * 131_072);
    expect(bytes('fp8')).toBe(1008 * 65_536);
  });

  it('prefill and decode with different cache dtypes fail the handshake with the compatibility-hash error, and fall back', () => {
    const e = experiment({ deployment: { decode: { workers: 1, tp: 1, kvCacheDtype: 'fp8' } }, workload: { requests: 3 } });
    const run = runPoint(point(e), c);
    expect(run.result.events.handshake_failed).toBe(3);
    expect(run.result.events.fell_back).toBe(3);
    expect(run.result.requests.completed).toBe(3);
    const e2 = getConnector(c, 'any-tp').errors.compatHashMismatch;
    const failed = run.log.lines().filter((l) => l.includes('NIXL handshake with remote engine prefill-0 failed'));
    expect(failed).toHaveLength(3);
    for (const l of failed) expect(l).toContain(`${e2.error}: ${e2.message}`);
  });

  it('the same dtype on both sides (fp8 and fp8) hands the KV over', () => {
    const e = experiment({ deployment: { engine: { ...VLLM_ENGINE, kvCacheDtype: 'fp8' }, decode: { workers: 1, tp: 1, kvCacheDtype: 'fp8' } }, workload: { requests: 3 } });
    const { result } = runPoint(point(e), c);
    expect(result.events.handshake_failed ?? 0).toBe(0);
    expect(result.requests.completed).toBe(3);
  });
});
