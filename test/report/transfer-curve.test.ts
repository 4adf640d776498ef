import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/index.js';
import { transferCurveRows } from '../../src/report/charts/data.js';
import { transferCurveSpec, VEGA_LITE_SCHEMA } from '../../src/report/charts/kinds.js';
import { compileSpec } from '../../src/report/charts/render.js';
import { nixlsimInProcess } from '../helpers/cli.js';

describe('the transfer-curve chart (bandwidth by block size per transport, from modeled nixlbench rows)', () => {
  const rows = transferCurveRows(defaultCatalog());

  it('has 15 block sizes (4K to 64M) for every transport that works cross-node or inside a pod', () => {
    const transports = [...new Set(rows.map((r) => r.transport))];
    expect(transports).toEqual(['efa-libfabric', 'efa-ucx', 'host-staged', 'ib-rdma', 'mnnvl', 'nvlink', 'roce-rdma', 'tcp']);
    for (const t of transports) expect(rows.filter((r) => r.transport === t).map((r) => r.blockText)[14]).toBe('64M');
    // ib-rdma: UCX stripes one GPU over 2 rails (UCX_MAX_RNDV_RAILS) x 35 GB/s = 70 GB/s; one 4K block a transfer:
    // 4096 B / (1 us + 10 us + max(0.87 us of posting, 0.0585 us on the wire)) = 0.3451 GB/s.
    expect(rows.find((r) => r.transport === 'ib-rdma' && r.blockSize === 4096)!.bandwidthGBps).toBeCloseTo(4096 / (11e-6 + 0.87e-6) / 1e9, 9);
    // ... and at 64M the two rails' 70 GB/s, less 11 us of setup: 67,108,864 / (11 us + 0.9587 ms) = 69.21 GB/s.
    expect(rows.find((r) => r.transport === 'ib-rdma' && r.blockSize === 64 * 2 ** 20)!.bandwidthGBps).toBeCloseTo(67_108_864 / (11e-6 + 67_108_864 / 70e9) / 1e9, 9);
  });

  it('is a log-log line chart that compiles without warnings; `chart --kind transfer-curve` writes it with no summary', async () => {
    const spec = transferCurveSpec(rows) as unknown as Record<string, unknown>;
    expect(spec['$schema']).toBe(VEGA_LITE_SCHEMA);
    const enc = spec['encoding'] as Record<string, { scale?: { type: string } }>;
    expect(enc['x']!.scale!.type).toBe('log');
    expect(enc['y']!.scale!.type).toBe('log');
    expect(compileSpec(transferCurveSpec(rows)).warnings).toEqual([]);
    const out = join(mkdtempSync(join(tmpdir(), 'nixlsim-tc-')), 'charts');
    const r = await nixlsimInProcess(['chart', '--kind', 'transfer-curve', '--out', out]);
    expect(r.code).toBe(0);
    for (const ext of ['vl.json', 'svg', 'png']) expect(existsSync(join(out, `transfer-curve.${ext}`))).toBe(true);
  });
});
