import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TopLevelSpec } from 'vega-lite';
import { defaultCatalog } from '../../src/catalog/index.js';
import type { PointResult, Stats } from '../../src/spec/experiment.js';
import {
  applicableKinds,
  breakevenRows,
  breakevenSpec,
  CHART_KINDS,
  chartSpec,
  compileSpec,
  crossoverIsl,
  crossovers,
  kvTransferEstimateRows,
  kvTransferEstimateSpec,
  kvTransferRowsFromSummary,
  kvTransferSpec,
  normaliseSvgIds,
  textWidth,
  tpMatrixRows,
  tpMatrixSpec,
  ttftCdfRows,
  ttftCdfSpec,
  ttftVsIslRows,
  ttftVsIslSpec,
  VEGA_LITE_SCHEMA,
  writeCharts,
} from '../../src/report/charts/index.js';
import type { Summary } from '../../src/spec/summary.js';

const stats = (mean: number, p95 = mean): Stats => ({ mean, p50: mean, p90: p95, p95, p99: p95, min: mean / 2, max: p95 });

/** A point with only what charts read filled in sensibly. */
function point(id: string, params: Record<string, unknown>, o: { ttft: number; p95?: number; itl?: number; tokS?: number; kvMs?: number; fellBack?: number; completed?: number }): PointResult {
  const completed = o.completed ?? 10;
  return {
    id,
    params,
    requests: { total: 10, completed, failed: 10 - completed, fellBack: o.fellBack ?? 0, inFlight: 0, stale: 0 },
    ttftMs: stats(o.ttft, o.p95),
    itlMs: stats(o.itl ?? 20),
    e2eMs: stats(o.ttft + 1000),
    queueMs: stats(0),
    kvTransfer: { bytesMean: o.kvMs ? 1e9 : 0, ms: stats(o.kvMs ?? 0), effectiveGBps: o.kvMs ? 1e9 / (o.kvMs / 1000) / 1e9 : 0 },
    throughput: { outputTokensPerS: o.tokS ?? 100, requestsPerS: 1 },
    utilisation: { workers: {}, kvPoolPeak: {}, links: {} },
    events: {},
    durationS: 10,
    ttftCdfMs: completed ? [0, 50, 90, 100].map((p) => ({ p, ms: o.ttft * (0.5 + p / 100) })) : [],
  };
}

const summary = (experiment: string, points: PointResult[]): Summary => ({ schemaVersion: 1, experiment, seed: 1, points });

/** ISL x transport, the node zipped with the transport (as seed 000's): tcp falls back at the longer length. */
const longContext = summary('lc', [
  point('p000', { 'workload.isl.mean': 1000, 'deployment.transport': 'ib-rdma', 'deployment.node': 'dgx-h100' }, { ttft: 900, p95: 1200, kvMs: 50 }),
  point('p001', { 'workload.isl.mean': 1000, 'deployment.transport': 'tcp', 'deployment.node': 'dgx-h100' }, { ttft: 90_000, kvMs: 80_000 }),
  point('p002', { 'workload.isl.mean': 4000, 'deployment.transport': 'ib-rdma', 'deployment.node': 'dgx-h100' }, { ttft: 2000, kvMs: 120 }),
  point('p003', { 'workload.isl.mean': 4000, 'deployment.transport': 'tcp', 'deployment.node': 'dgx-h100' }, { ttft: 125_000, fellBack: 10 }),
]);

/** ISL x mode: aggregated wins at 1000, disaggregated from 2000. */
const breakeven = summary('be', [
  point('p000', { 'workload.isl.mean': 1000, 'deployment.mode': 'aggregated' }, { ttft: 100, tokS: 500, itl: 16 }),
  point('p001', { 'workload.isl.mean': 1000, 'deployment.mode': 'disaggregated' }, { ttft: 150, tokS: 480, itl: 15, kvMs: 20 }),
  point('p002', { 'workload.isl.mean': 2000, 'deployment.mode': 'aggregated' }, { ttft: 120, tokS: 400, itl: 20 }),
  point('p003', { 'workload.isl.mean': 2000, 'deployment.mode': 'disaggregated' }, { ttft: 160, tokS: 450, itl: 15, kvMs: 30 }),
]);

/** Every axis title of a compiled Vega spec, wherever layers and facets nest them. */
function axisTitles(vg: unknown): string[] {
  const out: string[] = [];
  const walk = (n: unknown) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n === null || typeof n !== 'object') return;
    const o = n as Record<string, unknown>;
    if (Array.isArray(o['axes'])) for (const a of o['axes'] as Record<string, unknown>[]) if (typeof a['title'] === 'string') out.push(a['title']);
    for (const v of Object.values(o)) walk(v);
  };
  walk(vg);
  return out;
}

function expectWellFormed(spec: TopLevelSpec, axes: RegExp[]): void {
  const s = spec as unknown as Record<string, unknown>;
  expect(s['$schema']).toBe(VEGA_LITE_SCHEMA);
  expect(((s['title'] as Record<string, unknown>)['text'] as string).length).toBeGreaterThan(5);
  const { vgSpec, warnings } = compileSpec(spec);
  expect(warnings).toEqual([]);
  const titles = axisTitles(vgSpec);
  for (const a of axes) expect(titles.some((t) => a.test(t)), `an axis title matching ${a} in ${JSON.stringify(titles)}`).toBe(true);
}

describe('chart data', () => {
  it('ttft-vs-isl: mean and p95 in seconds per transport; the node zipped with the transport is not a series of its own', () => {
    const rows = ttftVsIslRows(longContext);
    expect(rows).toHaveLength(8);
    expect(new Set(rows.map((r) => r.series))).toEqual(new Set(['ib-rdma', 'tcp']));
    expect(rows.find((r) => r.series === 'ib-rdma' && r.isl === 1000 && r.stat === 'p95')!.ttftS).toBe(1.2);
  });

  it('crossovers: every change of lead, interpolated between the ISLs around it; none when one mode leads throughout', () => {
    const row = (isl: number, agg: number, dis: number, aggItl95 = 20, disItl95 = 20) =>
      ({ isl, group: '', aggTokS: agg, disaggTokS: dis, aggItlMs: 20, disaggItlMs: 20, throughputRatio: dis / agg, itlRatio: 1, aggTtftP50Ms: 1, aggTtftP95Ms: 1, disaggTtftP50Ms: 1, disaggTtftP95Ms: 1, aggItlP95Ms: aggItl95, disaggItlP95Ms: disItl95 });
    // Leads -100, +50 between 1000 and 2000: zero at 1000 + 1000 x 100 / 150 = 1667; then +50, -25 between 2000 and
    // 4000: zero at 2000 + 2000 x 50 / 75 = 3333, aggregated ahead again.
    const rows = [row(1000, 500, 400), row(2000, 400, 450), row(4000, 300, 275)];
    expect(crossovers(rows, 'throughput')).toEqual([
      { metric: 'throughput', isl: 1667, direction: 'disaggregated-ahead' },
      { metric: 'throughput', isl: 3333, direction: 'aggregated-ahead' },
    ]);
    // Disaggregated ahead even at the first ISL: no crossover (a lead throughout is not a crossing).
    expect(crossovers([row(1000, 400, 500), row(2000, 300, 450)], 'throughput')).toEqual([]);
    // Latencies: lower is better. ITL p95 20 vs 25 (aggregated better) then 30 vs 25 (disaggregated): zero halfway, 1500.
    expect(crossovers([row(1000, 1, 1, 20, 25), row(2000, 1, 1, 30, 25)], 'itl_p95')).toEqual([{ metric: 'itl_p95', isl: 1500, direction: 'disaggregated-ahead' }]);
    // Goodput (breakeven --slo): 5 vs 4 req/s per GPU at 4000, 5 vs 6 at 6000: lead -1 then +1, zero at 5000. Without
    // an SLO the rows have no goodput, and nothing crosses on it.
    const g = (isl: number, agg: number, dis: number) => ({ ...row(isl, 1, 1), aggGoodputPerGpu: agg, disaggGoodputPerGpu: dis });
    expect(crossovers([g(4000, 5, 4), g(6000, 5, 6)], 'goodput')).toEqual([{ metric: 'goodput', isl: 5000, direction: 'disaggregated-ahead' }]);
    expect(crossovers(rows, 'goodput')).toEqual([]);
  });

  it('breakeven: ratios per ISL, and the crossover is the first ISL where disaggregated tok/s exceeds aggregated', () => {
    const rows = breakevenRows(breakeven);
    expect(rows.map((r) => [r.isl, r.throughputRatio, r.itlRatio])).toEqual([
      [1000, 480 / 500, 15 / 16],
      [2000, 450 / 400, 15 / 20],
    ]);
    expect(crossoverIsl(rows)).toBe(2000);
    // Worked by hand: unsorted input, a tie is not a win, and never winning is null.
    const r = (isl: number, aggTokS: number, disaggTokS: number) => ({ isl, aggTokS, disaggTokS });
    expect(crossoverIsl([r(3000, 300, 310), r(1000, 500, 400), r(2000, 400, 400)])).toBe(3000);
    expect(crossoverIsl([r(1000, 500, 600)])).toBe(1000);
    expect(crossoverIsl([r(1000, 500, 400), r(2000, 400, 399)])).toBeNull();
    expect(crossoverIsl([])).toBeNull();
  });

  it('kv-transfer from a summary skips points with no completed transfer and names series that had none', () => {
    const { rows, noTransfer } = kvTransferRowsFromSummary(longContext);
    expect(rows.map((x) => [x.series, x.tokens, x.s])).toEqual([
      ['ib-rdma', 1000, 0.05],
      ['tcp', 1000, 80],
      ['ib-rdma', 4000, 0.12],
    ]);
    expect(noTransfer).toEqual([]);
    const onlyFailed = summary('x', [longContext.points[0]!, longContext.points[3]!]);
    expect(kvTransferRowsFromSummary(onlyFailed).noTransfer).toEqual(['tcp']);
  });

  it('kv-transfer estimated: the seed 000 numbers of `transfer` (39.3 GB at 120k tokens, tcp past the timeout)', () => {
    const rows = kvTransferEstimateRows(defaultCatalog(), {
      model: 'deepseek-r1-distill-llama-70b',
      prefillTp: 8,
      decodeTp: 8,
      tokens: [120_000],
      transports: ['ib-rdma', 'tcp'],
    });
    expect(rows.map((r) => [r.series, r.bytesTotal, r.exceedsTimeout])).toEqual([
      ['ib-rdma', 39_321_600_000, false],
      ['tcp', 39_321_600_000, true],
    ]);
    expect(rows[1]!.s).toBeGreaterThan(390);
  });

  it('ttft-cdf: colour by the category, dash by the number, thinned to at most max lines', () => {
    const cdf = ttftCdfRows(longContext, 12);
    expect([cdf.colourTitle, cdf.dashTitle, cdf.shown, cdf.note]).toEqual(['transport', 'ISL', 4, null]);
    expect(cdf.rows.every((r) => r.fraction >= 0 && r.fraction <= 1)).toBe(true);
    const thin = ttftCdfRows(longContext, 2);
    expect(thin.shown).toBe(2);
    expect(thin.note).toBe('ISL 1,000 of 2 values');
    const failed = summary('f', [point('p000', { 'deployment.connector': 'decode-wider-tp' }, { ttft: 0, completed: 0 }), point('p001', { 'deployment.connector': 'any-tp' }, { ttft: 200 })]);
    const f = ttftCdfRows(failed);
    expect([f.shown, f.empty, f.colourTitle]).toEqual([1, ['decode-wider-tp'], 'connector']);
  });

  it('tp-matrix: 16 cells per profile; decode-wider-tp crashes with KeyError when prefill is wider, any-tp never fails', () => {
    const cells = tpMatrixRows(defaultCatalog());
    const profiles = [...new Set(cells.map((c) => c.connector))];
    expect(profiles).toEqual(['equal-tp', 'decode-wider-tp', 'any-tp', 'any-tp-hardened']);
    expect(cells).toHaveLength(16 * profiles.length);
    const at = (c: string, p: number, d: number) => cells.find((x) => x.connector === c && x.prefillTp === p && x.decodeTp === d)!;
    expect([at('decode-wider-tp', 4, 1).outcome, at('decode-wider-tp', 4, 1).text]).toEqual(['crash', 'KeyError']);
    expect([at('any-tp', 4, 1).outcome, at('any-tp', 4, 1).text]).toEqual(['ok', '4 READs']);
    expect(at('equal-tp', 1, 2).outcome).toBe('rejected');
    expect(cells.filter((c) => c.connector === 'any-tp').every((c) => c.outcome === 'ok')).toBe(true);
  });

  it('kinds by sweep: ISL x transport, ISL x mode (ttft-vs-isl too), a connector alone (no tp-matrix); ttft-cdf always', () => {
    expect(applicableKinds(longContext)).toEqual(['ttft-vs-isl', 'kv-transfer', 'transport-compare', 'ttft-cdf']);
    expect(applicableKinds(breakeven)).toEqual(['ttft-vs-isl', 'breakeven', 'ttft-cdf']);
    expect(applicableKinds(summary('c', [point('p0', { 'deployment.connector': 'any-tp' }, { ttft: 1 })]))).toEqual(['ttft-cdf']);
    expect(chartSpec('breakeven', longContext)).toBeNull();
  });
});

describe('chart specs', () => {
  it('every kind compiles without warnings, with a title and axis titles with units', () => {
    expectWellFormed(ttftVsIslSpec(ttftVsIslRows(longContext)), [/input length.*\(tokens\)/, /time to first token \(s/]);
    expectWellFormed(breakevenSpec(breakevenRows(breakeven)), [/ISL \(tokens\)/, /ratio/]);
    expectWellFormed(kvTransferSpec(kvTransferRowsFromSummary(longContext).rows), [/context length \(tokens\)/, /KV transfer time.*\(s/]);
    expectWellFormed(ttftCdfSpec(ttftCdfRows(breakeven)), [/time to first token \(ms/, /fraction of requests/]);
    expectWellFormed(tpMatrixSpec(tpMatrixRows(defaultCatalog())), [/^decode TP$/, /^prefill TP$/]);
    expectWellFormed(kvTransferEstimateSpec(defaultCatalog(), { model: 'llama-3.1-8b-instruct', tokens: [1000, 8000], transports: ['efa-libfabric', 'tcp'] }), [
      /context length/,
      /KV transfer time/,
    ]);
  });

  it('ttft-vs-isl draws the 120 s abort timeout as a labelled rule on a log axis when a transport reaches it', () => {
    const spec = JSON.stringify(ttftVsIslSpec(ttftVsIslRows(longContext)));
    expect(spec).toContain('vLLM abort timeout (120 s)');
    expect(spec).toContain('"type":"log"');
    expect(spec).toContain('Hollow rings: requests fell back');
  });

  it('breakeven labels the crossover ISL and says "none" when there is none', () => {
    expect(JSON.stringify(breakevenSpec(breakevenRows(breakeven)))).toContain('crossover: ISL 2,000');
    const never = breakevenRows(breakeven).map((r) => ({ ...r, disaggTokS: r.aggTokS / 2, throughputRatio: 0.5 }));
    const spec = JSON.stringify(breakevenSpec(never));
    expect(spec).toContain('none in the range');
    expect(spec).not.toContain('crossover: ISL');
  });

  it('tp-matrix colours outcomes with fixed colours, whatever outcomes appear', () => {
    const spec = JSON.stringify(tpMatrixSpec(tpMatrixRows(defaultCatalog(), { connectors: ['any-tp'] })));
    expect(spec).toContain('"domain":["ok","rejected","crash"]');
  });
});

describe('rendering', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'nixlsim-charts-'));
    dirs.push(d);
    return d;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('writeCharts writes .vl.json, .svg and .png for the kinds that apply, byte-identical twice', async () => {
    const a = tmp();
    const b = tmp();
    const files = await writeCharts(longContext, a);
    const names = files.map((f) => f.slice(a.length + 1));
    expect(names).toEqual(['ttft-vs-isl', 'kv-transfer', 'transport-compare', 'ttft-cdf'].flatMap((k) => [`${k}.vl.json`, `${k}.svg`, `${k}.png`]));
    await writeCharts(longContext, b);
    for (const n of names) {
      if (n.endsWith('.png')) continue;
      expect(readFileSync(join(b, n), 'utf8'), n).toBe(readFileSync(join(a, n), 'utf8'));
    }
    const png = readFileSync(join(a, 'ttft-vs-isl.png'));
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.length).toBeGreaterThan(20_000);
    expect(png.length).toBeLessThan(2_000_000);
    // IHDR: 1280 pixels wide.
    expect(png.readUInt32BE(16)).toBe(1280);
    const svg = readFileSync(join(a, 'ttft-vs-isl.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    // This summary records no expiry and sweeps no connector: the default build's 120 s, said to be assumed.
    expect(svg).toContain('vLLM abort timeout (120 s, assumed)');
    expect(svg).not.toContain('opacity="NaN"');
    expect(JSON.parse(readFileSync(join(a, 'kv-transfer.vl.json'), 'utf8'))['$schema']).toBe(VEGA_LITE_SCHEMA);
  });

  it('asked-for kinds without data are skipped and reported', async () => {
    const skipped: string[] = [];
    const files = await writeCharts(longContext, tmp(), { kinds: ['breakeven'], onSkip: (k) => skipped.push(k) });
    expect(files).toEqual([]);
    expect(skipped).toEqual(['breakeven']);
  });

  it('svg ids are renumbered in order of appearance, with their references', () => {
    const svg = '<svg><clipPath id="clip7"><rect/></clipPath><g clip-path="url(#clip7)"/><clipPath id="clip12"/><use href="#clip12"/></svg>';
    expect(normaliseSvgIds(svg)).toBe('<svg><clipPath id="nx1"><rect/></clipPath><g clip-path="url(#nx1)"/><clipPath id="nx2"/><use href="#nx2"/></svg>');
  });

  it('text is measured with real glyph widths, not 0.8 em a character', () => {
    // DejaVu Sans advances '0' by 1303/2048 em = 0.636 em (the table's 636): 4 x 0.636 x 10 px = 25.44 px.
    expect(textWidth('0000', 10)).toBeCloseTo(25.44, 6);
    expect(textWidth('iiii', 10)).toBeLessThan(textWidth('mmmm', 10));
    expect(textWidth('KeyError', 11, true)).toBeGreaterThan(textWidth('KeyError', 11));
  });

  it('CHART_KINDS lists the ten kinds', () => {
    expect([...CHART_KINDS]).toEqual(['ttft-vs-isl', 'breakeven', 'kv-transfer', 'transport-compare', 'ttft-cdf', 'tp-matrix', 'transfer-curve', 'tornado', 'pareto', 'autoscale']);
  });
});
