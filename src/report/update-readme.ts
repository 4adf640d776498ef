/** `npm run docs`: regenerates the catalog (and later the truth-table) sections of README.md from models/. */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultCatalog, projectRoot } from '../catalog/index.js';
import { fillSections, readmeSections } from './catalog-tables.js';

const path = join(projectRoot(), 'README.md');
const before = readFileSync(path, 'utf8');
const after = fillSections(before, readmeSections(defaultCatalog()));
if (after !== before) {
  writeFileSync(`${path}.tmp`, after);
  renameSync(`${path}.tmp`, path);
  console.log('README.md updated');
} else {
  console.log('README.md already up to date');
}
