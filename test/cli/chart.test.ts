import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { afterAll, describe, expect, it } from 'vitest';
import { plan } from '../../src/plan/planner.js';
import { breakevenCommand, breakevenTable, parseIslList, runBreakeven } from '../../src/cli/commands/breakeven.js';
import { chartCommand, chartFiles, readSummary } from '../../src/cli/commands/chart.js';
import { UserError } from '../../src/errors.js';
import { nixlsim, nixlsimInProcess } from '../helpers/cli.js';

/** Parses a command line with the command's real builder; the handler only records what it was given. */
async function parse(command: typeof chartCommand | typeof breakevenCommand, argv: string[]): Promise<Record<string, unknown>> {
  let got: Record<string, unknown> = {};
  await yargs(argv)
    .command({ ...(command as typeof chartCommand), handler: (a) => void (got = a as unknown as Record<string, unknown>) })
    .strict()
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .parseAsync();
  return got;
}

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'nixlsim-chart-cli-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('breakeven --isl', () => {
  it('start:end:step includes the end when the steps land on it, and a comma list is sorted', () => {
    expect(parseIslList('1000:8000:1000')).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000]);
    expect(parseIslList('1000:2500:1000')).toEqual([1000, 2000]);
    expect(parseIslList('4000:4000:1')).toEqual([4000]);
    expect(parseIslList('8000, 1000,4000')).toEqual([1000, 4000, 8000]);
    expect(parseIslList('512')).toEqual([512]);
  });

  it('nonsense is a UserError naming --isl', () => {
    for (const bad of ['', '1000:8000', '1000:8000:0', '8000:1000:1000', 'a:b:c', '1000:8000:1000:1', '1,,2', '1,1', '0,5', '1.5', '-1', '1:1000000:1']) {
      expect(() => parseIslList(bad), bad).toThrow(UserError);
      expect(() => parseIslList(bad), bad).toThrow(/--isl/);
    }
  });

  it('flags: defaults mirror seed 002, --isl parses through the builder', async () => {
    const a = await parse(breakevenCommand, ['breakeven', '--model', 'llama-3.1-8b-instruct', '--transport', 'efa-libfabric']);
    expect([a['isl'], a['osl'], a['concurrency'], a['requests'], a['tp']]).toEqual([[1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000], 50, 10, 100, 1]);
    const b = await parse(breakevenCommand, ['breakeven', '--model', 'm', '--transport', 't', '--isl', '2000,1000']);
    expect(b['isl']).toEqual([1000, 2000]);
    await expect(parse(breakevenCommand, ['breakeven', '--model', 'm', '--transport', 't', '--isl', '5:1:1'])).rejects.toThrow(/--isl: end 1 is below start 5/);
  });

  it('the table has output tok/s per GPU, the gain in percent with its sign, and TTFT and ITL p95', () => {
    const row = (isl: number, aggTokS: number, disaggTokS: number) => ({
      isl,
      group: '',
      aggTokS,
      disaggTokS,
      aggItlMs: 20,
      disaggItlMs: 15,
      throughputRatio: disaggTokS / aggTokS,
      itlRatio: 0.75,
      aggTtftP50Ms: 100,
      aggTtftP95Ms: 150,
      disaggTtftP50Ms: 200,
      disaggTtftP95Ms: 300,
      aggItlP95Ms: 25,
      disaggItlP95Ms: 16,
    });
    // Two GPUs a mode: 500 tok/s is 250 a GPU.
    const lines = breakevenTable([row(1000, 500, 480), row(2000, 400, 450)], { aggregated: 2, disaggregated: 2 });
    expect(lines[0]).toMatch(/ISL\s+agg tok\/s\/GPU\s+disagg tok\/s\/GPU\s+gain %\s+TTFT p95 agg ms\s+TTFT p95 disagg ms\s+ITL p95 agg ms\s+ITL p95 disagg ms/);
    expect(lines[1]).toMatch(/1000\s+250\.0\s+240\.0\s+-4\.0\s+150\s+300\s+25\.00\s+16\.00/);
    expect(lines[2]).toMatch(/2000\s+200\.0\s+225\.0\s+\+12\.5/);
  });
});

describe('nixlsim breakeven', () => {
  it('runs aggregated against disaggregated by ISL at equal GPU counts, writes summary.json and the chart', async () => {
    const out = tmp();
    const base = { model: 'llama-3.1-8b-instruct', transport: 'efa-libfabric', osl: 50, concurrency: 10, requests: 20, warmup: 2, seed: 2, out };
    const r = await runBreakeven({ ...base, isl: [1000, 6000] });
    expect(r.node).toBe('p5.48xlarge');
    expect(r.rows.map((x) => x.isl)).toEqual([1000, 6000]);
    // Two aggregated TP1 workers against one TP1 prefill and one TP1 decode worker: 2 GPUs each.
    expect(readSummary(out).points.filter((p) => p.params['deployment.mode'] === 'aggregated').every((p) => Object.keys(p.utilisation.workers).length === 2)).toBe(true);
    expect(r.crossover).toBe(r.rows.find((x) => x.disaggTokS > x.aggTokS)?.isl ?? null);
    expect(r.files.map((f) => f.slice(out.length + 1))).toEqual(['breakeven.vl.json', 'breakeven.svg', 'breakeven.png']);
    expect(readSummary(out).points).toHaveLength(4);
    await expect(runBreakeven({ ...base, isl: [1000], transport: 'ib-rdma', node: 'p5.48xlarge' })).rejects.toThrow(/does not offer transport 'ib-rdma'/);
    // A problem the experiment loader finds names the flags, not a temporary file.
    const err = (await runBreakeven({ ...base, isl: [200_000] }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/^breakeven experiment sweep\.workload\.isl\.mean\[0\]: .*maxContext.*\(from --model llama-3\.1-8b-instruct/);
  });

  it('--slo adds each mode\'s goodput per GPU at each ISL, the same as plan on those GPUs and lengths', async () => {
    const out = tmp();
    const slo = 'ttft_p95_ms<=2000,itl_p95_ms<=50';
    const base = { model: 'llama-3.1-8b-instruct', transport: 'efa-libfabric', osl: 50, concurrency: 10, requests: 20, warmup: 2, seed: 2, out, isl: [8000] };
    const r = await runBreakeven({ ...base, slo });
    // 2 GPUs: aggregated 2 x TP1 or 1 x TP2, disaggregated 1P + 1D.
    const g = r.goodput![0]!;
    expect(g.disaggregated!.label).toBe('disaggregated 1P x TP1 + 1D x TP1');
    expect(r.rows[0]!.aggGoodputPerGpu).toBe(g.aggregated!.goodputPerGpu);
    const wl = join(tmp(), 'w.yaml');
    writeFileSync(
      wl,
      'name: w\nseed: 2\ndeployment: { mode: aggregated, model: llama-3.1-8b-instruct, node: p5.48xlarge, connector: any-tp, transport: efa-libfabric }\n' +
        'workload: { kind: poisson, rate: 1, requests: 1, isl: { mean: 8000, stddev: 0 }, osl: { mean: 50, stddev: 0 } }\n',
    );
    const p = await plan({ model: base.model, node: 'p5.48xlarge', transport: base.transport, gpus: 2, slo, out: join(tmp(), 'plan'), workload: wl });
    expect(p.plan.verdict.aggregated!.goodputPerGpu).toBe(g.aggregated!.goodputPerGpu);
    expect(p.plan.verdict.disaggregated!.goodputPerGpu).toBe(g.disaggregated!.goodputPerGpu);
    await expect(runBreakeven({ ...base, out: tmp(), gpus: 8 })).rejects.toThrow(/--gpus sizes the goodput comparison, which needs --slo/);
  });
});

describe('nixlsim chart', () => {
  it('a missing, unreadable or foreign file is a UserError naming the file', () => {
    const d = tmp();
    expect(() => readSummary(join(d, 'nope.json'))).toThrow(/summary file '.*nope\.json' not found/);
    writeFileSync(join(d, 'bad.json'), '{ not json');
    expect(() => readSummary(join(d, 'bad.json'))).toThrow(/bad\.json:1:\d+ .*not valid JSON/);
    writeFileSync(join(d, 'other.json'), '{"schemaVersion": 1, "experiment": "x", "points": [{"id": "p0"}]}');
    expect(() => readSummary(join(d, 'other.json'))).toThrow(/other\.json:1:\d+ points\[0\]\.params: missing; expected a JSON object/);
    expect(() => readSummary(d)).toThrow(/is a directory without a summary\.json/);
    for (const f of ['nope.json', 'bad.json', 'other.json']) expect(() => readSummary(join(d, f))).toThrow(UserError);
  });

  it('--kind takes known kinds only; without a summary only tp-matrix and transfer-curve', async () => {
    const a = await parse(chartCommand, ['chart', 's.json', '--kind', 'ttft-cdf', '--kind', 'breakeven,ttft-cdf']);
    expect(a['kind']).toEqual(['ttft-cdf', 'breakeven']);
    await expect(parse(chartCommand, ['chart', 's.json', '--kind', 'pie'])).rejects.toThrow(/--kind must be one of/);
    await expect(chartFiles({ kind: ['ttft-cdf'] })).rejects.toThrow(/only `--kind tp-matrix` and `--kind transfer-curve` work without one/);
    await expect(chartFiles({})).rejects.toThrow(UserError);
  });

  it('charts a summary into its own directory by default (a report directory works too)', async () => {
    const d = tmp();
    const p = (id: string, mode: string, isl: number, tokS: number) => ({
      id,
      params: { 'workload.isl.mean': isl, 'deployment.mode': mode },
      requests: { total: 1, completed: 1, failed: 0, fellBack: 0, inFlight: 0, stale: 0 },
      ttftMs: { mean: 10, p50: 10, p90: 10, p95: 10, p99: 10, min: 10, max: 10 },
      itlMs: { mean: 5, p50: 5, p90: 5, p95: 5, p99: 5, min: 5, max: 5 },
      kvTransfer: { bytesMean: 0, ms: { mean: 0 }, effectiveGBps: 0 },
      throughput: { outputTokensPerS: tokS, requestsPerS: 1 },
    });
    const s = { schemaVersion: 1, experiment: 'tiny', seed: 0, points: [p('p0', 'aggregated', 1000, 10), p('p1', 'disaggregated', 1000, 12)] };
    writeFileSync(join(d, 'summary.json'), JSON.stringify(s));
    const { files, skipped } = await chartFiles({ summary: d, kind: ['breakeven', 'kv-transfer'] });
    expect(files.map((f) => f.slice(d.length + 1))).toEqual(['breakeven.vl.json', 'breakeven.svg', 'breakeven.png']);
    expect(skipped).toEqual([expect.stringMatching(/no data for kv-transfer/)]);
  });

  it('--kind tp-matrix --out dir works without a summary', async () => {
    const d = tmp();
    const { files } = await chartFiles({ kind: ['tp-matrix'], out: d });
    expect(files.map((f) => f.slice(d.length + 1))).toEqual(['tp-matrix.vl.json', 'tp-matrix.svg', 'tp-matrix.png']);
    expect(readFileSync(join(d, 'tp-matrix.vl.json'), 'utf8')).toContain('decode-wider-tp');
  });

  // Runs once `chart` is registered in src/cli/main.ts: the real binary, exit codes and all.
  const registered = nixlsim(['--help']).stdout.includes('chart');
  it.skipIf(!registered)('the CLI: a missing summary exits 2 with one line naming the file', () => {
    const r = nixlsim(['chart', 'no/such/summary.json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no\/such\/summary\.json' not found/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('nixlsim breakeven --json (contract)', () => {
  it('{model, transport, gpus, points: [{isl, aggregated, disaggregated}], crossovers: [{metric, isl, direction}]}', async () => {
    const out = tmp();
    const r = await nixlsimInProcess(['breakeven', '--model', 'llama-3.1-8b-instruct', '--transport', 'efa-libfabric', '--isl', '1000,8000', '--requests', '10', '--warmup', '1', '--out', out, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown> & { points: { isl: number; aggregated: Record<string, number>; disaggregated: Record<string, number> }[]; crossovers: unknown[] };
    expect(Object.keys(j)).toEqual(['model', 'transport', 'node', 'gpus', 'points', 'crossovers', 'files']);
    expect(j['gpus']).toEqual({ aggregated: 2, disaggregated: 2 });
    expect(j.points.map((p) => p.isl)).toEqual([1000, 8000]);
    for (const p of j.points) {
      for (const side of [p.aggregated, p.disaggregated]) {
        expect(Object.keys(side)).toEqual(['outputTokensPerS', 'outputTokensPerSPerGpu', 'ttftP50Ms', 'ttftP95Ms', 'itlMeanMs', 'itlP95Ms']);
        expect(side['outputTokensPerSPerGpu']).toBeCloseTo(side['outputTokensPerS']! / 2, 9); // 2 GPUs a mode
      }
    }
    expect(Array.isArray(j.crossovers)).toBe(true);
  });
});
