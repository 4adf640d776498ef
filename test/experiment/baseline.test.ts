import { describe, expect, it } from 'vitest';
import type { Expectation } from '../../src/experiment/load.js';
import type { Point } from '../../src/spec/experiment.js';
import {
  BASELINE_METRICS,
  baselineJson,
  baselineOf,
  compareWithBaseline,
  compareWithExpectations,
  judge,
  metricValue,
  rounded,
  toleranceText,
  withinTolerance,
  type MetricSpec,
} from '../../src/report/baseline.js';
import { junitXml } from '../../src/report/junit.js';
import { buildSummary } from '../../src/spec/summary.js';
import { fakeResult } from './helpers.js';
import { wellFormed } from './xml.js';

const spec = (path: string): MetricSpec => BASELINE_METRICS.find((m) => m.path === path)!;

describe('a metric regresses only beyond both tolerances, in its bad direction', () => {
  // TTFT: absolute 1 ms; relative 2% of the baseline.
  it('TTFT 100 ms: +2 ms is within 2% (not beyond it), +2.5 ms is beyond both', () => {
    expect(judge(spec('ttftMs.p50'), 100, 102, 0.02, 1).verdict).toBe('ok');
    expect(judge(spec('ttftMs.p50'), 100, 102.5, 0.02, 1).verdict).toBe('REGRESSED');
    expect(judge(spec('ttftMs.p50'), 100, 97.5, 0.02, 1).verdict).toBe('improved');
  });

  it('TTFT 10 ms: +0.9 ms is 9% but within the 1 ms absolute tolerance', () => {
    expect(judge(spec('ttftMs.mean'), 10, 10.9, 0.02, 1).verdict).toBe('ok');
    expect(judge(spec('ttftMs.mean'), 10, 11.1, 0.02, 1).verdict).toBe('REGRESSED');
  });

  it('throughput is worse lower: 500 -> 489 tok/s (-11, beyond 0.5 and 10) regresses, 511 improves', () => {
    expect(judge(spec('throughput.outputTokensPerS'), 500, 489, 0.02, 0.5).verdict).toBe('REGRESSED');
    expect(judge(spec('throughput.outputTokensPerS'), 500, 511, 0.02, 0.5).verdict).toBe('improved');
    expect(judge(spec('throughput.outputTokensPerS'), 500, 491, 0.02, 0.5).verdict).toBe('ok');
  });

  it('requests: one new failure out of none regresses; one fewer completion of 100 is within 2%', () => {
    expect(judge(spec('requests.failed'), 0, 1, 0.02, 0).verdict).toBe('REGRESSED');
    expect(judge(spec('requests.completed'), 100, 99, 0.02, 0).verdict).toBe('ok');
    expect(judge(spec('requests.completed'), 100, 97, 0.02, 0).verdict).toBe('REGRESSED');
  });

  it('a number that appears or disappears is a change that fails', () => {
    expect(judge(spec('ttftMs.p50'), null, null, 0.02, 1).verdict).toBe('ok');
    expect(judge(spec('ttftMs.p50'), 5, null, 0.02, 1).verdict).toBe('REGRESSED');
  });
});

describe('expectations pass when either tolerance holds', () => {
  it('relative and absolute, each alone and together', () => {
    expect(withinTolerance(110, 100, { relative: 0.1 })).toBe(true); // exactly 10%
    expect(withinTolerance(110.5, 100, { relative: 0.1 })).toBe(false);
    expect(withinTolerance(89.9, 100, { relative: 0.1 })).toBe(false);
    expect(withinTolerance(120, 100, { absolute: 20 })).toBe(true);
    expect(withinTolerance(125, 100, { relative: 0.1, absolute: 30 })).toBe(true); // absolute holds
    expect(withinTolerance(125, 100, { relative: 0.3, absolute: 1 })).toBe(true); // relative holds
    expect(withinTolerance(150, 100, { relative: 0.3, absolute: 40 })).toBe(false);
    expect(toleranceText({ relative: 0.1 })).toBe('±10%');
    expect(toleranceText({ relative: 0.07, absolute: 20 })).toBe('±7% or ±20');
  });
});

/** Two points of the fake simulator: TTFT stats from isl / 10 (helpers.ts), isl 1000 and 8000. */
function fakeSummary() {
  const points: Point[] = [1000, 8000].map((isl, i) => ({
    id: `p00${i}`,
    params: { 'workload.isl.mean': isl },
    experiment: { workload: { isl: { mean: isl } } } as Point['experiment'],
  }));
  return buildSummary('fake', 3, points.map((p) => fakeResult(p)));
}

describe('baselines', () => {
  it('keep the eight headline metrics per point, with params, rounded to 3 places, keys sorted', () => {
    const b = baselineOf(fakeSummary());
    // fakeResult: ttft mean isl/10, p50 0.9x, p95 1.8x; itl 12.5; e2e p50 (isl/10 + 2500) x 0.9; 1234.5 tok/s; 100 completed.
    expect(b.points['p001']).toEqual({
      params: { 'workload.isl.mean': 8000 },
      metrics: {
        'ttftMs.mean': 800,
        'ttftMs.p50': 720,
        'ttftMs.p95': 1440,
        'itlMs.mean': 12.5,
        'e2eMs.p50': 2970,
        'throughput.outputTokensPerS': 1234.5,
        'requests.completed': 100,
        'requests.failed': 0,
      },
    });
    const text = baselineJson(b);
    expect(text.indexOf('"metrics"')).toBeLessThan(text.indexOf('"params"'));
    expect(text.indexOf('"e2eMs.p50"')).toBeLessThan(text.indexOf('"itlMs.mean"'));
    expect(text.endsWith('}\n')).toBe(true);
    expect(rounded(1 / 3)).toBe(0.333);
    expect(rounded(-0.0001)).toBe(0);
    expect(Object.is(rounded(-0.0001), -0)).toBe(false);
  });

  it('a fresh baseline compares ok everywhere; ids that moved are matched by params', () => {
    const s = fakeSummary();
    const b = baselineOf(s);
    const { rows, gone } = compareWithBaseline(s, b);
    expect(rows).toHaveLength(2 * 8);
    expect(rows.every((r) => r.verdict === 'ok' && r.deltaPct === 0)).toBe(true);
    expect(gone).toEqual([]);
    // The same points under swapped ids: still compared with their own numbers.
    const other = { params: { 'workload.isl.mean': 2000 }, metrics: b.points['p000']!.metrics };
    const swapped = { ...b, points: { p000: b.points['p001']!, p001: b.points['p000']!, p009: other } };
    const again = compareWithBaseline(s, swapped);
    expect(again.rows.every((r) => r.verdict === 'ok')).toBe(true);
    expect(again.gone).toEqual(['p009']);
  });

  it('a TTFT p50 baseline 10% lower: the run is 11.1% above it and REGRESSED; no baseline at all fails every row', () => {
    const s = fakeSummary();
    const b = baselineOf(s);
    b.points['p000']!.metrics['ttftMs.p50'] = 90 * 0.9; // p000: isl 1000, p50 = 100 x 0.9 = 90 ms
    const row = compareWithBaseline(s, b).rows.find((r) => r.point === 'p000' && r.metric === 'ttftMs.p50')!;
    expect(row.verdict).toBe('REGRESSED');
    expect(row.deltaPct).toBeCloseTo(((90 - 81) / 81) * 100, 9); // 11.11%
    expect(row.message).toBe('ttftMs.p50 rose from 81 to 90 ms, beyond both 1 ms and 2%');
    const none = compareWithBaseline(s, undefined).rows;
    expect(none.every((r) => r.verdict === 'no baseline' && r.baseline === null)).toBe(true);
  });

  it('metric values reach into maps whose keys have dots', () => {
    const r = fakeSummary().points[0]!;
    expect(metricValue(r, 'utilisation.links.decode-0.rank0.nic')).toBe(0.1);
    expect(metricValue(r, 'utilisation.workers.decode-9')).toBeUndefined();
    expect(metricValue(r, 'ttftMs.max')).toBe(300);
  });

  it('expectations: one row per selected point, failing outside the tolerance', () => {
    const s = fakeSummary();
    const e: Expectation[] = [
      { metric: 'ttftMs.min', value: 400, tolerance: { relative: 0.1 }, source: 'made up', where: 'x.yaml:1:1 expect[0]', points: ['p001'] },
      { metric: 'ttftMs.min', value: 40, tolerance: { absolute: 5 }, source: 'made up', where: 'x.yaml:5:1 expect[1]', points: ['p000', 'p001'] },
    ];
    const rows = compareWithExpectations(s, e);
    // ttft min = isl / 10 x 0.5: 50 ms at isl 1000, 400 ms at 8000.
    expect(rows.map((r) => [r.point, r.now, r.verdict])).toEqual([
      ['p001', 400, 'expect ok'],
      ['p000', 50, 'EXPECT FAILED'],
      ['p001', 400, 'EXPECT FAILED'],
    ]);
    expect(rows[1]!.message).toBe('ttftMs.min is 50, expected 40 ±5 (made up; x.yaml:5:1 expect[1])');
    expect(rows[1]!.deltaPct).toBeCloseTo(25, 9);
  });
});

describe('JUnit XML', () => {
  it('is well-formed, counts tests and failures, and escapes what it quotes', () => {
    const xml = junitXml([
      { name: 'a<b', timeS: 1.5, cases: [{ name: 'p000 "x" & y', classname: 'c' }, { name: 'p001', classname: 'c', failure: { type: 'REGRESSED', message: "it's <worse> & \u0001bad" } }] },
      { name: 'b', cases: [{ name: 'p000', classname: 'c', skipped: 'accepted' }] },
    ]);
    expect(wellFormed(xml)).toEqual([]);
    expect(xml).toContain('<testsuites name="nixlsim check" tests="3" failures="1" errors="0" skipped="1" time="1.500">');
    expect(xml).toContain('<testsuite name="a&lt;b" tests="2" failures="1" errors="0" skipped="0" time="1.500">');
    expect(xml).toContain('<testcase name="p000 &quot;x&quot; &amp; y" classname="c" time="0"/>');
    expect(xml).toContain('<failure type="REGRESSED" message="it&apos;s &lt;worse&gt; &amp; bad">it\'s &lt;worse&gt; &amp; bad</failure>');
  });

  it('the checker itself catches what is not well-formed', () => {
    expect(wellFormed('<a><b></a></b>')).not.toEqual([]);
    expect(wellFormed('<a x="1 & 2"/>')).not.toEqual([]);
    expect(wellFormed('<a>1 < 2</a>')).not.toEqual([]);
    expect(wellFormed('<a/><b/>')).not.toEqual([]);
  });
});
