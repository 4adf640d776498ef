import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/index.js';
import { fillSections, modelDocSections } from '../../src/report/catalog-tables.js';
import { ROOT } from '../helpers/cli.js';

describe('docs/model.md generated sections', () => {
  it('match what models/ says now (run `npm run build && npm run docs` to refresh)', () => {
    const doc = readFileSync(`${ROOT}/docs/model.md`, 'utf8');
    expect(fillSections(doc, modelDocSections(defaultCatalog()))).toBe(doc);
  });

  it('the transport table carries the seed 002 figures it claims (EFA: its ~9.6 GB/s over 4 interfaces as the low end, 100 Gb/s line rate as the top)', () => {
    const t = modelDocSections(defaultCatalog()).transports;
    expect(t).toMatch(/\| `ib-rdma` \| UCX \| 20 \/ 35 \/ 50 \|/);
    expect(t).toMatch(/\| `tcp` \| UCX \| 0\.1 \/ 0\.1 \/ 3 \|/);
    expect(t).toMatch(/\| `efa-libfabric` \| LIBFABRIC \| 2\.4 \/ 10 \/ 12\.5 \|/);
  });

  it('README.md no longer carries them (one place for each generated table)', () => {
    const readme = readFileSync(`${ROOT}/README.md`, 'utf8');
    for (const name of Object.keys(modelDocSections(defaultCatalog()))) expect(readme).not.toContain(`<!-- ${name}:begin -->`);
  });
});
