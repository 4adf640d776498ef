/**
 * The Blackwell records and the bf16 70B model: datasheet figures in SI, and which GPU holds the 70B model at which TP,
 * worked out by hand from the HBM, vLLM's gpu_memory_utilization 0.9 and the 4 GB activation reserve.
 */
import { describe, expect, it } from 'vitest';
import { defaultCatalog, getGpu, getLlm, getNode } from '../../src/catalog/index.js';
import { defaultEfficiency, kvBytesPerTokenPerRank, weightBytesPerRank } from '../../src/physics/index.js';
import { kvPoolBlocks } from '../../src/serving/engine.js';
import type { EngineArgs } from '../../src/spec/experiment.js';
import { UserError } from '../../src/errors.js';

const c = defaultCatalog();
const m70 = getLlm(c, 'llama-3.1-70b-instruct');
const args: EngineArgs = {
  maxNumBatchedTokens: 8192,
  maxNumSeqs: 1024,
  blockSize: 16,
  gpuMemoryUtilization: 0.9,
  activationReserveBytes: 4e9,
  prefixCaching: true,
  chunkedPrefill: true,
};
const blocks = (gpuId: string, tp: number) => {
  const gpu = getGpu(c, gpuId);
  return kvPoolBlocks({ id: 'w', llm: m70, gpu, tp, args, eff: defaultEfficiency(gpu) });
};

describe('llama-3.1-70b-instruct (bf16)', () => {
  it('has the fp8 record\'s shape with 2-byte weights: 70.6e9 x 2 B = 141.2 GB, and the same 327,680 B of KV a token', () => {
    const fp8 = getLlm(c, 'llama-3.1-70b-instruct-fp8');
    for (const k of ['layers', 'hiddenSize', 'heads', 'kvHeads', 'headDim', 'intermediateSize', 'vocabSize', 'params', 'maxContext'] as const) {
      expect(m70[k]).toBe(fp8[k]);
    }
    expect(m70.weightDtype).toBe('bf16');
    expect(weightBytesPerRank(m70, 1)).toBe(141.2e9);
    expect(kvBytesPerTokenPerRank(m70, 1)).toBe(2 * 80 * 8 * 128 * 2);
  });

  it('H100 80 GB: 72 GB usable; TP1 (141.2 GB) and TP2 (70.6 + 4 GB reserve) do not fit, TP4 does', () => {
    expect(() => blocks('h100-sxm', 1)).toThrow(UserError);
    // TP2: 72 - 70.6 - 4 = -2.6 GB: the weights fit the HBM, but not with vLLM's 0.9 and the activation reserve.
    expect(() => blocks('h100-sxm', 2)).toThrow(/does not fit on h100-sxm: 72\.0 GB usable per GPU, 70\.6 GB of weights per rank.*it fits from TP4/);
    // TP4: 72 - 35.3 - 4 = 32.7 GB for KV; a 16-token block of 2 KV heads a rank = 16 x 81,920 B = 1,310,720 B.
    expect(blocks('h100-sxm', 4)).toBe(Math.floor(32.7e9 / 1_310_720)); // 24,947
  });

  it('B200 180 GB: 162 GB usable holds it at TP1, with 16.8 GB left for 3,204 blocks (51,264 tokens)', () => {
    // 162 - 141.2 - 4 = 16.8 GB; a TP1 block = 16 x 327,680 B = 5,242,880 B.
    expect(blocks('b200', 1)).toBe(3204);
    expect(Math.floor(16.8e9 / 5_242_880)).toBe(3204);
  });

  it('GB200 186 GB: 167.4 GB usable, 22.2 GB of KV at TP1 = 4,234 blocks', () => {
    expect(blocks('gb200', 1)).toBe(Math.floor(22.2e9 / 5_242_880));
    expect(blocks('gb200', 1)).toBe(4234);
  });
});

describe('Blackwell GPUs and nodes', () => {
  it('B200: dense 2.25 / 4.5 PFLOP/s bf16 / fp8, 180 GB at 8 TB/s, NVLink 1.8 TB/s', () => {
    const b = getGpu(c, 'b200');
    expect(b.flops).toEqual({ bf16: 2250e12, fp8: 4500e12 });
    expect([b.hbmBytes, b.hbmBandwidth, b.nvlinkBandwidth]).toEqual([180e9, 8e12, 1800e9]);
  });

  it('GB200: dense 2.5 / 5 PFLOP/s, 186 GB at 8 TB/s, NVLink 1.8 TB/s', () => {
    const g = getGpu(c, 'gb200');
    expect(g.flops).toEqual({ bf16: 2500e12, fp8: 5000e12 });
    expect([g.hbmBytes, g.hbmBandwidth, g.nvlinkBandwidth]).toEqual([186e9, 8e12, 1800e9]);
  });

  it("the Blackwell efficiency factors are the H100's, and their sources say they are carried over uncalibrated", () => {
    const h = getGpu(c, 'h100-sxm');
    for (const id of ['b200', 'gb200']) {
      const g = getGpu(c, id);
      expect(g.efficiency).toEqual(h.efficiency);
      for (const k of Object.keys(g.efficiency)) expect(g.sources[`efficiency.${k}`]).toMatch(/^estimate: carried over uncalibrated from h100-sxm/);
    }
  });

  it('hgx-b200: 8 B200, 8 x 400 Gb/s ConnectX-7 (50 GB/s a GPU); gb200-nvl72: trays of 4 in a 72-GPU NVLink domain', () => {
    const b = getNode(c, 'hgx-b200');
    expect([b.gpu, b.gpusPerNode, b.nvlinkDomainGpus, b.nics.count, b.nics.bandwidth]).toEqual(['b200', 8, 8, 8, 50e9]);
    expect(b.transports).toEqual(['nvlink', 'ib-rdma', 'host-staged', 'tcp']);
    const t = getNode(c, 'gb200-nvl72');
    expect([t.gpu, t.gpusPerNode, t.nvlinkDomainGpus, t.nics.count, t.nics.bandwidth]).toEqual(['gb200', 4, 72, 4, 50e9]);
    expect(getNode(c, 'dgx-h100').nvlinkDomainGpus).toBe(8); // unset: the node itself
  });

  it('dgx-h100 stays the first node (by id) offering InfiniBand, so defaults do not move', () => {
    const first = [...c.nodes.values()].filter((n) => n.transports.includes('ib-rdma')).map((n) => n.id).sort()[0];
    expect(first).toBe('dgx-h100');
  });
});
