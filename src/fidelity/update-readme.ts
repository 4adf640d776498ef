/** `npm run docs:fidelity`: regenerates README.md's fidelity section (between the fidelity markers) from the model. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../catalog/index.js';
import { fillSections } from '../report/catalog-tables.js';
import { writeFileAtomic } from '../spec/output.js';
import { fidelityMarkdown } from './format.js';
import { runFidelity } from './run.js';

const path = join(projectRoot(), 'README.md');
const before = readFileSync(path, 'utf8');
const after = fillSections(before, { fidelity: fidelityMarkdown(await runFidelity()) });
if (after !== before) {
  writeFileAtomic(projectRoot(), 'README.md', after);
  console.log('README.md updated');
} else {
  console.log('README.md already up to date');
}
