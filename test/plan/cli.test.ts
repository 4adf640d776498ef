import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nixlsimInProcess } from '../helpers/cli.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'nixlsim-plan-cli-'));

/** A small real plan: Llama-3.1-8B on 2 H100s over InfiniBand, 500-token prompts, probes of 2 s (at least 30 requests). */
const args = (out: string, more: string[] = []) => [
  'plan',
  '--model', 'llama-3.1-8b-instruct',
  '--node', 'dgx-h100',
  '--transport', 'ib-rdma',
  '--gpus', '2',
  '--workload', 'test/fixtures/plan/short-prompts.yaml',
  '--slo', 'ttft_p95_ms<=300',
  '--requests', '30',
  '--warmup', '3',
  '--window', '2',
  '--precision', '0.25',
  '--out', out,
  ...more,
];

describe('nixlsim plan, end to end on the real simulator', () => {
  it('writes the plan, the report, the Pareto chart and a recommended.yaml that `run` reproduces; a rerun simulates nothing', async () => {
    const out = tmp();
    const r = await nixlsimInProcess(args(out, ['--json']));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['launch.sh', 'pareto.png', 'pareto.svg', 'pareto.vl.json', 'plan.json', 'probes', 'recommended.yaml', 'report.html', 'report.md']);
    const text = readFileSync(join(out, 'plan.json'), 'utf8');
    expect(r.stdout).toBe(text);
    const plan = JSON.parse(text);

    // 2 GPUs allow 2 x TP1 and 1 x TP2 aggregated, and 1P TP1 + 1D TP1 disaggregated; InfiniBand works within a node.
    expect(plan.ranked.map((e: { id: string }) => e.id).sort()).toEqual(['agg-1xtp2', 'agg-2xtp1', 'disagg-1xtp1-1xtp1']);
    expect(plan.pruned).toEqual([]);
    for (const e of plan.ranked) {
      expect(Object.keys(e)).toEqual(expect.arrayContaining(['deployment', 'maxRate', 'goodputPerGpu', 'ttftP95Ms', 'itlP95Ms']));
      expect(e.goodputPerGpu).toBeCloseTo(e.maxRate / 2, 6);
      if (e.meetsSlo) expect(e.ttftP95Ms).toBeLessThanOrEqual(300);
    }
    expect(plan.ranked.find((e: { id: string }) => e.id === 'disagg-1xtp1-1xtp1').deployment.placement).toBe('same-node');
    const top = plan.ranked[0];
    expect(plan.recommended).toEqual({ ...top.deployment, maxRate: top.maxRate, goodputPerGpu: top.goodputPerGpu });
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/## Verdict[\s\S]*## Why this ranking[\s\S]*## Ranked configurations[\s\S]*## Pruned \(0\)/);
    expect(JSON.parse(readFileSync(join(out, 'pareto.vl.json'), 'utf8')).$schema).toMatch(/vega-lite/);

    // recommended.yaml validates and, run, is the probe at the maximum rate again: the same TTFT p95.
    const rec = join(out, 'recommended.yaml');
    expect((await nixlsimInProcess(['validate', rec])).code).toBe(0);
    const run = await nixlsimInProcess(['run', rec, '--out', join(tmp(), 'run'), '--json']);
    expect(run.code).toBe(0);
    const point = JSON.parse(run.stdout).points[0];
    expect(point.requests.failed).toBe(0);
    expect(Math.round(point.ttftMs.p95 * 1000) / 1000).toBe(top.ttftP95Ms);

    // The rerun finds every probe in out/probes and writes the same plan.json.
    const again = await nixlsimInProcess(args(out));
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/\d+ probes \(0 simulated, \d+ reused from /);
    expect(readFileSync(join(out, 'plan.json'), 'utf8')).toBe(text);

    // The printed ranking: every rate with the decimals that give the largest 4 significant digits, every rate per
    // GPU with those that give the largest 3.
    const largest = Math.max(...plan.ranked.map((e: { maxRate: number; meetsSlo: boolean }) => (e.meetsSlo ? e.maxRate : 0)));
    const largestPerGpu = Math.max(...plan.ranked.map((e: { goodputPerGpu: number }) => e.goodputPerGpu));
    const decimals = (sig: number, x: number) => Math.max(0, sig - 1 - Math.floor(Math.log10(x)));
    const rows = again.stdout.split('\n').filter((l) => /^\s*\d+\s+(agg|disagg)\s/.test(l));
    expect(rows).toHaveLength(3);
    for (const [k, line] of rows.entries()) {
      const e = plan.ranked[k];
      const [rate, perGpu] = line.trim().split(/\s{2,}/).slice(4, 6);
      expect(rate).toBe((e.meetsSlo ? e.maxRate : 0).toFixed(decimals(4, largest)));
      expect(perGpu).toBe(e.goodputPerGpu.toFixed(decimals(3, largestPerGpu)));
    }
  });

  it('a bad SLO exits 2 naming the flag and the term, and writes nothing', async () => {
    const out = join(tmp(), 'never');
    const r = await nixlsimInProcess(args(out).map((a) => (a === 'ttft_p95_ms<=300' ? 'ttft_p95_ms<=300,itl_p95_sm<=50' : a)));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("nixlsim: error: --slo: 'itl_p95_sm<=50': expected <metric>_<stat>_ms<=<value> with metric ttft|itl|e2e and stat p50|p90|p95|p99|mean, e.g. ttft_p95_ms<=2000\n");
    expect(existsSync(out)).toBe(false);
  });
});
