import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/load.js';
import { runFingerprint } from '../../src/experiment/shard.js';
import type { Catalog } from '../../src/spec/catalog.js';
import type { Experiment, Point } from '../../src/spec/experiment.js';

const root = mkdtempSync(join(tmpdir(), 'nixlsim-fingerprint-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A point whose experiment is just the fields given: the fingerprint hashes whatever the point holds. */
const point = (id: string, experiment: Record<string, unknown>): Point => ({ id, params: {}, experiment: experiment as unknown as Experiment });

describe('runFingerprint', () => {
  const catalog = defaultCatalog();

  it('is a SHA-256 in hex, the same for the same run, whatever order an object was built in', () => {
    const a = runFingerprint([point('p000', { name: 'x', seed: 1, deployment: { transport: 'ib-rdma', mode: 'disaggregated' } })], 0, catalog);
    const b = runFingerprint([point('p000', { seed: 1, deployment: { mode: 'disaggregated', transport: 'ib-rdma' }, name: 'x' })], 0, catalog);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(b).toBe(a);
  });

  it('changes with any field of any point, with the sample count and with the catalog', () => {
    const base = [point('p000', { seed: 1, deployment: { transport: 'ib-rdma' } }), point('p001', { seed: 1, deployment: { transport: 'ib-rdma' } })];
    const f = runFingerprint(base, 0, catalog);
    const other = [base[0]!, point('p001', { seed: 1, deployment: { transport: 'tcp' } })];
    expect(runFingerprint(other, 0, catalog)).not.toBe(f);
    expect(runFingerprint(base, 8, catalog)).not.toBe(f);
    const fewer: Catalog = { ...catalog, transports: new Map([...catalog.transports].filter(([id]) => id !== 'tcp')) };
    expect(runFingerprint(base, 0, fewer)).not.toBe(f);
    // A catalog whose maps were filled in another order is the same catalog.
    const reordered: Catalog = { ...catalog, transports: new Map([...catalog.transports].reverse()) };
    expect(runFingerprint(base, 0, reordered)).toBe(f);
  });

  it("hashes a trace's bytes, not its path: a copy elsewhere is the same run, an edited copy is not", () => {
    const bytes = 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n';
    const here = join(root, 'a.csv');
    const there = join(root, 'copy-b.csv');
    const edited = join(root, 'c.csv');
    writeFileSync(here, bytes);
    writeFileSync(there, bytes);
    writeFileSync(edited, bytes.replace('374', '375'));
    const run = (path: string) => runFingerprint([point('p000', { workload: { kind: 'trace', trace: { format: 'azure', path, speedup: 1 } } })], 0, catalog);
    expect(run(there)).toBe(run(here));
    expect(run(edited)).not.toBe(run(here));
  });
});
