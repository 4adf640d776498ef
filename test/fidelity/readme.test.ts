import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fidelityMarkdown } from '../../src/fidelity/format.js';
import { runFidelity } from '../../src/fidelity/run.js';
import { fillSections } from '../../src/report/catalog-tables.js';
import { ROOT } from '../helpers/cli.js';

describe('README fidelity section', () => {
  it('matches what the model computes for models/measurements/ now (run `npm run build && npm run docs:fidelity` to refresh)', async () => {
    const readme = readFileSync(`${ROOT}/README.md`, 'utf8');
    expect(readme).toMatch(/## Fidelity\n[\s\S]*<!-- fidelity:begin -->\n\| record \| metric \|/);
    expect(fillSections(readme, { fidelity: fidelityMarkdown(await runFidelity()) })).toBe(readme);
  });
});
