import { describe, expect, it } from 'vitest';
import { nixlsimInProcess } from '../helpers/cli.js';

const F = 'test/fixtures/experiments';

describe('nixlsim validate', () => {
  it('prints ok and the point count for each good file, and exits 0', async () => {
    const r = await nixlsimInProcess(['validate', 'experiments/seeds/breakeven.yaml', `${F}/minimal.yaml`, `${F}/zip.yaml`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // breakeven: 8 input lengths x 2 modes; minimal: no sweep; zip.yaml: 3 input lengths x a zip group of 4 transports.
    expect(r.stdout).toBe(`ok experiments/seeds/breakeven.yaml (16 points)\nok ${F}/minimal.yaml (1 point)\nok ${F}/zip.yaml (12 points)\n`);
  });

  it('a directory means its *.yaml files, in name order', async () => {
    const r = await nixlsimInProcess(['validate', 'experiments/seeds']);
    expect(r.code).toBe(0);
    // asymmetric-tp: 2 connectors; breakeven: 8 x 2; long-context: 6 input lengths x a zip group of 4 transports.
    expect(r.stdout).toBe('ok experiments/seeds/asymmetric-tp.yaml (2 points)\nok experiments/seeds/breakeven.yaml (16 points)\nok experiments/seeds/long-context.yaml (24 points)\n');
  });

  it('checks every file, prints every error with its position, then exits 2', async () => {
    const r = await nixlsimInProcess(['validate', `${F}/bad/tp3.yaml`, `${F}/minimal.yaml`, `${F}/bad/unknown-key.yaml`, `${F}/extends/extends-bad-base.yaml`]);
    expect(r.code).toBe(2);
    // The good file after the first bad one is still checked.
    expect(r.stdout).toBe(`ok ${F}/minimal.yaml (1 point)\n`);
    expect(r.stderr.split('\n')).toEqual([
      `nixlsim: error: ${F}/bad/tp3.yaml:8:14 deployment.prefill.tp: TP 3 does not divide the 8 KV heads of 'llama-3.1-8b-instruct'`,
      `nixlsim: error: ${F}/bad/unknown-key.yaml:8:26 deployment.prefill.tpp: unknown key 'tpp'; did you mean 'tp'? Known: workers, tp, node, gpu, kvCacheDtype, dp, ep, pp, allToAll`,
      `nixlsim: error: ${F}/extends/bad-base.yaml:8:14 deployment.prefill.tp: TP 3 does not divide the 8 KV heads of 'llama-3.1-8b-instruct' (reached through extends from ${F}/extends/extends-bad-base.yaml)`,
      '',
    ]);
  });

  it('a missing file is an error like any other; no file at all is a usage error', async () => {
    const r = await nixlsimInProcess(['validate', 'nope.yaml', `${F}/minimal.yaml`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("nixlsim: error: experiment file 'nope.yaml' not found\n");
    expect(r.stdout).toBe(`ok ${F}/minimal.yaml (1 point)\n`);
    const none = await nixlsimInProcess(['validate']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^nixlsim: error: /);
  });

  it('a directory skips _templates, and reports each bad file in it', async () => {
    const r = await nixlsimInProcess(['validate', `${F}/extends`]);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).not.toContain('_template.yaml');
    expect(r.stdout).toContain(`ok ${F}/extends/child.yaml (4 points)`);
    // bad-base, base-sweep-bad, cycle-a, cycle-b, extends-bad-base, extends-typo-base, missing, not-a-string, self,
    // typo-base, zip-over-base.
    expect(r.stderr.trim().split('\n')).toHaveLength(11);
  });
});

describe('nixlsim validate: tensor parallelism across nodes', () => {
  it('accepts TP16 on 8-GPU nodes, with a note that its all-reduces cross the NICs', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const file = join(mkdtempSync(join(tmpdir(), 'nixlsim-tp16-')), 'tp16.yaml');
    writeFileSync(
      file,
      'deployment: { mode: aggregated, model: deepseek-r1-distill-llama-70b, node: dgx-h100, connector: any-tp, transport: ib-rdma, aggregated: { workers: 1, tp: 16 } }\n' +
        'workload: { kind: closed-loop, isl: { mean: 1000 }, osl: { mean: 50 } }\n',
    );
    const r = await nixlsimInProcess(['validate', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok .*tp16\.yaml \(1 point\)$/m);
    // DGX H100: 8 x 400 Gb/s NICs over 8 GPUs = 50 GB/s a GPU.
    expect(r.stderr).toMatch(/nixlsim: note: .*tp16\.yaml: point p000: aggregated TP16 spans 2 nodes of 8 GPUs \(dgx-h100\): .*at 50 GB\/s a GPU instead of NVLink/);
  });
});
