import { describe, expect, it } from 'vitest';
import { expandPoints, fieldPaths, loadExperiment } from '../../src/experiment/index.js';
import { fixture, userError } from './helpers.js';

// workload.rate is a number, { steps: [...] } or { diurnal: { ... } }: --set and sweeps reach into the map forms.
const diurnal = fixture('diurnal.yaml');
const rateOf = (set: string[]) => expandPoints(loadExperiment(diurnal, { set })).map((p) => p.experiment.workload.rate);

describe('paths into the forms of a union-typed field (workload.rate)', () => {
  it('are field paths, down to the diurnal form fields; a list (steps) is a leaf', () => {
    const rate = fieldPaths().filter((p) => p.startsWith('workload.rate'));
    expect(rate).toEqual([
      'workload.rate',
      'workload.rate.steps',
      'workload.rate.diurnal',
      'workload.rate.diurnal.meanRate',
      'workload.rate.diurnal.peakToTrough',
      'workload.rate.diurnal.periodS',
      'workload.rate.diurnal.peakAtS',
    ]);
  });

  it('a file sweeps one: each point has its meanRate, the other fields as written or defaulted', () => {
    const points = expandPoints(loadExperiment(diurnal));
    expect(points.map((p) => [p.id, p.params])).toEqual([
      ['p000', { 'workload.rate.diurnal.meanRate': 10 }],
      ['p001', { 'workload.rate.diurnal.meanRate': 20 }],
    ]);
    expect(points[1]!.experiment.workload.rate).toEqual({ diurnal: { meanRate: 20, peakToTrough: 4, periodS: 3600, peakAtS: 0 } });
  });

  it('--set changes one field of the form the file uses, pinning a swept one', () => {
    expect(rateOf(['workload.rate.diurnal.meanRate=2'])).toEqual([{ diurnal: { meanRate: 2, peakToTrough: 4, periodS: 3600, peakAtS: 0 } }]);
    expect(rateOf(['workload.rate.diurnal.peakToTrough=8'])[1]).toEqual({ diurnal: { meanRate: 20, peakToTrough: 8, periodS: 3600, peakAtS: 0 } });
    expect(rateOf(['workload.rate.diurnal.periodS=86400'])[0]).toEqual({ diurnal: { meanRate: 10, peakToTrough: 4, periodS: 86400, peakAtS: 0 } });
    // peakAtS is not written in the file: the flag adds it.
    expect(rateOf(['workload.rate.diurnal.peakAtS=1800'])[0]).toEqual({ diurnal: { meanRate: 10, peakToTrough: 4, periodS: 3600, peakAtS: 1800 } });
  });

  it('--set sweep.<path> sweeps one, crossed with the file sweep (2 x 2 points)', () => {
    const points = expandPoints(loadExperiment(diurnal, { set: ['sweep.workload.rate.diurnal.peakToTrough=[2, 8]'] }));
    expect(points.map((p) => p.params)).toEqual([
      { 'workload.rate.diurnal.meanRate': 10, 'workload.rate.diurnal.peakToTrough': 2 },
      { 'workload.rate.diurnal.meanRate': 10, 'workload.rate.diurnal.peakToTrough': 8 },
      { 'workload.rate.diurnal.meanRate': 20, 'workload.rate.diurnal.peakToTrough': 2 },
      { 'workload.rate.diurnal.meanRate': 20, 'workload.rate.diurnal.peakToTrough': 8 },
    ]);
    expect(points[2]!.experiment.workload.rate).toEqual({ diurnal: { meanRate: 20, peakToTrough: 2, periodS: 3600, peakAtS: 0 } });
  });

  it('a misspelt path still gets a suggestion; an item of a list cannot be addressed', () => {
    const typo = userError(() => loadExperiment(diurnal, { set: ['workload.rate.diurnal.meanrate=2'] }));
    expect(typo.where).toBe('--set workload.rate.diurnal.meanrate=2');
    expect(typo.message).toContain("unknown path 'workload.rate.diurnal.meanrate'; did you mean 'workload.rate.diurnal.meanRate'?");
    const item = userError(() => loadExperiment(diurnal, { set: ['workload.rate.steps.0.rate=3'] }));
    expect(item.message).toContain(
      "unknown path 'workload.rate.steps.0.rate': 'workload.rate.steps' is a list, and a list's items cannot be addressed; set or sweep it whole (workload.rate.steps=[...])",
    );
    const sweep = userError(() => loadExperiment(diurnal, { set: ['sweep.faults.0.rate=[1, 2]'] }));
    expect(sweep.message).toContain("unknown path 'faults.0.rate': 'faults' is a list");
  });

  it('a path into another form than the one the field holds is an error at the flag, not a mix of two forms', () => {
    const steps = userError(() => loadExperiment(diurnal, { set: ['workload.rate.steps=[{ atS: 0, rate: 3 }]'] }));
    expect(steps.where).toBe('--set workload.rate.steps=[{ atS: 0, rate: 3 }]');
    expect(steps.message).toBe(
      '--set workload.rate.steps=[{ atS: 0, rate: 3 }]: workload.rate.steps is in the { steps } form of workload.rate, but workload.rate is { diurnal } here; set workload.rate whole to change its form',
    );
    const constant = userError(() => loadExperiment(diurnal, { set: ['workload.rate=5', 'workload.rate.diurnal.meanRate=3'] }));
    expect(constant.message).toContain('workload.rate.diurnal.meanRate is in the { diurnal } form of workload.rate, but workload.rate is 5 here');
    // Setting the field whole changes its form.
    expect(rateOf(['workload.rate={ steps: [{ atS: 0, rate: 3 }] }'])[0]).toEqual({ steps: [{ atS: 0, rate: 3 }] });
  });
});
