import { appendFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultModelsDir, loadCatalog, recordOrigin } from '../../src/catalog/index.js';
import { fromSnapshot, writeCatalogSnapshot } from '../../src/catalog/load.js';
import type { Catalog } from '../../src/spec/catalog.js';

/** The build's catalog snapshot (src/catalog/snapshot.ts): the same records as loading the files, or nothing. */
const tmp = mkdtempSync(join(tmpdir(), 'nixlsim-snapshot-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const KINDS: (keyof Catalog)[] = ['llms', 'gpus', 'nodes', 'transports', 'connectors', 'allToAll'];

describe('the catalog snapshot', () => {
  it('gives the very records loading models/ gives, in the same order, frozen, with their files', () => {
    const file = join(tmp, 'package.json');
    writeCatalogSnapshot(file);
    const loaded = loadCatalog(defaultModelsDir());
    const snap = fromSnapshot(defaultModelsDir(), file);
    expect(snap).toBeDefined();
    for (const k of KINDS) {
      expect([...snap![k].keys()]).toEqual([...loaded[k].keys()]);
      for (const [id, r] of loaded[k]) {
        const s = snap![k].get(id)!;
        // Strict: a key holding undefined, -0 or a non-finite number would not survive JSON, and would differ here.
        expect(isDeepStrictEqual(s, r), `${k} ${id}`).toBe(true);
        expect(Object.isFrozen(s)).toBe(true);
        expect(recordOrigin(s as object)).toEqual(recordOrigin(r as object));
      }
    }
  });

  it('is ignored once a record is edited, added or removed, so the files (and their errors) decide', () => {
    const models = join(tmp, 'models');
    cpSync(defaultModelsDir(), models, { recursive: true });
    const file = join(tmp, 'copy.json');
    writeCatalogSnapshot(file, models);
    expect(fromSnapshot(models, file)).toBeDefined();
    appendFileSync(join(models, 'gpu', 'h100-sxm.yaml'), '# edited\n');
    expect(fromSnapshot(models, file)).toBeUndefined();
    writeCatalogSnapshot(file, models);
    writeFileSync(join(models, 'gpu', 'new.yml'), 'id: new\n');
    expect(fromSnapshot(models, file)).toBeUndefined();
    rmSync(join(models, 'gpu', 'new.yml'));
    expect(fromSnapshot(models, file)).toBeDefined();
    rmSync(join(models, 'llm', 'deepseek-r1.yaml'));
    expect(fromSnapshot(models, file)).toBeUndefined();
  });

  it('a missing or unreadable snapshot is no snapshot', () => {
    expect(fromSnapshot(defaultModelsDir(), join(tmp, 'absent.json'))).toBeUndefined();
    writeFileSync(join(tmp, 'bad.json'), '{ not json');
    expect(fromSnapshot(defaultModelsDir(), join(tmp, 'bad.json'))).toBeUndefined();
  });
});
