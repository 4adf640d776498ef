import { describe, expect, it } from 'vitest';
import { defaultCatalog, getNode, getTransport } from '../../src/catalog/index.js';
import { railCap, railsFor, workerBandwidth } from '../../src/physics/index.js';
import { plainTransport } from '../helpers/fixtures.js';

const c = defaultCatalog();
const dgx = getNode(c, 'dgx-h100'); // 8 GPUs, 8 x 400 Gb/s InfiniBand
const p5 = getNode(c, 'p5.48xlarge'); // 8 GPUs, 32 x 100 Gb/s EFA
const a100 = getNode(c, 'hgx-a100'); // 8 GPUs, 8 x 200 Gb/s InfiniBand

describe('rails a worker stripes over, by backend (models/transport railRule)', () => {
  it('UCX: each rank up to UCX_MAX_RNDV_RAILS = 2 of the node NICs its ranks share: min(8, 2 x TP)', () => {
    const ib = getTransport(c, 'ib-rdma');
    expect([1, 2, 4, 8].map((tp) => railsFor(ib, dgx, tp))).toEqual([2, 4, 8, 8]);
  });

  it("NIXL libfabric: a GPU's own EFA devices, 32 / 8 = 4 a GPU", () => {
    const efa = getTransport(c, 'efa-libfabric');
    expect([1, 2, 8].map((tp) => railsFor(efa, p5, tp))).toEqual([4, 8, 32]);
  });

  it("all-node-nics (Mooncake's transfer engine): every NIC whatever the TP; a host path is one", () => {
    const all = { ...plainTransport(1e9, true), railRule: { rule: 'all-node-nics' as const } };
    expect(railsFor(all, p5, 1)).toBe(32);
    expect(railsFor(getTransport(c, 'tcp'), p5, 8)).toBe(1);
  });

  it("a rail moves at most the transport's share of its NIC's line rate", () => {
    const ib = getTransport(c, 'ib-rdma');
    // 400 Gb/s = 50 GB/s x 0.9 = 45 GB/s: over the 35 GB/s typical, so it does not bind on a DGX H100.
    expect(railCap(ib, dgx)).toBeCloseTo(45e9, 0);
    expect(workerBandwidth(ib, 2, 'typical', railCap(ib, dgx))).toBe(70e9);
    // 200 Gb/s HDR = 25 GB/s x 0.9 = 22.5 GB/s: under the 35 GB/s typical, so an A100 rail moves 22.5 GB/s.
    expect(workerBandwidth(ib, 2, 'typical', railCap(ib, a100))).toBeCloseTo(45e9, 0);
    // A setup's own NICs (100 Gb/s) instead of the node's; no cap for a transport off the NICs.
    expect(railCap(ib, dgx, 12.5e9)).toBeCloseTo(11.25e9, 0);
    expect(railCap(getTransport(c, 'nvlink'), dgx)).toBe(Infinity);
  });
});
