import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadExperiment } from '../../src/experiment/index.js';
import { shownPath } from '../../src/experiment/yaml-errors.js';
import { fixture, userError } from './helpers.js';

/** file:line:col as a message shows it (relative to the working directory). */
const at = (name: string, pos: string, field: string) => `${shownPath(fixture(name))}:${pos}${field ? ` ${field}` : ''}`;

describe('a bad experiment file is one UserError naming file:line:col and the field', () => {
  it('malformed YAML', () => {
    const err = userError(() => loadExperiment(fixture('bad/malformed.yaml')));
    // The unclosed [ on line 4 is noticed where the next key starts.
    expect(err.where).toBe(at('bad/malformed.yaml', '5:3', ''));
    expect(err.message).toMatch(/YAML syntax error near deployment\.node: Flow sequence .* end with a \]/);
  });

  it('unknown key, with a suggestion', () => {
    const err = userError(() => loadExperiment(fixture('bad/unknown-key.yaml')));
    expect(err.where).toBe(at('bad/unknown-key.yaml', '8:26', 'deployment.prefill.tpp'));
    expect(err.message).toContain("unknown key 'tpp'; did you mean 'tp'?");
  });

  it('wrong type or range: what was expected and what was found', () => {
    const err = userError(() => loadExperiment(fixture('bad/wrong-type.yaml')));
    expect(err.message).toBe(`${at('bad/wrong-type.yaml', '10:5', 'deployment.prefill.tp')}: expected a whole number from 1 to 1,024 (GPUs in one tensor-parallel group), got 0 (and 1 more problem in this file)`);
    // With the TP fixed from the command line, the next problem in the file shows.
    const next = userError(() => loadExperiment(fixture('bad/wrong-type.yaml'), { set: ['deployment.prefill.tp=1'] }));
    expect(next.message).toBe(`${at('bad/wrong-type.yaml', '13:3', 'workload.concurrency')}: expected a whole number from 1 to 250,000 (clients in flight at once: each holds ~2 KB of state), got 'ten'`);
  });

  it('unknown transport id, with a suggestion from the catalog', () => {
    const err = userError(() => loadExperiment(fixture('bad/unknown-transport.yaml')));
    expect(err.where).toBe(at('bad/unknown-transport.yaml', '7:3', 'deployment.transport'));
    expect(err.message).toContain("unknown transport 'efa-libfabrc'; did you mean 'efa-libfabric'?");
  });

  it('TP 3 on a model with 8 KV heads', () => {
    const err = userError(() => loadExperiment(fixture('bad/tp3.yaml')));
    expect(err.where).toBe(at('bad/tp3.yaml', '8:14', 'deployment.prefill.tp'));
    expect(err.message).toContain("TP 3 does not divide the 8 KV heads of 'llama-3.1-8b-instruct'");
  });

  it('a transport the node does not offer', () => {
    const err = userError(() => loadExperiment(fixture('bad/transport-not-offered.yaml')));
    expect(err.where).toBe(at('bad/transport-not-offered.yaml', '7:3', 'deployment.transport'));
    expect(err.message).toContain("node 'p5.48xlarge' does not offer transport 'ib-rdma' (it offers: nvlink, efa-libfabric, efa-ucx, host-staged, tcp)");
  });

  it('NVLink between nodes', () => {
    const err = userError(() => loadExperiment(fixture('bad/nvlink-cross-node.yaml')));
    expect(err.where).toBe(at('bad/nvlink-cross-node.yaml', '7:3', 'deployment.transport'));
    expect(err.message).toContain("transport 'nvlink' is not available between workers placed cross-node");
    // intra-pod is where NVLink works.
    expect(loadExperiment(fixture('bad/nvlink-cross-node.yaml'), { set: ['deployment.placement=intra-pod'] }).experiment.deployment.transport).toBe('nvlink');
  });

  it("isl + osl over the model's context", () => {
    const err = userError(() => loadExperiment(fixture('bad/over-context.yaml')));
    expect(err.where).toBe(at('bad/over-context.yaml', '10:10', 'workload.isl.mean'));
    expect(err.message).toContain("40000 + 1000 = 41000 tokens exceeds the 40960-token context (maxContext) of 'qwen3-8b'");
  });

  it('a sweep path that names no field', () => {
    const err = userError(() => loadExperiment(fixture('bad/bad-sweep-path.yaml')));
    expect(err.where).toBe(at('bad/bad-sweep-path.yaml', '14:3', 'sweep.deployment.transprt'));
    expect(err.message).toContain("unknown path 'deployment.transprt'; did you mean 'deployment.transport'?");
  });

  it('a sweep value that makes a point invalid: the sweep entry is named, not the field it replaced', () => {
    const err = userError(() => loadExperiment(fixture('bad/bad-sweep-value.yaml')));
    expect(err.where).toBe(at('bad/bad-sweep-value.yaml', '14:41', 'sweep.deployment.transport[1]'));
    expect(err.message).toContain("node 'p5.48xlarge' does not offer transport 'ib-rdma'");
  });

  it('a swept value another field is checked against is named too (the model a context must fit)', () => {
    const set = ['workload.isl.mean=41000', 'sweep.deployment.model=[llama-3.1-8b-instruct, qwen3-8b]'];
    const err = userError(() => loadExperiment(fixture('minimal.yaml'), { set }));
    expect(err.where).toBe('--set sweep.deployment.model=[llama-3.1-8b-instruct, qwen3-8b] sweep.deployment.model[1]');
    expect(err.message).toContain("exceeds the 40960-token context (maxContext) of 'qwen3-8b'");
  });

  it('zip lists of unequal lengths: at the list that differs, naming both lengths', () => {
    const err = userError(() => loadExperiment(fixture('bad/zip-unequal.yaml')));
    expect(err.message).toBe(
      `${at('bad/zip-unequal.yaml', '15:5', 'sweep.zip.deployment.node')}: 'deployment.node' has 3 values but 'deployment.transport' has 4; the lists of a zip group are taken together, so they must have equal lengths`,
    );
  });

  it('a path swept both on its own and in a zip group, or in two groups', () => {
    const both = userError(() => loadExperiment(fixture('bad/zip-duplicate.yaml')));
    expect(both.where).toBe(at('bad/zip-duplicate.yaml', '16:5', 'sweep.zip.deployment.transport'));
    expect(both.message).toContain("'deployment.transport' is already swept at line 13 (sweep.deployment.transport); a path is swept once, on its own or in one zip group");
    const groups = userError(() => loadExperiment(fixture('bad/zip-duplicate-groups.yaml')));
    expect(groups.where).toBe(at('bad/zip-duplicate-groups.yaml', '17:7', 'sweep.zip[1].workload.isl.mean'));
    expect(groups.message).toContain("'workload.isl.mean' is already swept at line 14 (sweep.zip[0].workload.isl.mean)");
  });

  it('a zip value that makes a point invalid is named at its place in the group', () => {
    const err = userError(() => loadExperiment(fixture('bad/zip-bad-value.yaml')));
    expect(err.where).toBe(at('bad/zip-bad-value.yaml', '15:37', 'sweep.zip.deployment.transport[1]'));
    expect(err.message).toContain("node 'p5.48xlarge' does not offer transport 'ib-rdma'");
  });


  it('a malformed zip: not a map or a list of maps, empty, or a bad path or list inside', () => {
    const head = readFileSync(fixture('zip.yaml'), 'utf8').replace(/^sweep:[\s\S]*$/m, '');
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-zip-'));
    try {
      const load = (zip: string) => {
        writeFileSync(join(dir, 'z.yaml'), `${head}sweep:\n  zip: ${zip}\n`);
        const err = userError(() => loadExperiment(join(dir, 'z.yaml')));
        return `${err.where?.replace(/^.*z\.yaml:/, '')}: ${err.message.replace(/^.*?: /, '')}`;
      };
      expect(load('3')).toBe('14:3 sweep.zip: expected a map from field paths to lists of equal length, or a list of such maps, got 3');
      expect(load('[]')).toBe('14:3 sweep.zip: expected a map from field paths to lists of equal length, or a non-empty list of such maps, got an empty list');
      expect(load('{}')).toBe('14:3 sweep.zip: expected a map from field paths to lists of equal length, got an empty map');
      expect(load('[{}, 5]')).toBe('14:9 sweep.zip[0]: expected a map from field paths to lists of equal length, got an empty map');
      expect(load('[{ workload.warmup: [1] }, 5]')).toBe('14:35 sweep.zip[1]: expected a map from field paths to lists of equal length, got 5');
      expect(load('{ deployment.nod: [dgx-h100] }')).toContain("sweep.zip.deployment.nod: unknown path 'deployment.nod'; did you mean 'deployment.node'?");
      expect(load('{ workload.warmup: 4 }')).toBe('14:10 sweep.zip.workload.warmup: expected a list of values such as [a, b], got 4');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const flag = userError(() => loadExperiment(fixture('zip.yaml'), { set: ['sweep.zip=[oops'] }));
    expect(flag.message).toContain('--set sweep.zip=[oops: zip groups can only be written in the file');
  });

  it('a problem outside the sweep says which point it is in', () => {
    const err = userError(() => loadExperiment(fixture('bad/bad-sweep-value.yaml'), { set: ['deployment.decode.tp=3', 'sweep.deployment.transport=[efa-libfabric]'] }));
    expect(err.where).toBe('--set deployment.decode.tp=3');
    expect(err.message).toContain('TP 3 does not divide the 8 KV heads');
    expect(err.message).toContain('(sweep point p000: workload.concurrency=1, deployment.transport=efa-libfabric)');
  });

  it('a bad --set path, value or form', () => {
    const path = userError(() => loadExperiment(fixture('minimal.yaml'), { set: ['deployment.prefil.tp=2'] }));
    expect(path.where).toBe('--set deployment.prefil.tp=2');
    expect(path.message).toContain("unknown path 'deployment.prefil.tp'; did you mean 'deployment.prefill.tp'?");
    const value = userError(() => loadExperiment(fixture('minimal.yaml'), { set: ['deployment.prefill.tp=two'] }));
    expect(value.message).toBe("--set deployment.prefill.tp=two: expected a whole number from 1 to 1,024 (GPUs in one tensor-parallel group), got 'two'");
    const form = userError(() => loadExperiment(fixture('minimal.yaml'), { set: ['deployment.prefill.tp'] }));
    expect(form.message).toContain('expected path=value');
    const list = userError(() => loadExperiment(fixture('minimal.yaml'), { set: ['sweep.workload.concurrency=4'] }));
    expect(list.message).toContain('expected a list of values such as [a, b], got 4');
    const seed = userError(() => loadExperiment(fixture('minimal.yaml'), { seed: -1 }));
    expect(seed.message).toBe('--seed -1: expected a whole number >= 0, got -1');
  });

  it('more cases: a misspelt enum value, a missing required field, a bad fault, a file that is not there', () => {
    const mode = userError(() => loadExperiment(fixture('minimal.yaml'), { set: ['deployment.mode=disagg'] }));
    expect(mode.message).toBe("--set deployment.mode=disagg: expected one of 'disaggregated', 'aggregated', got 'disagg'");
    const isl = userError(() => loadExperiment(fixture('minimal.yaml'), { set: ['workload.isl={stddev: 5}'] }));
    expect(isl.message).toContain("workload.isl.mean: missing; expected a whole number >= 1 (required unless workload.kind is 'trace')");
    const fault = userError(() => loadExperiment(fixture('minimal.yaml'), { set: ['faults=[{kind: link_down, at: [5], durationS: 1}]'] }));
    expect(fault.message).toContain('faults[0].target: missing; expected a non-empty string');
    const none = userError(() => loadExperiment(fixture('nope.yaml')));
    expect(none.message).toMatch(/experiment file '.*nope\.yaml' not found/);
  });
});
