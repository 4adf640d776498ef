import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricProblem } from '../../src/experiment/check.js';
import { loadExperiment, type Expectation } from '../../src/experiment/load.js';
import { baselineOf, compareWithBaseline, compareWithExpectations } from '../../src/report/baseline.js';
import { pointsCsv } from '../../src/report/points-csv.js';
import { autoscaleTable, runReportFiles } from '../../src/report/run-table.js';
import type { AutoscaleResult, Point } from '../../src/spec/experiment.js';
import { buildSummary, type Summary } from '../../src/spec/summary.js';
import { fakeResult, userError } from './helpers.js';

/** An autoscaled point's section: 90 of 120 ended requests within the SLO (0.75), 3.5 GPU-hours, 3 prefill and 2 decode at most. */
const AUTOSCALE: AutoscaleResult = {
  target: 'throughput',
  gpuHours: 3.5,
  slo: { ttftMs: 500, itlMs: 50 },
  sloAttainment: 0.75,
  metSlo: 90,
  ended: 120,
  scaleUps: 3,
  scaleDowns: 2,
  peakWorkers: { prefill: 3, decode: 2 },
  series: [{ tS: 60, rate: 2, workers: { prefill: 1, decode: 1 }, ttftP95Ms: 80, completed: 120 }],
};

/** Points at isl 1000 and 8000 from the fake simulator, with `autoscale` as given (none: a fixed fleet). */
function summary(autoscale: (AutoscaleResult | undefined)[]): Summary {
  const results = autoscale.map((a, i) => {
    const isl = [1000, 8000][i]!;
    const point: Point = { id: `p00${i}`, params: { 'workload.isl.mean': isl }, experiment: { workload: { isl: { mean: isl } } } as Point['experiment'] };
    return { ...fakeResult(point), ...(a ? { autoscale: a } : {}) };
  });
  return buildSummary('scaled', 1, results);
}

const EXPERIMENT = `name: scaled
deployment:
  mode: disaggregated
  model: llama-3.1-8b-instruct
  node: dgx-h100
  connector: any-tp
  transport: ib-rdma
workload:
  kind: poisson
  rate: 4
  isl: { mean: 1000 }
  osl: { mean: 100 }
`;

function write(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'nixlsim-autoscale-')), 'scaled.yaml');
  writeFileSync(file, text);
  return file;
}

const EXPECT_GPU_HOURS = `expect:
  - metric: autoscale.gpuHours
    value: 3.6
    tolerance: { relative: 0.05 }
    source: a run on the cluster
`;

describe('autoscale metrics', () => {
  it('are metric names: the headline numbers and peakWorkers by role; not the SLO (an input) or the series', () => {
    for (const m of ['autoscale.gpuHours', 'autoscale.sloAttainment', 'autoscale.metSlo', 'autoscale.ended', 'autoscale.scaleUps', 'autoscale.scaleDowns', 'autoscale.peakWorkers.decode']) {
      expect(metricProblem(m)).toBeUndefined();
    }
    expect(metricProblem('autoscale.gpuHour')).toBe("unknown metric 'autoscale.gpuHour'; did you mean 'autoscale.gpuHours'?");
    expect(metricProblem('autoscale')).toBe(
      "'autoscale' is a group of metrics; name one of autoscale.gpuHours, autoscale.sloAttainment, autoscale.metSlo, autoscale.ended, autoscale.scaleUps, autoscale.scaleDowns, autoscale.peakWorkers",
    );
    expect(metricProblem('autoscale.slo.ttftMs')).toMatch(/^unknown metric 'autoscale\.slo\.ttftMs'/);
    expect(metricProblem('autoscale.series')).toMatch(/^unknown metric 'autoscale\.series'/);
  });

  it('an expectation may pin one in an autoscaled experiment, and is a mistake in one that does not autoscale', () => {
    const scaled = loadExperiment(write(`${EXPERIMENT}autoscale: { target: latency }\n${EXPECT_GPU_HOURS}`));
    expect(scaled.expect.map((e) => [e.metric, e.points])).toEqual([['autoscale.gpuHours', ['p000']]]);
    const file = write(EXPERIMENT + EXPECT_GPU_HOURS);
    const err = userError(() => loadExperiment(file));
    expect(err.where).toMatch(/scaled\.yaml:14:5 expect\[0\]\.metric$/);
    expect(err.message).toContain('autoscale.gpuHours is a number of autoscaled runs, but point p000 has no autoscale section');
  });

  it('check reads them from the point: 3.5 GPU-hours is within 5% of 3.6; 3 prefill workers at peak is not 4', () => {
    const entry = (metric: string, value: number, tolerance: Expectation['tolerance']): Expectation => ({ metric, value, tolerance, source: 'hand', where: 'x.yaml:1:1', points: ['p000'] });
    const rows = compareWithExpectations(summary([AUTOSCALE]), [entry('autoscale.gpuHours', 3.6, { relative: 0.05 }), entry('autoscale.peakWorkers.prefill', 4, { absolute: 0 })]);
    expect(rows.map((r) => [r.metric, r.now, r.verdict])).toEqual([
      ['autoscale.gpuHours', 3.5, 'expect ok'], // |3.5 - 3.6| = 0.1 <= 0.18
      ['autoscale.peakWorkers.prefill', 3, 'EXPECT FAILED'],
    ]);
  });

  it('baselines keep GPU-hours and SLO attainment for autoscaled points only, and judge them', () => {
    const s = summary([AUTOSCALE, undefined]);
    const b = baselineOf(s);
    expect(b.points['p000']!.metrics['autoscale.gpuHours']).toBe(3.5);
    expect(b.points['p000']!.metrics['autoscale.sloAttainment']).toBe(0.75);
    expect(Object.keys(b.points['p000']!.metrics)).toHaveLength(10);
    expect(Object.keys(b.points['p001']!.metrics)).toHaveLength(8);
    expect(compareWithBaseline(s, b).rows).toHaveLength(10 + 8);

    const verdicts = (a: Partial<AutoscaleResult>) =>
      compareWithBaseline(summary([{ ...AUTOSCALE, ...a }, undefined]), b)
        .rows.filter((r) => r.metric.startsWith('autoscale.'))
        .map((r) => `${r.metric} ${r.verdict}`);
    // 2% of 3.5 is 0.07 GPU-hours: 3.6 is 0.1 more, beyond it and 0.01.
    expect(verdicts({ gpuHours: 3.6 })).toEqual(['autoscale.gpuHours REGRESSED', 'autoscale.sloAttainment ok']);
    expect(verdicts({ gpuHours: 3.4 })).toEqual(['autoscale.gpuHours improved', 'autoscale.sloAttainment ok']);
    // 2% of 0.75 is 0.015: 0.74 is within it, 0.73 beyond it and 0.001.
    expect(verdicts({ sloAttainment: 0.74 })).toEqual(['autoscale.gpuHours ok', 'autoscale.sloAttainment ok']);
    expect(verdicts({ sloAttainment: 0.73 })).toEqual(['autoscale.gpuHours ok', 'autoscale.sloAttainment REGRESSED']);
    // A point that stopped autoscaling has no number where its baseline had one.
    expect(compareWithBaseline(summary([undefined, undefined]), b).rows.filter((r) => r.verdict === 'REGRESSED').map((r) => r.metric)).toEqual([
      'autoscale.gpuHours',
      'autoscale.sloAttainment',
    ]);
  });

  it('points.csv has their columns only when a point autoscaled', () => {
    const [header, row] = pointsCsv(summary([AUTOSCALE])).split('\n').map((l) => l.split(','));
    const cell = (name: string) => row![header!.indexOf(name)];
    expect(cell('autoscale.gpuHours')).toBe('3.5');
    expect(cell('autoscale.sloAttainment')).toBe('0.75');
    expect(cell('autoscale.peakWorkers.prefill')).toBe('3');
    expect(pointsCsv(summary([undefined]))).not.toContain('autoscale');
  });

  it('report.md has an Autoscaling section with a row per autoscaled point, and none without', () => {
    const rows = autoscaleTable(summary([AUTOSCALE, undefined])).map((l) => l.split(/ {2,}/));
    expect(rows).toEqual([
      ['point', 'workload.isl.mean', 'target', 'GPU-hours', 'SLO attainment', 'met / ended', 'SLO TTFT/ITL ms', 'scale-ups', 'scale-downs', 'peak prefill', 'peak decode'],
      ['p000', '1000', 'throughput', '3.50', '75.0%', '90 / 120', '500/50', '3', '2', '3', '2'],
    ]);
    const md = (s: Summary) => String(runReportFiles(s, s.points, { dir: '/tmp/r' }, [])[1]!.data);
    expect(md(summary([AUTOSCALE]))).toContain('## Autoscaling');
    expect(md(summary([undefined]))).not.toContain('Autoscaling');
    expect(autoscaleTable(summary([undefined]))).toEqual([]);
  });
});
