/** `npm run docs`: regenerates the catalog tables and the truth table of docs/model.md from models/. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultCatalog, projectRoot } from '../catalog/index.js';
import { fillSections, modelDocSections } from './catalog-tables.js';
import { writeFileAtomic } from '../spec/output.js';

/** The document the generated sections live in, relative to the project root. */
const MODEL_DOC = 'docs/model.md';

const path = join(projectRoot(), MODEL_DOC);
const before = readFileSync(path, 'utf8');
const after = fillSections(before, modelDocSections(defaultCatalog()));
if (after !== before) {
  writeFileAtomic(projectRoot(), MODEL_DOC, after);
  console.log(`${MODEL_DOC} updated`);
} else {
  console.log(`${MODEL_DOC} already up to date`);
}
