import { describe, expect, it } from 'vitest';
import { defaultCatalog, getTransport } from '../../src/catalog/index.js';
import { expandPoints, loadExperiment } from '../../src/experiment/load.js';
import { display, overridesFor, uncertainParameters, type ParameterName } from '../../src/experiment/uncertainty.js';
import { perRailBandwidth } from '../../src/physics/index.js';
import { simulatePoint } from '../../src/serving/simulate.js';
import { aggregatedExperiment, experimentFile, tcpExperiment } from './helpers.js';

const catalog = defaultCatalog();
const pointOf = (exp: Record<string, unknown>) => expandPoints(loadExperiment(experimentFile(exp), { catalog }))[0]!;

describe('a numeric per-rail bandwidth', () => {
  it('is what the physics uses instead of the catalog pick; a bad number is refused', () => {
    const tcp = getTransport(catalog, 'tcp');
    expect(perRailBandwidth(tcp, 'typical')).toBe(1e8);
    expect(perRailBandwidth(tcp, 'max')).toBe(3e9);
    expect(perRailBandwidth(tcp, 2.5e8)).toBe(2.5e8);
    expect(() => perRailBandwidth(tcp, 0)).toThrow(/bytes\/s > 0/);
    expect(() => perRailBandwidth(tcp, Number.NaN)).toThrow(/bytes\/s > 0/);
  });

  it('moves a transfer-bound point as bytes over bandwidth says: half the bandwidth, twice the wire time', () => {
    // Llama-3.1-8B at 32,000 tokens: KV = 32,000 x 131,072 B (2 x 32 layers x 8 KV heads x 128 x 2 B) = 4,194,304,000 B,
    // TP1 to TP1: one READ of 32 layers x 2 (K, V) x 2,000 blocks = 128,000 descriptors. TCP funnels through one host
    // path per worker (64 GB/s PCIe does not bind), so the read runs at the per-rail figure. Setup (models/transport/
    // tcp.yaml): 50 us latency + 100 us per READ = 0.15 ms; posting 128,000 x 0.1 us = 12.8 ms overlaps the wire. The
    // measured request follows a warm-up that paid the handshake, alone on the wire:
    //   at 0.1 GB/s: 4,194,304,000 / 1e8 = 41,943.04 ms + 0.15 = 41,943.19 ms
    //   at 0.2 GB/s: 20,971.52 ms + 0.15 = 20,971.67 ms
    const p = pointOf(tcpExperiment(32000));
    const slow = simulatePoint(p, catalog, { bandwidthPerRail: 1e8 });
    const fast = simulatePoint(p, catalog, { bandwidthPerRail: 2e8 });
    expect(slow.kvTransfer.bytesMean).toBe(4_194_304_000);
    expect(slow.kvTransfer.ms.mean).toBeCloseTo(41943.19, 0);
    expect(fast.kvTransfer.ms.mean).toBeCloseTo(20971.67, 0);
    // The nominal run is the catalog's typical, 0.1 GB/s: the same as the explicit 1e8.
    expect(simulatePoint(p, catalog).kvTransfer.ms.mean).toBe(slow.kvTransfer.ms.mean);
    // TTFT moves by the transfer time saved, 20,971.52 ms (prefill and the first decode step are the same).
    expect(slow.ttftMs.mean! - fast.ttftMs.mean!).toBeCloseTo(20971.52, 0);
  });

  it('does nothing to an aggregated point (no KV moves)', () => {
    const p = pointOf(aggregatedExperiment(4000));
    expect(simulatePoint(p, catalog, { bandwidthPerRail: 1e6 })).toStrictEqual(simulatePoint(p, catalog));
  });
});

describe('a cost per descriptor drawn from the transport range (perDescriptorUsRange)', () => {
  // Llama-3.1-8B at 32,000 tokens over InfiniBand, TP1 -> TP1 on DGX H100 nodes: one READ of 32 layers x 2 (K, V) x
  // 2,000 blocks = 128,000 descriptors; 4,194,304,000 B over UCX's 2 rails x 35 GB/s = 59.92 ms on the wire.
  const ib = (): Record<string, unknown> => {
    const e = tcpExperiment(32000);
    return { ...e, name: 'ib-posting', deployment: { ...(e['deployment'] as Record<string, unknown>), transport: 'ib-rdma', node: 'dgx-h100' } };
  };

  it('is one of the point uncertain figures, in us, from 0.155 to 0.92 around 0.87', () => {
    const p = pointOf(ib());
    const pd = uncertainParameters(p, catalog).find((x) => x.name === 'transport.perDescriptorUs')!;
    expect(pd).toMatchObject({ label: 'cost per descriptor (ib-rdma)', unit: 'us', min: 0.155e-6, nominal: 0.87e-6, max: 0.92e-6 });
    expect(display(pd, pd.nominal)).toBe(0.87);
    // A transport without a range (tcp) has no such figure.
    expect(uncertainParameters(pointOf(tcpExperiment(32000)), catalog).map((x) => x.name)).not.toContain('transport.perDescriptorUs');
    expect(overridesFor(p, catalog, new Map<ParameterName, number>([['transport.perDescriptorUs', 0.155e-6]])).perDescriptorS).toBe(0.155e-6);
  });

  it('moves a posting-bound transfer by descriptors x the cost, down to the wire time', () => {
    // At 0.87 us: 128,000 x 0.87 us = 111.36 ms of posting outlasts the 59.92 ms wire; at 0.155 us (19.84 ms) the wire
    // sets the time. The difference is 111.36 - 59.92 = 51.44 ms (the 11 us of setup and the side channel cancel).
    const p = pointOf(ib());
    const nominal = simulatePoint(p, catalog);
    const cheap = simulatePoint(p, catalog, { perDescriptorS: 0.155e-6 });
    expect(nominal.kvTransfer.ms.mean! - cheap.kvTransfer.ms.mean!).toBeCloseTo(111.36 - 4_194_304_000 / 70e9 / 1e-3, 1);
  });
});
