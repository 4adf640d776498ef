import { describe, expect, it } from 'vitest';
import { fitTransport, transferSize, type TransferPath } from '../../src/calibrate/fit-transport.js';
import { defaultCatalog } from '../../src/catalog/index.js';
import { UserError } from '../../src/errors.js';

const c = defaultCatalog();
const path: TransferPath = {
  llm: c.llms.get('llama-3.1-8b-instruct')!,
  transport: c.transports.get('ib-rdma')!,
  node: c.nodes.get('dgx-h100')!,
  prefillTp: 1,
  decodeTp: 1,
  blockSize: 16,
  hostLinkBandwidth: 64e9,
};

/**
 * Transfer times made by hand for TP1 -> TP1 on a DGX H100 (UCX stripes one GPU's READs over 2 of the node's 400 Gb/s
 * rails, UCX_MAX_RNDV_RAILS): latency 30 us, 20 GB/s, and ib-rdma's costs: one READ's setup at 10 us, then 2 x 32
 * layers descriptors a block posted at 0.87 us each while the bytes move (at 1600 tokens 6,400 descriptors take
 * 5.57 ms against 10.49 ms on the wire: wire-bound at every size).
 */
function timeMs(tokens: number): number {
  const blocks = tokens / 16;
  const bytes = blocks * 16 * 131072;
  return (30e-6 + 10e-6 + Math.max(64 * blocks * 0.87e-6, bytes / 20e9)) * 1000;
}

describe('transport fit', () => {
  it('recovers latency and bandwidth from times at several sizes', () => {
    const samples = [1600, 8000, 32000].map((tokens, i) => ({ label: `row ${i + 1}`, tokens, bytes: tokens * 131072, ms: timeMs(tokens) }));
    const fit = fitTransport(samples, path);
    expect(fit.latencyS).toBeCloseTo(30e-6, 12);
    expect(fit.bandwidth).toBeCloseTo(20e9, 0);
    expect(fit.rails).toBe(2);
    expect(fit.bandwidthPerRail).toBeCloseTo(10e9, 0);
    expect(fit.latencyHeld).toBe(false);
    expect(fit.rmsError).toBeLessThan(1e-9);
  });

  it('sizes from tokens go through the read plan (whole blocks); bytes give tokens back', () => {
    // 8001 tokens need 501 blocks: 501 x 16 x 131,072 B.
    expect(transferSize(path, { kvTokens: 8001 })).toEqual({ bytes: 501 * 16 * 131072, tokens: 8001 });
    expect(transferSize(path, { kvBytes: 8000 * 131072 })).toEqual({ bytes: 8000 * 131072, tokens: 8000 });
  });

  it('refuses times at a single size: latency and bandwidth cannot be told apart', () => {
    const s = { label: 'row 1', tokens: 8000, bytes: 8000 * 131072, ms: 27 };
    expect(() => fitTransport([s, { ...s, label: 'row 2', ms: 28 }], path)).toThrow(UserError);
    expect(() => fitTransport([s, { ...s, label: 'row 2', ms: 28 }], path)).toThrow(/a single size cannot separate latency from bandwidth/);
  });

  it('refuses times that do not grow with the size', () => {
    const samples = [
      { label: 'row 1', tokens: 1600, bytes: 1600 * 131072, ms: 30 },
      { label: 'row 2', tokens: 32000, bytes: 32000 * 131072, ms: 10 },
    ];
    expect(() => fitTransport(samples, path)).toThrow(/do not grow with the size/);
  });
});
