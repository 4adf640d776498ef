import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandPoints, loadExperiment } from '../../src/experiment/index.js';
import { ROOT } from '../helpers/cli.js';

const readme = readFileSync(join(ROOT, 'experiments/README.md'), 'utf8');
const block = (after: string): string => {
  const text = new RegExp(`${after}[\\s\\S]*?\`\`\`yaml\\n([\\s\\S]*?)\`\`\``).exec(readme)?.[1];
  if (text === undefined) throw new Error(`no yaml block after '${after}' in experiments/README.md`);
  return text;
};
const write = (name: string, text: string): string => {
  const file = join(mkdtempSync(join(tmpdir(), 'nixlsim-readme-')), name);
  writeFileSync(file, text);
  return file;
};

describe('the extends and expect examples of experiments/README.md', () => {
  it("the complete example's expectation selects p001 (isl 30000 over ib-rdma)", () => {
    const loaded = loadExperiment(write('tcp-vs-rdma.yaml', block('## A complete example')));
    expect(loaded.expect.map((e) => [e.metric, e.points])).toEqual([['ttftMs.p50', ['p001']]]);
  });

  it('the extends example: breakeven with TP2 aggregated workers, two input lengths x two modes', () => {
    const text = block('## Extending a file').replace('extends: seeds/breakeven.yaml', `extends: ${join(ROOT, 'experiments/seeds/breakeven.yaml')}`);
    const loaded = loadExperiment(write('breakeven-tp2.yaml', text));
    expect(loaded.experiment.name).toBe('breakeven-tp2');
    expect(loaded.experiment.deployment.aggregated).toEqual({ workers: 2, tp: 2 }); // the seed's 2 workers kept: maps merge
    expect(expandPoints(loaded).map((p) => p.params)).toEqual([
      { 'workload.isl.mean': 7000, 'deployment.mode': 'aggregated' },
      { 'workload.isl.mean': 7000, 'deployment.mode': 'disaggregated' },
      { 'workload.isl.mean': 8000, 'deployment.mode': 'aggregated' },
      { 'workload.isl.mean': 8000, 'deployment.mode': 'disaggregated' },
    ]);
  });

  it("the Expectations example, on the breakeven seed, selects p014: isl 8000 (8th of 8) x aggregated (1st of 2)", () => {
    const text = `extends: ${join(ROOT, 'experiments/seeds/breakeven.yaml')}\n${block('## Expectations')}`;
    expect(loadExperiment(write('pinned.yaml', text)).expect[0]!.points).toEqual([`p0${7 * 2 + 0}`]);
  });
});
