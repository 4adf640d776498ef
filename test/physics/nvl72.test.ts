/**
 * GB200 NVL72: one NVLink domain of 72 GPUs over 18 trays of 4. A TP group spanning trays all-reduces at NVLink speed;
 * KV moves between trays over multi-node NVLink (mnnvl), which does not leave the domain. Numbers by hand.
 */
import { describe, expect, it } from 'vitest';
import { defaultCatalog, getGpu, getLlm, getNode, getTransport } from '../../src/catalog/index.js';
import { UserError } from '../../src/errors.js';
import { allReduceBandwidth, checkNvlinkDomain, checkPlacement, decodeStepTime, type StepContext } from '../../src/physics/index.js';
import { parse } from 'yaml';
import { transportRecordText } from '../../src/calibrate/catalog-file.js';
import { nixlsimInProcess } from '../helpers/cli.js';

const c = defaultCatalog();
const gb200 = getGpu(c, 'gb200');
const tray = getNode(c, 'gb200-nvl72');
const m70 = getLlm(c, 'llama-3.1-70b-instruct');
const mnnvl = getTransport(c, 'mnnvl');

// What the engine hands the step-time model for a worker on a tray: 4 GPUs, 4 x 400 Gb/s = 50 GB/s of NIC a GPU.
const onTray: StepContext['node'] = { gpusPerNode: 4, nicBandwidthPerGpu: (4 * 50e9) / 4, nvlinkDomainGpus: 72 };
const lone: StepContext['node'] = { gpusPerNode: 4, nicBandwidthPerGpu: 50e9 };

describe('tensor parallelism across GB200 trays', () => {
  it('a TP8 group on two trays all-reduces at NVLink 5 speed, 900 GB/s a direction, not the NICs\' 50 GB/s', () => {
    expect(allReduceBandwidth(gb200, 8, onTray)).toBe(900e9);
    expect(allReduceBandwidth(gb200, 72, onTray)).toBe(900e9);
    // Past the domain (two racks), and on trays without a shared domain, the ring crosses the NICs.
    expect(allReduceBandwidth(gb200, 144, onTray)).toBe(50e9);
    expect(allReduceBandwidth(gb200, 8, lone)).toBe(50e9);
  });

  it('prices a 70B TP8 decode step of one sequence: 160 all-reduces of 16,384 B, each 29.8 us + 2 x 7/8 x 16,384 B / 900 GB/s', () => {
    const ctx: StepContext = { enforceEager: false, maxCaptureSize: 512, connector: false, node: onTray };
    const t = decodeStepTime(m70, gb200, 8, [1000], undefined, ctx);
    // 1 token x 8192 hidden x 2 B = 16,384 B; ring: 2 x 7 x 16,384 / 8 = 28,672 B at 900e9 B/s = 31.9 ns.
    expect(t.allReduceS).toBeCloseTo(160 * (29.8e-6 + 28_672 / 900e9), 12);
    const overNics = decodeStepTime(m70, gb200, 8, [1000], undefined, { ...ctx, node: lone });
    expect(overNics.allReduceS).toBeCloseTo(160 * (29.8e-6 + 28_672 / 50e9), 12);
  });

  it('validate accepts a TP8 decode worker on gb200-nvl72 and notes that its all-reduces stay on NVLink', async () => {
    const r = await nixlsimInProcess(['validate', 'test/fixtures/experiments/gb200-tp8.yaml']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('decode TP8 spans 2 nodes of 4 GPUs (gb200-nvl72): vLLM runs it across nodes of one 72-GPU NVLink domain, and its all-reduces stay on NVLink');
  });
});

describe('KV between trays of one rack: multi-node NVLink', () => {
  it('mnnvl works within a pod, between pods of a tray and between trays of the rack', () => {
    for (const p of ['intra-pod', 'same-node', 'cross-node'] as const) expect(checkPlacement(mnnvl, p).outcome).toBe('works');
    expect(() => checkNvlinkDomain(mnnvl, tray, 'cross-node', 72)).not.toThrow();
  });

  it('but not beyond the 72-GPU domain, nor cross-node where the domain is the node (DGX H100)', () => {
    expect(() => checkNvlinkDomain(mnnvl, tray, 'cross-node', 76)).toThrow(UserError);
    expect(() => checkNvlinkDomain(mnnvl, tray, 'cross-node', 76)).toThrow(/72 GPUs in its domain, and the deployment's 76 GPUs/);
    expect(() => checkNvlinkDomain(mnnvl, getNode(c, 'dgx-h100'), 'cross-node', 16)).toThrow(/its NVLink domain is the node itself/);
    // Prefill and decode on machines of different kinds are never one domain.
    const otherRack = { ...tray, id: 'gb300-nvl72' };
    expect(() => checkNvlinkDomain(mnnvl, tray, 'cross-node', 8, otherRack)).toThrow(/prefill on 'gb200-nvl72' and decode on 'gb300-nvl72' are machines of different kinds/);
    expect(() => checkNvlinkDomain(mnnvl, tray, 'cross-node', 8, tray)).not.toThrow();
    // Other transports are the placement rules' business.
    expect(() => checkNvlinkDomain(getTransport(c, 'ib-rdma'), tray, 'cross-node', 1000)).not.toThrow();
  });

  it('a 70B TP4 -> TP4 transfer of 120k tokens between trays moves at mnnvl\'s 48 GB/s, one NVLink path, not the 4 NIC rails', async () => {
    // 1024-token blocks keep posting short: ceil(120,000 / 1024) = 118 blocks, moved whole: 118 x 1024 x 327,680 B =
    // 39,594,229,760 B. Posting: 118 x 2 x 80 layers = 18,880 descriptors a rank x 3.1 us = 58.5 ms, under the wire's
    // 39,594,229,760 / 48e9 = 824.88 ms. Setup: 1 us latency + one 5 us READ a decode rank. Total 824.88 + 0.006 ms.
    const r = await nixlsimInProcess(['transfer', '--model', 'llama-3.1-70b-instruct', '--tokens', '120000', '--prefill-tp', '4', '--decode-tp', '4', '--transport', 'mnnvl', '--node', 'gb200-nvl72', '--prefill-block-size', '1024', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { bytesTotal: number; reads: number; ms: number; effectiveGBps: number };
    expect(j.bytesTotal).toBe(118 * 1024 * 327_680);
    expect(j.reads).toBe(4);
    expect(j.ms).toBeCloseTo((39_594_229_760 / 48e9) * 1e3 + 0.006, 6);
  });

  it('a transfer wider than the rack is refused with exit 2', async () => {
    const r = await nixlsimInProcess(['transfer', '--model', 'llama-3.1-70b-instruct', '--tokens', '1000', '--prefill-tp', '64', '--decode-tp', '16', '--transport', 'mnnvl', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("reaches GPUs of one NVLink domain only: 'gb200-nvl72' has 72 GPUs in its domain, and the deployment's 80 GPUs");
  });

  it('a calibration of mnnvl stays confined to the NVLink domain', () => {
    const text = transportRecordText(mnnvl, 'mnnvl-calibrated', { latencyS: 2e-6, bandwidthPerRail: 60e9 }, { latencyUs: 'test' }, '# test');
    expect(parse(text)).toMatchObject({ calibratedFrom: 'mnnvl', nvlinkDomainOnly: true, bandwidthPerRailGBps: { typical: 60 } });
  });
});
