import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { nixlsim, nixlsimInProcess, ROOT } from '../helpers/cli.js';

/**
 * Through the binary (a child process): --version, --help, --timeout (its timer ends the process), a reader closing
 * the pipe, and quickstart (npm start). The other command lines run in this process as the binary runs them.
 */
describe('nixlsim binary', () => {
  it('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string };
    const r = nixlsim(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('--help lists the commands', () => {
    const r = nixlsim(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/quickstart/);
  });

  it('an unknown command exits 2 with one clear line and no stack trace', async () => {
    const r = await nixlsimInProcess(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^nixlsim: error: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a bad flag value exits 2 naming the flag', async () => {
    const r = await nixlsimInProcess(['transfer', '--model', 'llama-3.1-8b-instruct', '--tokens', 'lots', '--prefill-tp', '1', '--decode-tp', '1', '--transport', 'tcp']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--tokens must be a whole number/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("flag mistakes are one line in nixlsim's words: a flag given twice, a missing one, an empty number, a missing file argument", async () => {
    const cases: [string[], string][] = [
      [['run', 'experiments/seeds/breakeven.yaml', '--out', '/tmp/a', '--out=/tmp/b'], 'nixlsim: error: --out is given twice (--out /tmp/a, then --out=/tmp/b); give it once'],
      [['breakeven', '--model', 'llama-3.1-8b-instruct'], 'nixlsim: error: missing --transport (usage: nixlsim breakeven [flags]; `nixlsim breakeven --help` lists them)'],
      [['validate'], 'nixlsim: error: this command needs at least 1 file or value argument(s), got 0 (usage: nixlsim validate <files..> [flags]; `nixlsim validate --help` lists them)'],
      [['run', 'experiments/seeds/breakeven.yaml', '--seed', ''], "nixlsim: error: --seed must be a whole number from 0 to 9007199254740991, got ''"],
      [['run', 'experiments/seeds/breakeven.yaml', '--out', ''], "nixlsim: error: --out needs a path, got ''"],
      [['check', '--junit='], "nixlsim: error: --junit needs a path, got ''"],
    ];
    for (const [argv, message] of cases) {
      const r = await nixlsimInProcess(argv);
      expect([r.code, r.stderr.trimEnd()], argv.join(' ')).toEqual([2, message]);
      expect(r.stderr.trimEnd().split('\n'), argv.join(' ')).toHaveLength(1);
    }
    // --set (and --catalog, --kind) are meant to be repeated.
    const twice = await nixlsimInProcess(['run', 'test/fixtures/bad/_ok.yaml', '--set', 'seed=3', '--set', 'workload.requests=4', '--out', mkdtempSync(join(tmpdir(), 'nixlsim-set-')), '--json']);
    expect([twice.code, JSON.parse(twice.stdout).seed]).toEqual([0, 3]);
  });

  it('--timeout stops a long run with exit 2 and writes nothing', () => {
    // 200,000 requests at once take far more than one chunk of 2^18 events; 10 ms is gone before the first ends.
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-timeout-'));
    const file = join(dir, 'burst.yaml');
    writeFileSync(
      file,
      'name: burst\nseed: 1\ndeployment: { mode: aggregated, model: llama-3.1-8b-instruct, node: dgx-h100, connector: any-tp, transport: ib-rdma }\n' +
        'workload: { kind: poisson, rate: 1000000, requests: 200000, isl: { mean: 100 }, osl: { mean: 2 } }\n',
    );
    const r = nixlsim(['run', file, '--out', join(dir, 'out'), '--workers', '1', '--timeout', '0.01']);
    // Stopped by the timer while waiting, or between chunks of events (then the point is named): one line either way.
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^nixlsim: error: (.*point p000: )?--timeout 0\.01: the command ran out of time; nothing was written$/);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('a reader that closes the pipe early ends the command quietly, exit 0', () => {
    const r = spawnSync('bash', ['-c', `node ${ROOT}/bin/nixlsim.js list models --json | head -c 5 > /dev/null; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    expect([r.stdout.trim(), r.stderr]).toEqual(['0', '']);
  });

  it('quickstart (npm start) shows the three seed scenarios and what each one found', async () => {
    const r = nixlsim(['quickstart']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/1\. Long context/);
    expect(r.stdout).toMatch(/120000\s+.*\(fell back\)/); // tcp at 120k: past the abort timeout
    expect(r.stdout).toMatch(/Releasing expired KV blocks/);
    expect(r.stdout).toMatch(/decode-wider-tp\s+0\/5897 completed, 4 decode engines dead/);
    expect(r.stdout).toMatch(/any-tp\s+5897\/5897 completed/);
    expect(r.stdout).toMatch(/3\. Break-even/);
    // The goodput line is `plan` on the same GPUs and length: the same best configurations and numbers.
    const line = /Within .* at ISL 8000 .*: aggregated (.+?) ([\d.]+) req\/s per GPU, disaggregated (.+?) ([\d.]+) req\/s per GPU/.exec(r.stdout);
    expect(line).not.toBeNull();
    const out = mkdtempSync(join(tmpdir(), 'nixlsim-qs-plan-'));
    const p = await nixlsimInProcess([
      'plan', '--model', 'llama-3.1-8b-instruct', '--node', 'p5.48xlarge', '--transport', 'efa-libfabric', '--gpus', '2',
      '--workload', 'experiments/seeds/breakeven.yaml', '--set', 'workload.isl.mean=8000', '--slo', 'ttft_p95_ms<=2000,itl_p95_ms<=50', '--out', out, '--json',
    ]);
    expect(p.code).toBe(0);
    const v = JSON.parse(p.stdout).verdict;
    expect(`aggregated ${line![1]}`).toBe(v.aggregated.label);
    expect(Number(line![2])).toBeCloseTo(v.aggregated.goodputPerGpu, 2);
    expect(`disaggregated ${line![3]}`).toBe(v.disaggregated.label);
    expect(Number(line![4])).toBeCloseTo(v.disaggregated.goodputPerGpu, 2);
  });
});
