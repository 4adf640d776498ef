import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadExperiment } from '../../src/experiment/index.js';
import { metricProblem } from '../../src/experiment/check.js';
import { METRIC_PATHS } from '../../src/experiment/schema.js';
import { shownPath } from '../../src/experiment/yaml-errors.js';
import { fakeResult, userError } from './helpers.js';
import { expandPoints } from '../../src/experiment/load.js';

/**
 * A four-point experiment (lines 1-16) and an `expect:` block from line 17 on, in a file of its own. Its points:
 * p000 isl 1000 aggregated, p001 isl 1000 disaggregated, p002 isl 8000 aggregated, p003 isl 8000 disaggregated.
 */
const HEAD = `name: pinned
deployment:
  mode: aggregated
  model: llama-3.1-8b-instruct
  node: p5.48xlarge
  connector: any-tp
  transport: efa-libfabric
workload:
  kind: closed-loop
  concurrency: 10
  isl: { mean: 8000 }
  osl: { mean: 50 }
sweep:
  workload.isl.mean: [1000, 8000]
  deployment.mode: [aggregated, disaggregated]
# expectations
`;

function write(expectBlock: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'nixlsim-expect-')), 'pinned.yaml');
  writeFileSync(file, HEAD + expectBlock);
  return file;
}

const where = (file: string, pos: string, field: string) => `${shownPath(file)}:${pos} ${field}`;

describe('expect: entries', () => {
  it('come back with the loaded experiment, each with the points it selects and its position', () => {
    const file = write(`expect:
  - point: { workload.isl.mean: 8000, deployment.mode: aggregated }
    metric: ttftMs.min
    value: 173
    tolerance: { relative: 0.1 }
    source: "seed 002, Break-Even Analysis table"
  - metric: requests.failed
    value: 0
    tolerance: { absolute: 0, relative: 0 }
    source: no faults
  - point: { deployment.mode: disaggregated }
    metric: utilisation.workers.decode-0
    value: 0.5
    tolerance: { absolute: 0.5 }
    source: a guess
`);
    const loaded = loadExperiment(file);
    expect(loaded.expect).toEqual([
      {
        point: { 'workload.isl.mean': 8000, 'deployment.mode': 'aggregated' },
        metric: 'ttftMs.min',
        value: 173,
        tolerance: { relative: 0.1 },
        source: 'seed 002, Break-Even Analysis table',
        where: where(file, '18:5', 'expect[0]'),
        points: ['p002'], // isl 8000 x aggregated
      },
      {
        metric: 'requests.failed',
        value: 0,
        tolerance: { absolute: 0, relative: 0 },
        source: 'no faults',
        where: where(file, '23:5', 'expect[1]'),
        points: ['p000', 'p001', 'p002', 'p003'], // no point: every point
      },
      {
        point: { 'deployment.mode': 'disaggregated' },
        metric: 'utilisation.workers.decode-0',
        value: 0.5,
        tolerance: { absolute: 0.5 },
        source: 'a guess',
        where: where(file, '27:5', 'expect[2]'),
        points: ['p001', 'p003'],
      },
    ]);
    // Not part of the Experiment.
    expect(Object.keys(loaded.experiment)).not.toContain('expect');
  });

  it('--set pinning a selected path: an entry selects by the pinned value, and may select nothing', () => {
    const file = write(`expect:
  - point: { workload.isl.mean: 8000 }
    metric: ttftMs.min
    value: 173
    tolerance: { relative: 0.1 }
    source: seed 002
`);
    const pinned = loadExperiment(file, { set: ['workload.isl.mean=8000'] });
    // isl no longer swept: two points, p000 aggregated and p001 disaggregated, both at 8000.
    expect(expandPoints(pinned).map((p) => p.params)).toEqual([{ 'deployment.mode': 'aggregated' }, { 'deployment.mode': 'disaggregated' }]);
    expect(pinned.expect[0]!.points).toEqual(['p000', 'p001']);
    expect(loadExperiment(file, { set: ['workload.isl.mean=1000'] }).expect[0]!.points).toEqual([]);
  });

  it('an unknown metric: at the metric, with a did-you-mean', () => {
    const file = write(`expect:
  - metric: ttftMs.mn
    value: 173
    tolerance: { relative: 0.1 }
    source: seed 002
`);
    const err = userError(() => loadExperiment(file));
    expect(err.message).toBe(`${where(file, '18:5', 'expect[0].metric')}: unknown metric 'ttftMs.mn'; did you mean 'ttftMs.min'?`);
  });

  it('a group of metrics, an unknown event kind, a map without a key', () => {
    expect(metricProblem('ttftMs')).toBe("'ttftMs' is a group of metrics; name one of ttftMs.mean, ttftMs.p50, ttftMs.p90, ttftMs.p95, ttftMs.p99, ttftMs.min, ttftMs.max");
    expect(metricProblem('events.fellback')).toMatch(/^unknown event kind 'fellback'; did you mean 'fell_back'\?/);
    expect(metricProblem('utilisation.links.')).toBe("expected utilisation.links.<name>, got 'utilisation.links.'");
    expect(metricProblem('utilisation.links.decode-0.rank0.nic')).toBeUndefined();
    expect(metricProblem('events.kv_blocks_expired')).toBeUndefined();
    expect(metricProblem('durationS')).toBeUndefined();
  });

  it('every metric path names a number of a point result', () => {
    // An autoscaled point's, with the section only autoscaled runs have.
    const autoscale = { target: 'throughput', gpuHours: 2, slo: { ttftMs: 500, itlMs: 50 }, sloAttainment: 1, metSlo: 10, ended: 10, scaleUps: 1, scaleDowns: 0, peakWorkers: {}, series: [] };
    const r = { ...fakeResult(expandPoints(loadExperiment(write('')))[0]!), autoscale } as unknown as Record<string, Record<string, unknown>>;
    for (const path of METRIC_PATHS) {
      const v = path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], r);
      expect(typeof v, path).toBe('number');
    }
    // 6 request counts, 4 latency stats x 7, kvTransfer (bytesMean, 7 ms stats, effectiveGBps), 2 throughputs, durationS,
    // and autoscale's gpuHours, sloAttainment, metSlo, ended, scaleUps, scaleDowns.
    expect(METRIC_PATHS).toHaveLength(6 + 4 * 7 + (1 + 7 + 1) + 2 + 1 + 6);
  });

  it('a tolerance needs relative or absolute', () => {
    const file = write(`expect:
  - metric: ttftMs.min
    value: 173
    tolerance: {}
    source: seed 002
`);
    const err = userError(() => loadExperiment(file));
    expect(err.message).toBe(`${where(file, '20:5', 'expect[0].tolerance')}: expected { relative: <fraction> } or { absolute: <amount> }, or both (the value passes if either holds)`);
  });

  it('a misspelt key gets a did-you-mean; a missing source is named', () => {
    const typo = write(`expect:
  - metric: ttftMs.min
    value: 173
    tolerence: { relative: 0.1 }
    source: seed 002
`);
    const err = userError(() => loadExperiment(typo));
    // The unknown key first; the missing tolerance it caused is the second problem.
    expect(err.message).toBe(`${where(typo, '20:5', 'expect[0].tolerence')}: unknown key 'tolerence'; did you mean 'tolerance'? Known: point, metric, value, tolerance, source (and 1 more problem in this file)`);
    const noSource = write(`expect:
  - metric: ttftMs.min
    value: 173
    tolerance: { relative: 0.1 }
`);
    // A missing key points at the map it belongs in: the entry, line 18 column 5.
    expect(userError(() => loadExperiment(noSource)).message).toBe(`${where(noSource, '18:5', 'expect[0].source')}: missing; expected a non-empty string`);
  });

  it('a value that is not a number, and an expect that is not a list', () => {
    const file = write(`expect:
  - metric: ttftMs.min
    value: fast
    tolerance: { relative: 0.1 }
    source: seed 002
`);
    expect(userError(() => loadExperiment(file)).message).toBe(`${where(file, '19:5', 'expect[0].value')}: expected a number (the measured value), got 'fast'`);
    const map = write(`expect: { metric: ttftMs.min }\n`);
    expect(userError(() => loadExperiment(map)).message).toBe(`${where(map, '17:1', 'expect')}: expected a list of expectations, each { point, metric, value, tolerance, source }, got a map`);
  });

  it('a point path that is not swept, or misspelt', () => {
    const notSwept = write(`expect:
  - point: { deployment.transport: efa-libfabric }
    metric: ttftMs.min
    value: 173
    tolerance: { relative: 0.1 }
    source: seed 002
`);
    expect(userError(() => loadExperiment(notSwept)).message).toBe(
      `${where(notSwept, '18:14', 'expect[0].point.deployment.transport')}: 'deployment.transport' is not swept; point selects points by their swept values (the sweep has workload.isl.mean, deployment.mode)`,
    );
    const typo = write(`expect:
  - point: { workload.isl.meen: 8000 }
    metric: ttftMs.min
    value: 173
    tolerance: { relative: 0.1 }
    source: seed 002
`);
    expect(userError(() => loadExperiment(typo)).message).toBe(
      `${where(typo, '18:14', 'expect[0].point.workload.isl.meen')}: 'workload.isl.meen' is not swept; did you mean 'workload.isl.mean'? (point selects points by their swept values; the sweep has workload.isl.mean, deployment.mode)`,
    );
  });

  it('a point that selects no point of the sweep, with the values each path takes', () => {
    const file = write(`expect:
  - point: { workload.isl.mean: 3000, deployment.mode: aggregated }
    metric: ttftMs.min
    value: 173
    tolerance: { relative: 0.1 }
    source: seed 002
`);
    expect(userError(() => loadExperiment(file)).message).toBe(
      `${where(file, '18:5', 'expect[0].point')}: selects none of the 4 points (workload.isl.mean takes 1000, 8000; deployment.mode takes aggregated, disaggregated)`,
    );
  });
});
