import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultBaselines } from '../../src/run/check.js';
import { type CliResult, nixlsimInProcess, ROOT } from '../helpers/cli.js';

/**
 * The user's own catalog (--catalog DIR, NIXLSIM_CATALOG) and outputs under the working directory, run from a fresh
 * temporary directory, as a user with nixlsim installed elsewhere would run it: the first run through the built CLI,
 * the other command lines in this process as the binary runs them. Nothing here writes into the package: its reports/
 * and models/ are compared before and after.
 */
const BIN = join(ROOT, 'bin', 'nixlsim.js');

/** The built CLI as a child process, from cwd, without the caller's NIXLSIM_CATALOG. */
function runBinary(args: string[], cwd: string): CliResult {
  const base: NodeJS.ProcessEnv = { ...process.env, CI: 'true' };
  delete base['NIXLSIM_CATALOG'];
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: base });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A command line in this process, from cwd, with NIXLSIM_CATALOG only as env gives it. */
function run(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  return nixlsimInProcess(args, { cwd, env: { NIXLSIM_CATALOG: undefined, ...env } });
}

/** Every file under dir: nothing added to the package's reports/ and models/ (other engineers may regenerate files in place). */
function snapshot(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((f) => {
      const st = statSync(join(dir, f));
      return `${f} ${st.isDirectory() ? 'dir' : 'file'}`;
    });
}

// realpath: on macOS the temporary directory is a symlink, and the CLI prints paths under the real one.
const tmp = () => realpathSync(mkdtempSync(join(tmpdir(), 'nixlsim-usercat-')));

/**
 * A made-up small model. KV bytes per token, worked out by hand: 2 (K and V) x 4 layers x 4 KV heads x 64 head dim x
 * 2 bytes (bf16) = 4,096. kvHeads is on line 8 of the file.
 */
const TINY_LM = `id: tiny-lm
name: Tiny LM (made up for a test)
hfRepo: example/tiny-lm
attention: gqa
layers: 4
hiddenSize: 1024
heads: 16
kvHeads: 4
headDim: 64
intermediateSize: 2816
vocabSize: 32000
paramsB: 0.5
activeParamsB: 0.5
weightDtype: bf16
kvDtype: bf16
maxContext: 32768
sources:
  layers: "made up for a test"
  hiddenSize: "made up for a test"
  heads: "made up for a test"
  kvHeads: "made up for a test"
  headDim: "made up for a test"
  intermediateSize: "made up for a test"
  vocabSize: "made up for a test"
  paramsB: "made up for a test"
  activeParamsB: "made up for a test"
  maxContext: "made up for a test"
`;

/** Two points of a disaggregated TP1/TP1 deployment of tiny-lm, 10 requests each. */
const EXPERIMENT = `name: tiny-user
seed: 1
deployment:
  mode: disaggregated
  model: tiny-lm
  node: p5.48xlarge
  connector: any-tp
  transport: efa-libfabric
workload:
  kind: closed-loop
  concurrency: 2
  requests: 10
  isl: { mean: 1000 }
  osl: { mean: 10 }
sweep:
  workload.isl.mean: [1000, 2000]
`;

function catalogWith(files: Record<string, string>): string {
  const dir = tmp();
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const packageFile = (kind: string, id: string) => readFileSync(join(ROOT, 'models', kind, `${id}.yaml`), 'utf8');
const line = (out: string, id: string) => out.split('\n').find((l) => l.startsWith(`${id} `)) ?? '';

describe('a user catalog and outputs under the working directory', () => {
  const reportsBefore = snapshot(join(ROOT, 'reports'));
  const modelsBefore = snapshot(join(ROOT, 'models'));
  let cwd: string;
  let cat: string;
  let runResult: CliResult;

  beforeAll(() => {
    cwd = tmp();
    cat = catalogWith({ 'llm/tiny-lm.yaml': TINY_LM });
    writeFileSync(join(cwd, 'tiny.yaml'), EXPERIMENT);
    // Two worker threads for two points: the threads must simulate the user's catalog, not load the package's.
    runResult = runBinary(['run', 'tiny.yaml', '--catalog', cat, '--workers', '2'], cwd);
  });

  it('run simulates a model of the user catalog on worker threads and writes ./reports/<name>/ under the working directory', () => {
    expect(runResult.stderr).toBe('');
    expect(runResult.code).toBe(0);
    const summaryFile = join(cwd, 'reports', 'tiny-user', 'summary.json');
    expect(existsSync(summaryFile)).toBe(true);
    expect(existsSync(join(cwd, 'reports', 'tiny-user', 'events.log'))).toBe(true);
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as { experiment: string; points: { params: Record<string, number>; requests: { completed: number } }[] };
    expect(summary.experiment).toBe('tiny-user');
    // The sweep's two input lengths, each with the workload's 10 requests, all completed (no faults).
    expect(summary.points.map((p) => p.params['workload.isl.mean'])).toEqual([1000, 2000]);
    expect(summary.points.map((p) => p.requests.completed)).toEqual([10, 10]);
    // Nothing went to the package.
    expect(existsSync(join(ROOT, 'reports', 'tiny-user'))).toBe(false);
  });

  it('transfer works out the KV of the new model', async () => {
    const r = await run(['transfer', '--catalog', cat, '--model', 'tiny-lm', '--tokens', '1000', '--prefill-tp', '1', '--decode-tp', '1', '--transport', 'ib-rdma', '--json'], cwd);
    expect(r.code).toBe(0);
    const t = JSON.parse(r.stdout) as { bytesTotal: number; reads: number; descriptors: number };
    // 1000 tokens fill ceil(1000 / 16) = 63 blocks of 16 tokens = 1008 token slots, x 4,096 B = 4,128,768 B, read
    // by the one decode rank from the one prefill rank; a descriptor per block, layer and K/V: 63 x 4 x 2 = 504.
    expect(t.bytesTotal).toBe(4_128_768);
    expect(t.reads).toBe(1);
    expect(t.descriptors).toBe(504);
  });

  it('list shows the user record and where it came from', async () => {
    const r = await run(['list', 'models', '--catalog', cat], cwd);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/\sorigin$/);
    expect(line(r.stdout, 'tiny-lm')).toMatch(/gqa\s+4\s+4\s+64\s+4,096\s+32,768\s+0\.5B\s+-\s+bf16\s+bf16\s+/);
    expect(line(r.stdout, 'tiny-lm').endsWith(join(cat, 'llm', 'tiny-lm.yaml'))).toBe(true);
    expect(line(r.stdout, 'llama-3.1-8b-instruct')).toMatch(/\spackage$/);
    const json = JSON.parse((await run(['list', 'models', '--json', '--catalog', cat], cwd)).stdout) as { id: string; origin: { layer: string } }[];
    expect(json.find((m) => m.id === 'tiny-lm')!.origin.layer).toBe('user');
    expect(json.find((m) => m.id === 'qwen3-8b')!.origin.layer).toBe('package');
  });

  it('without a user catalog, list has no origin column and the model is unknown (exit 2)', async () => {
    expect((await run(['list', 'models'], cwd)).stdout.split('\n')[0]).not.toMatch(/origin/);
    const r = await run(['transfer', '--model', 'tiny-lm', '--tokens', '1000', '--prefill-tp', '1', '--decode-tp', '1', '--transport', 'ib-rdma'], cwd);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown model 'tiny-lm'/);
  });

  it('a user record with a package id overrides it, in list and in the simulation', async () => {
    // Llama-3.1-8B with an FP8 KV cache: 2 x 32 layers x 8 KV heads x 128 x 1 byte = 65,536 B a token, half the package's.
    const over = catalogWith({ 'llm/llama-3.1-8b-instruct.yaml': packageFile('llm', 'llama-3.1-8b-instruct').replace(/^kvDtype: bf16$/m, 'kvDtype: fp8') });
    const l = await run(['list', 'models', '--catalog', over], cwd);
    expect(l.code).toBe(0);
    expect(line(l.stdout, 'llama-3.1-8b-instruct')).toMatch(/65,536 .*fp8\s+.*\(overrides package\)$/);
    const args = ['transfer', '--model', 'llama-3.1-8b-instruct', '--tokens', '1000', '--prefill-tp', '1', '--decode-tp', '1', '--transport', 'ib-rdma', '--json'];
    // 63 blocks x 16 = 1008 token slots: x 131,072 B (package) and x 65,536 B (the override).
    expect((JSON.parse((await run(args, cwd)).stdout) as { bytesTotal: number }).bytesTotal).toBe(132_120_576);
    expect((JSON.parse((await run([...args, '--catalog', over], cwd)).stdout) as { bytesTotal: number }).bytesTotal).toBe(66_060_288);
  });

  it('a user node may name a package GPU; a node naming a GPU in neither catalog is exit 2 at its file and line', async () => {
    const node = packageFile('node', 'dgx-h100').replace(/^id: .*$/m, 'id: my-node');
    const ok = await run(['list', 'nodes', '--catalog', catalogWith({ 'node/my-node.yaml': node })], cwd);
    expect(ok.code).toBe(0);
    expect(line(ok.stdout, 'my-node')).toMatch(/^my-node\s+h100-sxm\s+8\s/);
    const bad = catalogWith({ 'node/my-node.yaml': node.replace(/^gpu: h100-sxm$/m, 'gpu: h100-sxn') });
    const gpuLine = node.split('\n').findIndex((l) => l.startsWith('gpu:')) + 1;
    const r = await run(['list', 'nodes', '--catalog', bad], cwd);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`nixlsim: error: ${join(bad, 'node', 'my-node.yaml')}:${gpuLine}:1 gpu: unknown gpu 'h100-sxn'; did you mean 'h100-sxm'? Known: ${r.stderr.split('Known: ')[1]}`);
  });

  it('an invalid user record is exit 2 naming the file, line and field, with no stack trace', async () => {
    const bad = catalogWith({ 'llm/tiny-lm.yaml': TINY_LM.replace('kvHeads: 4', 'kvHeads: 3') });
    const r = await run(['list', 'models', '--catalog', bad], cwd);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`nixlsim: error: ${join(bad, 'llm', 'tiny-lm.yaml')}:8:1 kvHeads: kvHeads (3) must divide heads (16)\n`);
    // The source-per-number rule holds for user records too: layers (line 5) without a source.
    const unsourced = catalogWith({ 'llm/tiny-lm.yaml': TINY_LM.replace('  layers: "made up for a test"\n', '') });
    const u = await run(['run', 'tiny.yaml', '--catalog', unsourced], cwd);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(new RegExp(`^nixlsim: error: ${join(unsourced, 'llm', 'tiny-lm.yaml').replace(/[.]/g, '\\.')}:5:\\d+ layers: has no source`));
    expect(u.stderr).not.toMatch(/\n\s+at /);
  });

  it('a missing --catalog directory, or a file, is one clear error (exit 2)', async () => {
    const missing = join(cwd, 'no-such-catalog');
    const r = await run(['list', 'models', '--catalog', missing], cwd);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`nixlsim: error: user catalog directory '${missing}' not found; give a directory laid out like the package's models/: llm/, gpu/, node/, transport/, connector/, all-to-all/\n`);
    const f = await run(['list', 'models', '--catalog', 'tiny.yaml'], cwd);
    expect(f.code).toBe(2);
    expect(f.stderr).toMatch(/^nixlsim: error: user catalog 'tiny\.yaml' is not a directory/);
    const kindDir = await run(['list', 'models', '--catalog', join(cat, 'llm')], cwd);
    expect(kindDir.code).toBe(2);
    expect(kindDir.stderr).toMatch(/is not a catalog directory: .*give its parent/);
  });

  it('NIXLSIM_CATALOG is honoured, may name several directories, and --catalog wins over it', async () => {
    const args = ['transfer', '--model', 'tiny-lm', '--tokens', '1000', '--prefill-tp', '1', '--decode-tp', '1', '--transport', 'ib-rdma', '--json'];
    const env = await run(args, cwd, { NIXLSIM_CATALOG: cat });
    expect(env.code).toBe(0);
    expect((JSON.parse(env.stdout) as { bytesTotal: number }).bytesTotal).toBe(4_128_768);
    const gpuCat = catalogWith({ 'gpu/h100-sxm.yaml': packageFile('gpu', 'h100-sxm').replace(/^hbmGB: 80$/m, 'hbmGB: 96') });
    const both = await run(['list', 'gpus'], cwd, { NIXLSIM_CATALOG: [cat, gpuCat].join(delimiter) });
    expect(both.code).toBe(0);
    expect(line(both.stdout, 'h100-sxm')).toMatch(/^h100-sxm\s+989\s+1979\s+96\s+3\.35\s.*\(overrides package\)$/);
    // The flag wins: the variable's directory is missing, and not looked at.
    const flag = await run(args.concat('--catalog', cat), cwd, { NIXLSIM_CATALOG: join(cwd, 'missing') });
    expect(flag.code).toBe(0);
    // Two user catalogs may not both define an id.
    const twice = await run(['list', 'models', '--catalog', cat, '--catalog', catalogWith({ 'llm/tiny-lm.yaml': TINY_LM })], cwd);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/tiny-lm\.yaml:1:1 id: llm 'tiny-lm' is also defined in /);
  });

  it('calibrate writes into the --catalog directory, or ./nixlsim-catalog/, never into the package', async () => {
    const bench = join(ROOT, 'experiments', 'measurements', 'nixlbench-pr115.txt');
    const into = join(tmp(), 'site-catalog'); // not there yet: calibrate makes it
    const r = await run(['calibrate', bench, '--transport', 'nvlink', '--catalog', into], cwd);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const file = join(into, 'transport', 'nvlink-calibrated.yaml');
    expect(readFileSync(file, 'utf8')).toMatch(/^calibratedFrom: nvlink$/m);
    expect(r.stdout).toContain(`--catalog ${into}`);
    // The record loads as part of that catalog.
    const l = await run(['list', 'transports', '--catalog', into], cwd);
    expect(l.code).toBe(0);
    expect(line(l.stdout, 'nvlink-calibrated').endsWith(file)).toBe(true);
    // Without --catalog: under the working directory.
    const d = await run(['calibrate', bench, '--transport', 'nvlink'], cwd);
    expect(d.code).toBe(0);
    expect(existsSync(join(cwd, 'nixlsim-catalog', 'transport', 'nvlink-calibrated.yaml'))).toBe(true);
    expect(d.stdout).toContain('--catalog nixlsim-catalog');
    // An explicit --transport-out still decides.
    const out = join(tmp(), 'nv.yaml');
    expect((await run(['calibrate', bench, '--transport', 'nvlink', '--transport-out', out], cwd)).code).toBe(0);
    expect(existsSync(out)).toBe(true);
  });

  it('the package reports/ and models/ are untouched', () => {
    expect(snapshot(join(ROOT, 'reports'))).toEqual(reportsBefore);
    expect(snapshot(join(ROOT, 'models')).filter((f) => f.includes('calibrated'))).toEqual(modelsBefore.filter((f) => f.includes('calibrated')));
  });
});

describe("check's default baselines", () => {
  it("are the package's for its own experiments, from any directory, and ./reports/baselines/ for the user's", () => {
    const seeds = ['long-context', 'breakeven'].map((n) => join(ROOT, 'experiments', 'seeds', `${n}.yaml`));
    expect(defaultBaselines(seeds)).toBe(join(ROOT, 'reports', 'baselines'));
    expect(defaultBaselines([join(tmpdir(), 'mine.yaml')])).toBe(join(process.cwd(), 'reports', 'baselines'));
    // One of the user's among the package's: all of them are kept with the user's.
    expect(defaultBaselines([...seeds, join(tmpdir(), 'mine.yaml')])).toBe(join(process.cwd(), 'reports', 'baselines'));
  });
});
