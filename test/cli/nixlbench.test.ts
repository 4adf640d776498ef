import { describe, expect, it } from 'vitest';
import { nixlsimInProcess } from '../helpers/cli.js';

const rows = async (args: string[]) => {
  const r = await nixlsimInProcess(['nixlbench', ...args, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { rows: { blockSize: number; batchSize: number; latencyUs: number; bandwidthGBps: number }[] }).rows;
};

describe('nixlsim nixlbench (the modeled benchmark)', () => {
  it('UCX cuda_ipc inside a node: posting-bound at 3.1 us a block until the copy rate takes over', async () => {
    const r = await rows(['--backend', 'UCX', '--transport', 'nvlink', '--placement', 'intra-pod', '--start-batch-size', '64', '--max-batch-size', '64', '--max-block-size', '1M']);
    // Block sizes double from 4K to 1M: 9 rows, all of batch 64.
    expect(r.map((x) => x.blockSize)).toEqual([4, 8, 16, 32, 64, 128, 256, 512, 1024].map((k) => k * 1024));
    expect(r.every((x) => x.batchSize === 64)).toBe(true);
    // 4K: 1 us latency + 5 us READ setup + max(64 x 3.1 us posting, 262,144 B / 141e9 B/s = 1.86 us) = 204.4 us a transfer:
    // 3.194 us a block, 262,144 B / 204.4 us = 1.2825 GB/s (nixlbench measured 3.11 us, 1.32 GB/s).
    expect(r[0]!.latencyUs).toBeCloseTo(204.4 / 64, 9);
    expect(r[0]!.bandwidthGBps).toBeCloseTo(262_144 / 204.4e-6 / 1e9, 9);
    // 1M: the wire, 67,108,864 B / 141e9 = 475.95 us, outlasts the 198.4 us of posting: 481.95 us, 139.25 GB/s.
    expect(r[8]!.latencyUs).toBeCloseTo((6e-6 + 67_108_864 / 141e9) / 64 * 1e6, 9);
    expect(r[8]!.bandwidthGBps).toBeCloseTo(67_108_864 / (6e-6 + 67_108_864 / 141e9) / 1e9, 9);
  });

  it('threads share one rail: four threads of 64M on one InfiniBand rail get its 35 GB/s between them', async () => {
    const one = await rows(['--backend', 'UCX', '--transport', 'ib-rdma', '--start-block-size', '64M', '--rails', '1']);
    const four = await rows(['--backend', 'UCX', '--transport', 'ib-rdma', '--start-block-size', '64M', '--rails', '1', '--num-threads', '4']);
    // One: 11 us + 67,108,864 / 35e9 = 1.9174 ms; four: 11 us + 4 x that wire time, so each waits ~4x as long.
    expect(one[0]!.bandwidthGBps).toBeCloseTo(67_108_864 / (11e-6 + 67_108_864 / 35e9) / 1e9, 9);
    expect(four[0]!.bandwidthGBps).toBeCloseTo((4 * 67_108_864) / (11e-6 + (4 * 67_108_864) / 35e9) / 1e9, 9);
    expect(four[0]!.latencyUs / one[0]!.latencyUs).toBeGreaterThan(3.9);
  });

  it('prints a table; a backend, placement or size it cannot run is one line naming the flag, exit 2', async () => {
    const t = await nixlsimInProcess(['nixlbench', '--backend', 'LIBFABRIC', '--transport', 'efa-libfabric', '--max-block-size', '16K']);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^block size +batch size +avg latency \(us\) +bandwidth \(GB\/s\)$/m);
    expect(t.stdout).toMatch(/^ +16K +1 /m);
    const wrong = await nixlsimInProcess(['nixlbench', '--backend', 'UCX', '--transport', 'efa-libfabric']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^nixlsim: error: --backend UCX: transport 'efa-libfabric' runs on NIXL's LIBFABRIC backend, not UCX/);
    const same = await nixlsimInProcess(['nixlbench', '--backend', 'LIBFABRIC', '--transport', 'efa-libfabric', '--placement', 'same-node']);
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/--placement same-node: efa-libfabric between GPUs placed same-node sets up but never completes a transfer: fi_read still retrying EAGAIN/);
    const size = await nixlsimInProcess(['nixlbench', '--backend', 'UCX', '--transport', 'ib-rdma', '--start-block-size', '1M', '--max-block-size', '4K']);
    expect(size.code).toBe(2);
    expect(size.stderr).toMatch(/block size: the max must be a whole number >= the start/);
    for (const r of [wrong, same, size]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
