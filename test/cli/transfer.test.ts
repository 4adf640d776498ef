import { describe, expect, it } from 'vitest';
import { nixlsimInProcess } from '../helpers/cli.js';

const base = ['transfer', '--model', 'deepseek-r1-distill-llama-70b', '--tokens', '120000', '--prefill-tp', '8', '--decode-tp', '8'];
const json = async (args: string[]) => {
  const r = await nixlsimInProcess([...args, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Record<string, number | boolean>;
};

describe('nixlsim transfer (contract)', () => {
  it('70B, 120k tokens, TP8 -> TP8 moves exactly 120,000 x 327,680 = 39,321,600,000 B in 8 READs', async () => {
    const r = await json([...base, '--transport', 'ib-rdma']);
    expect(Object.keys(r).sort()).toEqual(
      ['bytesPerDecodeRank', 'bytesTotal', 'descriptors', 'effectiveGBps', 'exceedsTimeout', 'ms', 'reads', 'timeoutS'].sort(),
    );
    expect(r.bytesTotal).toBe(39_321_600_000);
    expect(r.bytesPerDecodeRank).toBe(39_321_600_000 / 8);
    expect(r.reads).toBe(8);
    expect(r.descriptors).toBe(8 * 80 * 2 * 7500);
    expect(r.timeoutS).toBe(120);
  });

  it('on ib-rdma it takes about a second, posting-bound: 1.2M descriptors a rank at 0.87 us outlast 0.140 s on the wire', async () => {
    const r = await json([...base, '--transport', 'ib-rdma']);
    expect(r.exceedsTimeout).toBe(false);
    // UCX stripes each rank over up to 2 NICs, so the TP8 worker uses min(8 NICs, 8 x 2) = 8 rails: wire 39.3216e9 /
    // (8 x 35 GB/s) = 0.14043 s; each decode rank posts 80 layers x 2 x 7,500 blocks = 1.2M descriptors at 0.87 us =
    // 1.044 s, which outlasts the wire; setup = 1 us latency + 10 us for its one READ.
    expect(r.ms as number).toBeCloseTo((1e-6 + 10e-6 + 1_200_000 * 0.87e-6) * 1000, 6);
  });

  it('--bytes and --rails describe a raw transfer: 64 MiB in 4 KiB descriptors over one IB rail', async () => {
    // 67,108,864 B in 16,384 descriptors: posting 16,384 x 0.87 us = 14.254 ms, wire 67,108,864 / 35e9 = 1.917 ms
    // (35 GB/s is under the rail's cap, 0.9 x 50 GB/s): posting-bound; + 1 us latency + 10 us for the READ.
    const r = await json(['transfer', '--bytes', '64M', '--descriptor-bytes', '4K', '--rails', '1', '--transport', 'ib-rdma']);
    expect(r).toMatchObject({ bytesTotal: 67_108_864, reads: 1, descriptors: 16_384 });
    expect(r.ms as number).toBeCloseTo((11e-6 + 16_384 * 0.87e-6) * 1000, 6);
    // One descriptor of 64 MiB is wire-bound instead, and four rails move it four times as fast.
    const one = await json(['transfer', '--bytes', '64M', '--rails', '1', '--transport', 'ib-rdma']);
    const four = await json(['transfer', '--bytes', '64M', '--rails', '4', '--transport', 'ib-rdma']);
    expect(one.ms as number).toBeCloseTo((11e-6 + 67_108_864 / 35e9) * 1000, 6);
    expect(four.ms as number).toBeCloseTo((11e-6 + 67_108_864 / 140e9) * 1000, 6);
    // On 100 Gb/s rails a rail moves at most 0.9 x 12.5 GB/s = 11.25 GB/s, whatever the transport's figure.
    const slow = await json(['transfer', '--bytes', '64M', '--rails', '1', '--nic-gbps', '100', '--transport', 'ib-rdma']);
    expect(slow.ms as number).toBeCloseTo((11e-6 + 67_108_864 / 11.25e9) * 1000, 6);
    const bad = await nixlsimInProcess(['transfer', '--bytes', '64X', '--transport', 'ib-rdma']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^nixlsim: error: --bytes must be a size in bytes/);
    const both = await nixlsimInProcess(['transfer', '--bytes', '1M', '--model', 'llama-3.1-8b-instruct', '--tokens', '10', '--transport', 'ib-rdma']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--bytes: --bytes is a raw size: leave out --model and --tokens/);
  });

  it('the block size what-if: 64-token blocks post a quarter of the descriptors of 16-token ones', async () => {
    // 70B TP8 -> TP8 at 120,000 tokens on ib-rdma: 1.2M descriptors a rank at block 16 (1.044 s of posting, more than
    // the 0.140 s wire), 300,000 at block 64 (0.261 s): still posting-bound, 0.783 s sooner.
    const b16 = await json([...base, '--transport', 'ib-rdma']);
    const b64 = await json([...base, '--transport', 'ib-rdma', '--block-size', '64']);
    expect(b64.descriptors).toBe((b16.descriptors as number) / 4);
    expect(b64.ms as number).toBeCloseTo((11e-6 + 300_000 * 0.87e-6) * 1000, 6);
    expect((b16.ms as number) - (b64.ms as number)).toBeCloseTo(900_000 * 0.87e-6 * 1000, 6);
  });

  it('the KV layout what-if: 70B, 8,000 tokens, TP4 -> TP4 on ib-rdma, by block size and layout', async () => {
    // 80 layers, 8 KV heads of 128 in bf16: a TP4 rank holds 2 heads, 2 x 80 x 2 x 128 x 2 B = 81,920 B a token, so
    // 655.36 MB a rank and 2.62144 GB in all, over min(8 NICs, 4 x 2) = 8 rails x 35 GB/s: 9.362 ms on the wire.
    const t = ['transfer', '--model', 'deepseek-r1-distill-llama-70b', '--tokens', '8000', '--prefill-tp', '4', '--decode-tp', '4', '--transport', 'ib-rdma'];
    const wireMs = (2.62144e9 / 280e9) * 1000;
    // HND, block 16: 500 blocks x 80 layers x 2 (K, V) = 80,000 descriptors a rank, 69.6 ms of posting.
    const hnd16 = await json(t);
    expect(hnd16.descriptors).toBe(4 * 80_000);
    expect(hnd16.ms as number).toBeCloseTo(0.011 + 80_000 * 0.87e-3, 6);
    // Block 64: 125 blocks, 20,000 descriptors, 17.4 ms: 52.2 ms sooner.
    const hnd64 = await json([...t, '--block-size', '64']);
    expect(hnd64.descriptors).toBe(4 * 20_000);
    expect((hnd16.ms as number) - (hnd64.ms as number)).toBeCloseTo(60_000 * 0.87e-3, 6);
    // FlashInfer keeps K and V of a block together: 80 descriptors a block, half of HND's.
    expect((await json([...t, '--kv-layout', 'flashinfer'])).descriptors).toBe(4 * 40_000);
    // Cross-layer blocks: one descriptor a block, 500 a rank (0.435 ms): the transfer falls to the wire.
    const cross = await json([...t, '--kv-layout', 'cross-layer']);
    expect(cross.descriptors).toBe(4 * 500);
    expect(cross.ms as number).toBeCloseTo(0.011 + wireMs, 6);
    // Decode wider (TP4 -> TP8): HND reads a head slice of each block in one piece; NHD in 16, one a token.
    const wider = ['transfer', '--model', 'deepseek-r1-distill-llama-70b', '--tokens', '8000', '--prefill-tp', '4', '--decode-tp', '8', '--transport', 'ib-rdma'];
    expect((await json(wider)).descriptors).toBe(8 * 80_000);
    const nhd = await json([...wider, '--kv-layout', 'NHD']);
    expect(nhd.descriptors).toBe(8 * 80_000 * 16);
    expect(nhd.ms as number).toBeCloseTo(0.011 + 1_280_000 * 0.87e-3, 6);
    expect((await nixlsimInProcess([...t, '--kv-layout', 'HDN'])).code).toBe(2);
  });

  it('on tcp it outlasts the 120 s expiry: 39.32 GB at ~100 MB/s is ~393 s', async () => {
    const r = await json([...base, '--transport', 'tcp']);
    expect(r.exceedsTimeout).toBe(true);
    // wire 393.216 s; setup 50 us + 100 us; posting 1.2M x 0.1 us = 0.12 s hides under the wire
    expect(r.ms as number).toBeCloseTo((393.216 + 50e-6 + 100e-6) * 1000, 4);
    expect(r.effectiveGBps as number).toBeLessThan(0.1);
  });

  it('--timeout-s 480 (vLLM after PR #25897) still does not save tcp, and --concurrent 10 on efa takes ~10x the wire time', async () => {
    expect((await json([...base, '--transport', 'tcp', '--timeout-s', '480'])).exceedsTimeout).toBe(false);
    const one = await json(['transfer', '--model', 'llama-3.1-8b-instruct', '--tokens', '8000', '--prefill-tp', '1', '--decode-tp', '1', '--transport', 'efa-libfabric']);
    const ten = await json(['transfer', '--model', 'llama-3.1-8b-instruct', '--tokens', '8000', '--prefill-tp', '1', '--decode-tp', '1', '--transport', 'efa-libfabric', '--concurrent', '10']);
    // 1,048,576,000 B over 4 rails x 10 GB/s = 40 GB/s: 26.21 ms on the wire alone, 262.1 ms for ten sharing
    expect(one.ms as number).toBeGreaterThan(26.2);
    expect((ten.ms as number) - (one.ms as number)).toBeCloseTo(9 * (1_048_576_000 / 40e9) * 1000, 6);
  });

  it('bad input exits 2 with one line naming the problem', async () => {
    const typo = await nixlsimInProcess([...base, '--transport', 'efa-libfabrc']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/did you mean 'efa-libfabric'/);
    const nv = await nixlsimInProcess([...base, '--transport', 'nvlink']);
    expect(nv.code).toBe(2);
    expect(nv.stderr).toMatch(/not available between workers placed cross-node/);
    const tp = await nixlsimInProcess(['transfer', '--model', 'deepseek-r1-distill-llama-70b', '--tokens', '100', '--prefill-tp', '3', '--decode-tp', '3', '--transport', 'ib-rdma']);
    expect(tp.code).toBe(2);
    expect(tp.stderr).toMatch(/TP 3 does not divide the 8 KV heads/);
    for (const r of [typo, nv, tp]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
