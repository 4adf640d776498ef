import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gpuRecordText } from '../../src/calibrate/catalog-file.js';
import { defaultCatalog, loadCatalog } from '../../src/catalog/index.js';
import { UserError } from '../../src/errors.js';
import { loadExperiment } from '../../src/experiment/index.js';
import { defaultEfficiency } from '../../src/physics/index.js';
import { fixture } from '../audit/helpers.js';
import { ROOT } from '../helpers/cli.js';

/** A copy of models/ with extra records. */
function models(extra: Record<string, string>): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'nixlsim-cal-catalog-')), 'models');
  cpSync(join(ROOT, 'models'), dir, { recursive: true });
  for (const [path, text] of Object.entries(extra)) writeFileSync(join(dir, path), text);
  return dir;
}

const c = defaultCatalog();
const record = (base: string, id: string) => gpuRecordText(c.gpus.get(base)!, id, defaultEfficiency(c.gpus.get(base)!), ['prefillCompute'], {}, 'test record');

describe('calibrated catalog records (calibratedFrom)', () => {
  it('the loader checks that calibratedFrom names a record, with a did-you-mean', () => {
    const text = record('h100-sxm', 'h100-sxm-site').replace('calibratedFrom: h100-sxm', 'calibratedFrom: h100-sxn');
    const dir = models({ 'gpu/h100-sxm-site.yaml': text });
    expect(() => loadCatalog(dir)).toThrow(UserError);
    expect(() => loadCatalog(dir)).toThrow(/h100-sxm-site\.yaml:\d+:\d+ calibratedFrom: unknown gpu 'h100-sxn'; did you mean 'h100-sxm'\?/);
  });

  it('a record cannot calibrate itself', () => {
    const text = record('h100-sxm', 'h100-sxm-site').replace('calibratedFrom: h100-sxm', 'calibratedFrom: h100-sxm-site');
    expect(() => loadCatalog(models({ 'gpu/h100-sxm-site.yaml': text }))).toThrow(/calibratedFrom: a record cannot calibrate itself/);
  });

  it("an experiment may name a calibration of the node's GPU, and not one of another GPU", () => {
    const dir = models({ 'gpu/h100-sxm-site.yaml': record('h100-sxm', 'h100-sxm-site'), 'gpu/h200-sxm-site.yaml': record('h200-sxm', 'h200-sxm-site') });
    const catalog = loadCatalog(dir);
    const exp = (gpu: string) => {
      const file = join(mkdtempSync(join(tmpdir(), 'nixlsim-cal-exp-')), 'e.yaml');
      writeFileSync(file, readFileSync(fixture('p5-disaggregated.yaml'), 'utf8').replace('node: p5.48xlarge', `node: p5.48xlarge\n  gpu: ${gpu}`));
      return file;
    };
    expect(loadExperiment(exp('h100-sxm-site'), { catalog }).experiment.deployment.gpu).toBe('h100-sxm-site');
    expect(() => loadExperiment(exp('h200-sxm-site'), { catalog })).toThrow(/node 'p5\.48xlarge' has h100-sxm GPUs, not 'h200-sxm-site'/);
  });
});
