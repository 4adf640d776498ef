import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/index.js';
import type { Point, PointResult, Stats } from '../../src/spec/experiment.js';
import { fidelityJson, formatFidelity } from '../../src/fidelity/format.js';
import { loadMeasurements } from '../../src/fidelity/load.js';
import { errorPct, failsStrict, familyStats, matchesFilter, runFidelity } from '../../src/fidelity/run.js';
import { nixlsimInProcess } from '../helpers/cli.js';

const catalog = defaultCatalog();

/** A tiny experiment: one TP1 worker of the 8B model, aggregated or disaggregated, 4 short requests. */
const EXPERIMENT = `name: tiny
seed: 1
deployment:
  mode: aggregated
  model: llama-3.1-8b-instruct
  node: p5.48xlarge
  connector: any-tp
  transport: efa-libfabric
  prefill: { workers: 1, tp: 1 }
  decode: { workers: 1, tp: 1 }
  aggregated: { workers: 1, tp: 1 }
  placement: cross-node
workload:
  kind: closed-loop
  concurrency: 2
  requests: 4
  warmup: 0
  isl: { mean: 500, stddev: 0 }
  osl: { mean: 5, stddev: 0 }
sweep:
  deployment.mode: [aggregated, disaggregated]
`;

/** A directory holding tiny.yaml and the measurement files given (name -> text). */
function dirWith(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'nixlsim-fidelity-'));
  writeFileSync(join(root, 'tiny.yaml'), EXPERIMENT);
  const dir = join(root, 'measurements');
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const header = (id: string) => `id: ${id}\ntitle: "hand-made"\nsource: "the test"\nexperiment: ../tiny.yaml\nrecords:\n`;

const record = (id: string, mode: string, metric: string, family: string, measured: number, tolerancePct: number) =>
  `  - id: ${id}\n    point: { deployment.mode: ${mode} }\n    metric: ${metric}\n    family: ${family}\n    measured: ${measured}\n    unit: x\n    tolerancePct: ${tolerancePct}\n`;

function stats(mean: number): Stats {
  return { mean, p50: mean, p90: mean, p95: mean, p99: mean, min: mean, max: mean };
}

/** A point result with the given TTFT mean and output throughput, everything else zero. */
function fakeResult(p: Point, ttft: number, tput: number): PointResult {
  return {
    id: p.id,
    params: p.params,
    requests: { total: 4, completed: 4, failed: 0, fellBack: 0, inFlight: 0, stale: 0 },
    ttftMs: stats(ttft),
    itlMs: stats(0),
    e2eMs: stats(0),
    queueMs: stats(0),
    kvTransfer: { bytesMean: 0, ms: stats(0), effectiveGBps: 0 },
    throughput: { outputTokensPerS: tput, requestsPerS: 0 },
    utilisation: { workers: {}, kvPoolPeak: {}, links: {} },
    events: {},
    durationS: 1,
  };
}

describe('fidelity arithmetic', () => {
  it('errorPct is (modeled - measured) / measured x 100', () => {
    expect(errorPct(110, 100)).toBeCloseTo(10, 12);
    expect(errorPct(180, 200)).toBeCloseTo(-10, 12);
    expect(errorPct(0.05, 0.1)).toBeCloseTo(-50, 12);
  });

  it('MAPE per family is the mean of |errorPct|, null for a family without records', () => {
    const f = familyStats([
      { family: 'ttft', errorPct: 10 },
      { family: 'ttft', errorPct: -30 },
      { family: 'itl', errorPct: -4 },
    ]);
    expect(f.ttft).toEqual({ mape: 20, records: 2 });
    expect(f.itl).toEqual({ mape: 4, records: 1 });
    expect(f.throughput).toEqual({ mape: null, records: 0 });
    expect(f.transfer).toEqual({ mape: null, records: 0 });
    // A record that calibrated the model does not count: its error shows the fit.
    expect(familyStats([{ family: 'itl', errorPct: 0, fitted: 'x' }, { family: 'itl', errorPct: 6 }]).itl).toEqual({ mape: 6, records: 1 });
  });

  it('--filter: a substring, or a whole-id glob with *', () => {
    expect(matchesFilter('seed-002-breakeven/agg-ttft-min', 'agg')).toBe(true);
    expect(matchesFilter('seed-002-breakeven/agg-ttft-min', 'disagg')).toBe(false);
    expect(matchesFilter('seed-002-breakeven/agg-ttft-min', 'seed-002*min')).toBe(true);
    expect(matchesFilter('seed-002-breakeven/agg-ttft-min', 'seed-002*max')).toBe(false);
    expect(matchesFilter('seed-002-breakeven/agg-ttft-min', 'agg*')).toBe(false); // a glob matches the whole id
    expect(matchesFilter('a.b/c', 'a?b*')).toBe(false); // only * is special
  });
});

describe('runFidelity with a hand-made simulation', () => {
  const dir = dirWith({
    'hand.yaml':
      header('hand') +
      record('agg-ttft', 'aggregated', 'ttftMs.mean', 'ttft', 100, 15) +
      record('dis-ttft', 'disaggregated', 'ttftMs.mean', 'ttft', 200, 5) +
      record('agg-tput', 'aggregated', 'throughput.outputTokensPerS', 'throughput', 50, 25),
  });
  // aggregated: TTFT 110 ms, 40 tok/s; disaggregated: TTFT 180 ms.
  const calls: Point[][] = [];
  const simulate = async (points: Point[]) => {
    calls.push(points);
    return points.map((p) => (p.params['deployment.mode'] === 'aggregated' ? fakeResult(p, 110, 40) : fakeResult(p, 180, 0)));
  };

  it('compares each record with its point, each distinct point simulated once', async () => {
    const r = await runFidelity({ dir, catalog, simulate });
    expect(calls.at(-1)!.map((p) => p.params['deployment.mode'])).toEqual(['aggregated', 'disaggregated']);
    expect(r.records.map((x) => [x.id, x.modeled, x.within])).toEqual([
      ['hand/agg-ttft', 110, true], // +10% within 15%
      ['hand/dis-ttft', 180, false], // -10% outside 5%
      ['hand/agg-tput', 40, true], // -20% within 25%
    ]);
    expect(r.records[0]!.errorPct).toBeCloseTo(10, 12);
    expect(r.records[1]!.errorPct).toBeCloseTo(-10, 12);
    expect(r.records[2]!.errorPct).toBeCloseTo(-20, 12);
    expect(r.families.ttft.mape).toBeCloseTo(10, 12);
    expect(r.families.throughput.mape).toBeCloseTo(20, 12);
    expect(r.families.itl.mape).toBeNull();

    const text = formatFidelity(r);
    expect(text).toMatch(/^hand\/dis-ttft +ttftMs\.mean +200 x +180 x +-10\.0% +5% +OUTSIDE$/m);
    expect(text).toMatch(/^hand\/agg-ttft .* \+10\.0% +15% +ok$/m);
    expect(text).toContain('MAPE ttft 10.0% (2 validation records)\nMAPE itl - (0 validation records)\nMAPE throughput 20.0% (1 validation record)\n');
    expect(text.trimEnd().split('\n').at(-1)).toBe('2 of 3 records within tolerance');

    const json = JSON.parse(fidelityJson(r)) as { records: Record<string, unknown>[]; mape: Record<string, unknown> };
    expect(Object.keys(json)).toEqual(['records', 'mape']);
    expect(Object.keys(json.records[0]!)).toEqual(['id', 'source', 'metric', 'measured', 'modeled', 'errorPct', 'tolerancePct', 'within']);
    expect(json.records[1]).toMatchObject({ id: 'hand/dis-ttft', source: 'the test', metric: 'ttftMs.mean', measured: 200, modeled: 180, tolerancePct: 5, within: false });
    expect(json.mape).toEqual({ ttft: r.families.ttft.mape, itl: null, throughput: r.families.throughput.mape, transfer: null });
  });

  it('--filter runs only the points its records need', async () => {
    const r = await runFidelity({ dir, catalog, simulate, filter: 'dis-' });
    expect(r.records.map((x) => x.id)).toEqual(['hand/dis-ttft']);
    expect(calls.at(-1)!.map((p) => p.params['deployment.mode'])).toEqual(['disaggregated']);
    await expect(runFidelity({ dir, catalog, simulate, filter: 'nothing' })).rejects.toThrow(
      /^--filter nothing: matches none of the 3 records \(hand\/agg-ttft, hand\/dis-ttft, hand\/agg-tput\)/,
    );
  });

  it('a metric the result lacks is an error at the record', async () => {
    const d = dirWith({ 'w.yaml': header('w') + record('gone', 'aggregated', 'utilisation.workers.decode-9', 'ttft', 1, 5) });
    await expect(runFidelity({ dir: d, catalog, simulate })).rejects.toThrow(/w\.yaml:8:5 records\[0\]\.metric: metric 'utilisation\.workers\.decode-9' is not in the result of point p000/);
  });
});

describe('records that calibrated the model, known gaps, and differences of two points', () => {
  // aggregated: TTFT 110 ms; disaggregated: TTFT 180 ms.
  const simulate = async (points: Point[]) => points.map((p) => (p.params['deployment.mode'] === 'aggregated' ? fakeResult(p, 110, 40) : fakeResult(p, 180, 0)));
  const dir = dirWith({
    'extra.yaml':
      header('extra') +
      // A difference: disaggregated TTFT less aggregated, 180 - 110 = 70 ms against 60 measured: +16.7%.
      record('cost', 'disaggregated', 'ttftMs.mean', 'transfer', 60, 20) +
      '    minus: { point: { deployment.mode: aggregated }, metric: ttftMs.mean }\n' +
      // Fitted to: 110 against 110.
      record('fit', 'aggregated', 'ttftMs.mean', 'ttft', 110, 5) +
      '    fitted: "prefillCompute"\n' +
      // A known gap held: 180 against 150 is +20%, outside 10% but inside the stated 25%.
      record('held', 'disaggregated', 'ttftMs.mean', 'ttft', 150, 10) +
      '    knownGap: { maxErrorPct: 25, why: "a reason" }\n' +
      // A known gap broken: 180 against 120 is +50%, past its 30%.
      record('broken', 'disaggregated', 'ttftMs.mean', 'ttft', 120, 10) +
      '    knownGap: { maxErrorPct: 30, why: "a reason" }\n',
  });

  it('a minus record is the difference of the two points; fitted records say so; a gap holds only inside its bound', async () => {
    const r = await runFidelity({ dir, catalog, simulate });
    const by = new Map(r.records.map((x) => [x.id.split('/')[1]!, x]));
    expect(by.get('cost')!.modeled).toBe(70);
    expect(by.get('cost')!.errorPct).toBeCloseTo((70 - 60) / 60 * 100, 12);
    expect(by.get('cost')!.metric).toBe('ttftMs.mean - ttftMs.mean of deployment.mode=aggregated');
    expect(by.get('fit')).toMatchObject({ within: true, fitted: 'prefillCompute' });
    expect(by.get('held')).toMatchObject({ within: false, knownGap: { maxErrorPct: 25, held: true } });
    expect(by.get('broken')).toMatchObject({ within: false, knownGap: { maxErrorPct: 30, held: false } });
    expect(['cost', 'fit', 'held', 'broken'].map((k) => failsStrict(by.get(k)!))).toEqual([false, false, false, true]);
    const text = formatFidelity(r);
    expect(text).toMatch(/^extra\/fit .* ok \(fit\)$/m);
    expect(text).toMatch(/^extra\/held .* \+20\.0% +10% +gap \(<= 25%\)$/m);
    expect(text).toMatch(/^extra\/broken .* \+50\.0% +10% +OUTSIDE$/m);
    expect(text.trimEnd().split('\n').at(-1)).toBe('2 of 4 records within tolerance (1 of them calibrated the model); 1 known gap inside its stated bound');
    const json = JSON.parse(fidelityJson(r)) as { records: Record<string, unknown>[] };
    expect(json.records[2]).toMatchObject({ id: 'extra/held', within: false, knownGap: { maxErrorPct: 25, why: 'a reason', held: true } });
  });

  it('a minus in a transfer file, or a minus point that selects nothing, is a mistake at its line', () => {
    const bad = dirWith({ 'b.yaml': header('b') + record('x', 'disaggregated', 'ttftMs.mean', 'ttft', 1, 5) + '    minus: { point: { deployment.mode: sideways }, metric: ttftMs.mean }\n' });
    expect(() => loadMeasurements(bad, { catalog })).toThrow(/b\.yaml:13:\d+ records\[0\]\.minus\.point: selects 0 of the 2 points/);
  });
});

describe('nixlsim fidelity on a tiny real experiment', () => {
  // requests.total is the request count whatever the model says: 4 of 4, within. A TTFT of 10^9 ms is not.
  let dir = '';
  beforeAll(() => {
    dir = dirWith({
      'tiny-set.yaml':
        header('tiny-set') +
        record('count', 'aggregated', 'requests.total', 'throughput', 4, 1) +
        record('absurd', 'disaggregated', 'ttftMs.mean', 'ttft', 1e9, 10),
    });
  });

  it('prints the table, the MAPE per family and the count; exit 0 without --strict', async () => {
    const r = await nixlsimInProcess(['fidelity', '--dir', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^tiny-set\/count +requests\.total +4\.00 x +4\.00 x +0\.0% +1% +ok$/m);
    expect(r.stdout).toMatch(/^tiny-set\/absurd +ttftMs\.mean .* -100\.0% +10% +OUTSIDE$/m);
    expect(r.stdout).toMatch(/^MAPE throughput 0\.0% \(1 validation record\)$/m);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('1 of 2 records within tolerance');
  });

  it('--strict exits 1 when a record is outside, 0 when the filtered ones are all within', async () => {
    const outside = await nixlsimInProcess(['fidelity', '--dir', dir, '--strict']);
    expect(outside.code).toBe(1);
    expect(outside.stdout).toContain('OUTSIDE');
    const within = await nixlsimInProcess(['fidelity', '--dir', dir, '--strict', '--filter', 'tiny-set/c*']);
    expect(within.code).toBe(0);
    expect(within.stdout).toContain('1 of 1 record within tolerance');
  });

  it('--json prints {records, mape}', async () => {
    const r = await nixlsimInProcess(['fidelity', '--dir', dir, '--json', '--workers', '1']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { records: { id: string; errorPct: number; within: boolean }[]; mape: Record<string, number | null> };
    expect(j.records.map((x) => [x.id, x.within])).toEqual([['tiny-set/count', true], ['tiny-set/absurd', false]]);
    expect(j.records[0]!.errorPct).toBe(0);
    expect(j.mape.throughput).toBe(0);
    expect(j.mape.ttft).toBeCloseTo(Math.abs(j.records[1]!.errorPct), 12);
    expect(j.mape.itl).toBeNull();
  });

  it('an unmatched --filter is a mistake: exit 2, listing the ids', async () => {
    const r = await nixlsimInProcess(['fidelity', '--dir', dir, '--filter', 'zzz']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('nixlsim: error: --filter zzz: matches none of the 2 records (tiny-set/count, tiny-set/absurd); give part of an id, or a glob with *\n');
  });
});

describe('measurement file mistakes: file:line:col and the field, exit 2', () => {
  const fails = (name: string, text: string) => () => loadMeasurements(dirWith({ [name]: text }), { catalog });

  it('a misspelt key', () => {
    const text = header('m') + record('a', 'aggregated', 'ttftMs.mean', 'ttft', 1, 5).replace('tolerancePct', 'tolerance');
    expect(fails('m.yaml', text)).toThrow(/m\.yaml:12:5 records\[0\]\.tolerance: unknown key 'tolerance'; did you mean 'tolerancePct'\?/);
  });

  it('tolerancePct <= 0, a measured value that is not a number, an unknown family', () => {
    expect(fails('m.yaml', header('m') + record('a', 'aggregated', 'ttftMs.mean', 'ttft', 1, 0))).toThrow(/m\.yaml:12:5 records\[0\]\.tolerancePct: expected a number > 0, got 0/);
    expect(fails('m.yaml', header('m') + record('a', 'aggregated', 'ttftMs.mean', 'ttft', 1, 5).replace('measured: 1', 'measured: .nan'))).toThrow(
      /m\.yaml:10:5 records\[0\]\.measured: expected a finite number/,
    );
    expect(fails('m.yaml', header('m') + record('a', 'aggregated', 'ttftMs.mean', 'ttfb', 1, 5))).toThrow(/m\.yaml:9:5 records\[0\]\.family: expected one of 'ttft', 'itl', 'throughput', 'transfer', got 'ttfb'/);
  });

  it('an unknown metric, with a suggestion', () => {
    expect(fails('m.yaml', header('m') + record('a', 'aggregated', 'ttftMs.mea', 'ttft', 1, 5))).toThrow(/m\.yaml:8:5 records\[0\]\.metric: unknown metric 'ttftMs\.mea'; did you mean 'ttftMs\.mean'\?/);
  });

  it('a point selector matching no point, or none given when there are several, lists the points', () => {
    expect(fails('m.yaml', header('m') + record('a', 'mixed', 'ttftMs.mean', 'ttft', 1, 5))).toThrow(
      /m\.yaml:7:5 records\[0\]\.point: selects 0 of the 2 points of .*tiny\.yaml; a record needs exactly one \(the points: p000 mode=aggregated; p001 mode=disaggregated\)/,
    );
    const noPoint = header('m') + record('a', 'aggregated', 'ttftMs.mean', 'ttft', 1, 5).replace(/ {4}point: .*\n/, '');
    expect(fails('m.yaml', noPoint)).toThrow(/m\.yaml:6:5 records\[0\]: has no point: .*tiny\.yaml has 2 points; a record needs exactly one/);
  });

  it('duplicate record ids, and an id that is not the file name', () => {
    const dup = header('m') + record('a', 'aggregated', 'ttftMs.mean', 'ttft', 1, 5) + record('a', 'disaggregated', 'ttftMs.mean', 'ttft', 1, 5);
    expect(fails('m.yaml', dup)).toThrow(/m\.yaml:13:5 records\[1\]\.id: 'a' is already the id of records\[0\] \(line 6\)/);
    expect(fails('m.yaml', header('n') + record('a', 'aggregated', 'ttftMs.mean', 'ttft', 1, 5))).toThrow(/m\.yaml:1:1 id: expected the file's name without its extension, 'm', got 'n'/);
  });

  it('a transfer file: catalog ids and metrics are checked', () => {
    const t = (transfer: string, metric = 'ms') =>
      `id: t\ntitle: x\nsource: y\ntransfer: { ${transfer} }\nrecords:\n  - { id: a, metric: ${metric}, family: transfer, measured: 1, unit: ms, tolerancePct: 5 }\n`;
    const good = 'model: llama-3.1-8b-instruct, tokens: 8000, prefillTp: 1, decodeTp: 1, transport: tcp';
    expect(loadMeasurements(dirWith({ 't.yaml': t(good) }), { catalog })[0]!.records[0]!.target.kind).toBe('transfer');
    expect(fails('t.yaml', t(good.replace('llama-3.1-8b-instruct', 'llama-9')))).toThrow(/t\.yaml:4:13 transfer\.model: unknown model 'llama-9'/);
    expect(fails('t.yaml', t(good, 'effectiveGbps'))).toThrow(/t\.yaml:6:14 records\[0\]\.metric: unknown metric 'effectiveGbps' of a transfer estimate; did you mean 'effectiveGBps'\?/);
  });

  it('a copy file: the GPU, the direction and the metric are checked; one kind of target a file', () => {
    const c = (copy: string, metric = 'effectiveGBps', extra = '') =>
      `id: c\ntitle: x\nsource: y\n${extra}copy: { ${copy} }\nrecords:\n  - { id: a, metric: ${metric}, family: transfer, measured: 50, unit: GB/s, tolerancePct: 5 }\n`;
    const good = 'gpu: h100-sxm, direction: to-gpu, bytes: 1000000, blockBytes: 1000';
    const [set] = loadMeasurements(dirWith({ 'c.yaml': c(good) }), { catalog });
    expect(set!.records[0]!.target.kind).toBe('copy');
    expect(fails('c.yaml', c(good.replace('h100-sxm', 'h100-sxn')))).toThrow(/c\.yaml:4:9 copy\.gpu: unknown GPU 'h100-sxn'; did you mean 'h100-sxm'\?/);
    expect(fails('c.yaml', c(good.replace('to-gpu', 'up')))).toThrow(/c\.yaml:4:\d+ copy\.direction: expected one of 'to-host', 'to-gpu', 'both', got 'up'/);
    expect(fails('c.yaml', c(good, 'effectiveGbps'))).toThrow(/c\.yaml:6:14 records\[0\]\.metric: unknown metric 'effectiveGbps' of a copy; did you mean 'effectiveGBps'\?/);
    expect(fails('c.yaml', c(good, 'ms', 'transfer: { transport: tcp, bytes: 1 }\n'))).toThrow(/c\.yaml:5:1 copy: a file gives one of `experiment:`, `transfer:` and `copy:`; this one gives transfer and copy/);
  });

  it('through the command line: one line on stderr, exit 2, no stack trace', async () => {
    const dir = dirWith({ 'm.yaml': header('m') + record('a', 'aggregated', 'ttftMs.mean', 'ttft', 1, -3) });
    const r = await nixlsimInProcess(['fidelity', '--dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^nixlsim: error: .*m\.yaml:12:5 records\[0\]\.tolerancePct: expected a number > 0, got -3\n$/);
  });
});
