import { describe, expect, it } from 'vitest';
import { nixlsim } from '../helpers/cli.js';

const base = ['transfer', '--model', 'deepseek-r1-distill-llama-70b', '--tokens', '120000', '--prefill-tp', '8', '--decode-tp', '8'];
const json = (args: string[]) => {
  const r = nixlsim([...args, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Record<string, number | boolean>;
};

describe('nixlsim transfer (contract)', () => {
  it('70B, 120k tokens, TP8 -> TP8 moves exactly 120,000 x 327,680 = 39,321,600,000 B in 8 READs', () => {
    const r = json([...base, '--transport', 'ib-rdma']);
    expect(Object.keys(r).sort()).toEqual(
      ['bytesPerDecodeRank', 'bytesTotal', 'descriptors', 'effectiveGBps', 'exceedsTimeout', 'ms', 'reads', 'timeoutS'].sort(),
    );
    expect(r.bytesTotal).toBe(39_321_600_000);
    expect(r.bytesPerDecodeRank).toBe(39_321_600_000 / 8);
    expect(r.reads).toBe(8);
    expect(r.descriptors).toBe(8 * 80 * 2 * 7500);
    expect(r.timeoutS).toBe(120);
  });

  it('on ib-rdma it completes within a few seconds: 8 rails x 35 GB/s = 280 GB/s -> 0.140 s on the wire', () => {
    const r = json([...base, '--transport', 'ib-rdma']);
    expect(r.exceedsTimeout).toBe(false);
    // wire 39.3216e9 / 280e9 = 0.14043 s; setup = 1 us + 10 us + 1.2M x 0.02 us = 0.024011 s
    expect(r.ms as number).toBeCloseTo((39.3216e9 / 280e9 + 1e-6 + 10e-6 + 1_200_000 * 0.02e-6) * 1000, 6);
  });

  it('on tcp it outlasts the 120 s expiry: 39.32 GB at ~100 MB/s is ~393 s', () => {
    const r = json([...base, '--transport', 'tcp']);
    expect(r.exceedsTimeout).toBe(true);
    // wire 393.216 s; setup 50 us + 100 us + 1.2M x 0.1 us = 0.12015 s
    expect(r.ms as number).toBeCloseTo((393.216 + 50e-6 + 100e-6 + 0.12) * 1000, 4);
    expect(r.effectiveGBps as number).toBeLessThan(0.1);
  });

  it('--timeout-s 480 (vLLM after PR #25897) still does not save tcp, and --concurrent 10 on efa takes ~10x the wire time', () => {
    expect(json([...base, '--transport', 'tcp', '--timeout-s', '480']).exceedsTimeout).toBe(false);
    const one = json(['transfer', '--model', 'llama-3.1-8b-instruct', '--tokens', '8000', '--prefill-tp', '1', '--decode-tp', '1', '--transport', 'efa-libfabric']);
    const ten = json(['transfer', '--model', 'llama-3.1-8b-instruct', '--tokens', '8000', '--prefill-tp', '1', '--decode-tp', '1', '--transport', 'efa-libfabric', '--concurrent', '10']);
    // 1,048,576,000 B over 4 rails x 10 GB/s = 40 GB/s: 26.21 ms on the wire alone, 262.1 ms for ten sharing
    expect(one.ms as number).toBeGreaterThan(26.2);
    expect((ten.ms as number) - (one.ms as number)).toBeCloseTo(9 * (1_048_576_000 / 40e9) * 1000, 6);
  });

  it('bad input exits 2 with one line naming the problem', () => {
    const typo = nixlsim([...base, '--transport', 'efa-libfabrc']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/did you mean 'efa-libfabric'/);
    const nv = nixlsim([...base, '--transport', 'nvlink']);
    expect(nv.code).toBe(2);
    expect(nv.stderr).toMatch(/not available between workers placed cross-node/);
    const tp = nixlsim(['transfer', '--model', 'deepseek-r1-distill-llama-70b', '--tokens', '100', '--prefill-tp', '3', '--decode-tp', '3', '--transport', 'ib-rdma']);
    expect(tp.code).toBe(2);
    expect(tp.stderr).toMatch(/TP 3 does not divide the 8 KV heads/);
    for (const r of [typo, nv, tp]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
