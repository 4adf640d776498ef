/** `npm run docs`: regenerates the catalog (and later the truth-table) sections of README.md from models/. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultCatalog, projectRoot } from '../catalog/index.js';
import { fillSections, readmeSections } from './catalog-tables.js';
import { writeFileAtomic } from './output.js';

const path = join(projectRoot(), 'README.md');
const before = readFileSync(path, 'utf8');
const after = fillSections(before, readmeSections(defaultCatalog()));
if (after !== before) {
  writeFileAtomic(projectRoot(), 'README.md', after);
  console.log('README.md updated');
} else {
  console.log('README.md already up to date');
}
