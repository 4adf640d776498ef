import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandPoints, loadExperiment } from '../../src/experiment/index.js';
import { shownPath } from '../../src/experiment/yaml-errors.js';
import { FIXTURES, fixture, userError } from './helpers.js';

const ext = (name: string) => fixture(`extends/${name}`);
/** file:line:col as a message shows it (relative to the working directory). */
const at = (name: string, pos: string, field: string) => `${shownPath(ext(name))}:${pos} ${field}`;

describe('extends: a file deep-merged over the file it names', () => {
  it('maps merge key by key, lists replace, the sweep gains the child entries after the base ones', () => {
    const loaded = loadExperiment(ext('child.yaml'));
    const e = loaded.experiment;
    // From base.yaml, untouched by child.yaml.
    expect(e.seed).toBe(5);
    expect([e.deployment.mode, e.deployment.model, e.deployment.node, e.deployment.transport]).toEqual(['disaggregated', 'llama-3.1-8b-instruct', 'p5.48xlarge', 'efa-libfabric']);
    expect(e.workload.concurrency).toBe(4);
    // prefill: base { workers: 2, tp: 2 } under child { tp: 4 }.
    expect(e.deployment.prefill).toEqual({ workers: 2, tp: 4 });
    // engine: base { blockSize: 32, maxNumSeqs: 64 } under child { maxNumSeqs: 128 }; the rest defaults.
    expect(e.deployment.engine).toMatchObject({ blockSize: 32, maxNumSeqs: 128, maxNumBatchedTokens: 8192 });
    // faults: the base's two are replaced by the child's one.
    expect(e.faults).toEqual([{ kind: 'health_503', rate: 0.5 }]);
    // 2 isl values (base) x 2 routers (child) = 4 points, the base's dimension slowest.
    expect(loaded.sweep).toEqual({ 'workload.isl.mean': [1000, 2000], 'deployment.router': ['round-robin', 'kv-aware'] });
    expect(expandPoints(loaded).map((p) => [p.id, p.params['workload.isl.mean'], p.params['deployment.router']])).toEqual([
      ['p000', 1000, 'round-robin'],
      ['p001', 1000, 'kv-aware'],
      ['p002', 2000, 'round-robin'],
      ['p003', 2000, 'kv-aware'],
    ]);
    expect(loaded.files).toEqual([ext('child.yaml'), ext('base.yaml')]);
  });

  it('name and expect are not inherited: the name comes from the file, the expectations are its own', () => {
    const loaded = loadExperiment(ext('child.yaml'));
    expect(loaded.experiment.name).toBe('child'); // base.yaml says name: base
    expect(loaded.expect).toEqual([]); // base.yaml has one
    expect(loadExperiment(ext('base.yaml')).expect).toHaveLength(1);
  });

  it('chains: grandchild over child over base; sweep: null drops the sweep the chain built', () => {
    const loaded = loadExperiment(ext('grandchild.yaml'));
    const e = loaded.experiment;
    expect(e.name).toBe('grandchild');
    expect(e.seed).toBe(9);
    expect(e.deployment.prefill).toEqual({ workers: 2, tp: 4 }); // child's tp over base's workers
    expect(e.workload.isl).toEqual({ mean: 3000, stddev: 0 }); // base's, no longer swept
    expect(e.workload.osl).toEqual({ mean: 300, stddev: 0 }); // grandchild's mean over base's 150
    expect(e.faults).toEqual([]);
    expect(loaded.sweep).toEqual({});
    expect(expandPoints(loaded)).toHaveLength(1);
    expect(loaded.files).toEqual([ext('grandchild.yaml'), ext('child.yaml'), ext('base.yaml')]);
  });

  it('a relative trace path is read from the directory of the file that wrote it', () => {
    const e = loadExperiment(ext('sub/trace-child.yaml')).experiment;
    expect(e.workload.trace?.path).toBe(resolve(FIXTURES, 'traces/tiny-azure.csv'));
    expect(e.seed).toBe(4);
    expect(e.name).toBe('trace-child');
  });

  it('a cycle is an error at the extends that closes it, naming the chain', () => {
    const err = userError(() => loadExperiment(ext('cycle-a.yaml')));
    // cycle-a extends cycle-b (line 1), which extends cycle-a again (its line 1).
    expect(err.where).toBe(at('cycle-b.yaml', '1:1', 'extends'));
    expect(err.message).toContain(`extends cycle: ${shownPath(ext('cycle-a.yaml'))} -> ${shownPath(ext('cycle-b.yaml'))} -> ${shownPath(ext('cycle-a.yaml'))}`);
    expect(err.message).toContain(`(reached through extends from ${shownPath(ext('cycle-a.yaml'))})`);
  });

  it('a file that extends itself is a cycle of one', () => {
    const err = userError(() => loadExperiment(ext('self.yaml')));
    expect(err.where).toBe(at('self.yaml', '2:1', 'extends'));
    expect(err.message).toContain(`extends cycle: ${shownPath(ext('self.yaml'))} -> ${shownPath(ext('self.yaml'))}`);
  });

  it("a bad value in the extended file is reported at that file's own line and column", () => {
    const err = userError(() => loadExperiment(ext('extends-bad-base.yaml')));
    // bad-base.yaml line 8 is `  prefill: { tp: 3 }`: `tp` is the 14th character.
    expect(err.where).toBe(at('bad-base.yaml', '8:14', 'deployment.prefill.tp'));
    expect(err.message).toContain("TP 3 does not divide the 8 KV heads of 'llama-3.1-8b-instruct'");
    expect(err.message).toContain(`(reached through extends from ${shownPath(ext('extends-bad-base.yaml'))})`);
  });

  it('the extending file can fix it: its value wins', () => {
    expect(loadExperiment(ext('fixes-bad-base.yaml')).experiment.deployment.prefill).toEqual({ workers: 1, tp: 2 });
  });

  it('an unknown key in the extended file: its position there, with the did-you-mean', () => {
    const err = userError(() => loadExperiment(ext('extends-typo-base.yaml')));
    // typo-base.yaml line 7 is `  aggregated: { workers: 1, tpp: 2 }`: `tpp` starts at column 29.
    expect(err.where).toBe(at('typo-base.yaml', '7:29', 'deployment.aggregated.tpp'));
    expect(err.message).toContain("unknown key 'tpp'; did you mean 'tp'?");
  });

  it("a sweep value in the extending file is reported there, even when the field it sets is the base's", () => {
    const err = userError(() => loadExperiment(ext('base-sweep-bad.yaml')));
    // line 3 `  workload.isl.mean: [1000, 200000]`: the second value starts at column 29.
    expect(err.where).toBe(at('base-sweep-bad.yaml', '3:29', 'sweep.workload.isl.mean[1]'));
    expect(err.message).toContain('200000 + 150 = 200150 tokens exceeds the 131072-token context');
  });

  it('a path swept in both files: the error is in the extending file and names the other file\'s line', () => {
    const err = userError(() => loadExperiment(ext('zip-over-base.yaml')));
    expect(err.where).toBe(at('zip-over-base.yaml', '4:5', 'sweep.zip.workload.isl.mean'));
    // base.yaml line 21: `  workload.isl.mean: [1000, 2000]` under its sweep.
    expect(err.message).toContain(`'workload.isl.mean' is already swept at ${shownPath(ext('base.yaml'))}:21 (sweep.workload.isl.mean)`);
  });

  it('a missing file, or a path that is not a string, is an error at extends', () => {
    const missing = userError(() => loadExperiment(ext('missing.yaml')));
    expect(missing.where).toBe(at('missing.yaml', '2:1', 'extends'));
    expect(missing.message).toContain(`file not found: 'no-such-file.yaml' (read relative to this file's directory: '${ext('no-such-file.yaml')}')`);
    const list = userError(() => loadExperiment(ext('not-a-string.yaml')));
    expect(list.where).toBe(at('not-a-string.yaml', '1:1', 'extends'));
    expect(list.message).toContain('expected the path of an experiment file to extend, relative to this one, got a list');
  });

  it('--set still wins over every file of the chain', () => {
    const e = loadExperiment(ext('child.yaml'), { set: ['deployment.prefill.tp=8', 'sweep.workload.isl.mean=[500]'] }).experiment;
    expect(e.deployment.prefill).toEqual({ workers: 2, tp: 8 });
    expect(e.workload.isl.mean).toBe(500);
  });
});
