import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/index.js';
import { fitNixlbench, isNixlbenchText, parseNixlbench } from '../../src/calibrate/fit-nixlbench.js';
import { nixlsimInProcess } from '../helpers/cli.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'nixlsim-nixlbench-'));
const ib = defaultCatalog().transports.get('ib-rdma')!;

/**
 * A table as nixlbench's older builds print it (block, batch, latency, MiB/s, GiB/s, GB/s), for a transport with 1 us
 * of latency (ib-rdma's), 8 us a transfer, 2 us a descriptor and 20 GB/s: a batch of 64 blocks of b bytes takes
 * 1 + 8 + max(64 x 2, 64 b / 20e9 s) us, so 2.1406 us a block until b = 625,000 B, then the wire.
 */
function table(): string {
  const lines = ['Block Size (B)      Batch Size     Avg Lat. (us)  B/W (MiB/Sec)  B/W (GiB/Sec)  B/W (GB/Sec)', '-'.repeat(80)];
  for (let k = 12; k <= 22; k++) {
    const b = 2 ** k;
    const t = 9e-6 + Math.max(64 * 2e-6, (64 * b) / 20e9);
    lines.push([b, 64, ((t / 64) * 1e6).toFixed(4), ((64 * b) / t / 2 ** 20).toFixed(2), ((64 * b) / t / 2 ** 30).toFixed(4), ((64 * b) / t / 1e9).toFixed(6)].join('    '));
  }
  return `${lines.join('\n')}\n`;
}

describe('nixlbench output', () => {
  it('reads the older table and the newer one (bandwidth first, prep/post/tx columns, timestamped log lines)', () => {
    const old = parseNixlbench(table(), 'old.txt');
    expect(old).toHaveLength(11);
    expect(old[0]).toMatchObject({ blockSize: 4096, batchSize: 64, where: 'old.txt:3' });
    expect(old[0]!.latencyUs).toBeCloseTo(137 / 64, 4); // (9 + 128) us over 64 blocks
    const newer = [
      '[2026-07-28T10:17:33.487Z] Block Size (B)      Batch Size     B/W (GB/Sec)   Avg Lat. (us)  Avg Prep (us)  P99 Prep (us)  Avg Post (us)  P99 Post (us)  Avg Tx (us)    P99 Tx (us)    ',
      '[2026-07-28T10:17:33.487Z] ------------------------------------------------------------',
      '[2026-07-28T10:17:41.612Z] 16384               4              4.524677       3.6            62.0           62.0           7.3            8.0            7.1            11.0           ',
    ].join('\n');
    expect(isNixlbenchText(newer)).toBe(true);
    expect(parseNixlbench(newer, 'new.log')).toEqual([{ blockSize: 16384, batchSize: 4, latencyUs: 3.6, where: 'new.log:3' }]);
    expect(() => parseNixlbench('nothing here', 'x.txt')).toThrow(/^x\.txt: no nixlbench result rows/);
  });

  it('fits the transfer, descriptor and bandwidth figures the table was made with', () => {
    const fit = fitNixlbench(parseNixlbench(table(), 't.txt'), ib, 1);
    expect(fit.perReadS * 1e6).toBeCloseTo(8, 2);
    expect(fit.perDescriptorS * 1e6).toBeCloseTo(2, 3);
    expect(fit.bandwidth / 1e9).toBeCloseTo(20, 2);
    expect(fit.rmsError).toBeLessThan(1e-4);
  });

  it('`calibrate <nixlbench output> --transport` writes a transport record with those figures; without --transport it exits 2', async () => {
    const d = tmp();
    const f = join(d, 'nixlbench.txt');
    writeFileSync(f, table());
    const out = join(d, 'ib-rdma-lab.yaml');
    const r = await nixlsimInProcess(['calibrate', f, '--transport', 'ib-rdma', '--rails', '1', '--transport-out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^transport ib-rdma fitted to nixlbench: per transfer 8\.00 us, per descriptor 2\.00 us, 20\.0 GB\/s over 1 rail/);
    const text = readFileSync(out, 'utf8');
    expect(text).toMatch(/^id: ib-rdma-lab$/m);
    // The table's latencies carry 4 decimals, so the fit lands within 0.1% of the figures it was made with.
    expect(Math.abs(Number(/^perReadUs: (.*)$/m.exec(text)![1]) / 8 - 1)).toBeLessThan(1e-3);
    expect(Math.abs(Number(/^perDescriptorUs: (.*)$/m.exec(text)![1]) / 2 - 1)).toBeLessThan(1e-3);
    expect(Math.abs(Number(/typical: ([0-9.]+),/.exec(text)![1]) / 20 - 1)).toBeLessThan(1e-3);
    const missing = await nixlsimInProcess(['calibrate', f]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^nixlsim: error: --transport: nixlbench output calibrates a transport/);
  });
});
