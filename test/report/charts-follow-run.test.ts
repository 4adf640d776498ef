/**
 * Issue 24, charts that follow the run: the abort / lease line from each point's connector profile, fallen-back
 * points drawn, the TTFT CDF through every percentile kept, the plan's Pareto front and SLO limits, a colour-blind-safe
 * palette with shapes, which kinds a sweep gets, the transport-compare chart, and `chart` / `merge` rendering them.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TopLevelSpec } from 'vega-lite';
import { chartFiles } from '../../src/cli/commands/chart.js';
import { defaultCatalog } from '../../src/catalog/index.js';
import type { PointResult, Stats } from '../../src/spec/experiment.js';
import type { PlanJson } from '../../src/plan/types.js';
import { paretoRows, planParetoOptions } from '../../src/plan/report.js';
import {
  applicableKinds,
  chartSpec,
  compileSpec,
  expiryLines,
  kvTransferRowsFromSummary,
  OUTCOME_COLOURS,
  paretoSpec,
  TABLEAU10,
  tpMatrixRows,
  tpMatrixSpec,
  transportCompareRows,
  ttftCdfRows,
  ttftCdfSpec,
} from '../../src/report/charts/index.js';
import type { Summary } from '../../src/spec/summary.js';
import { nixlsimInProcess } from '../helpers/cli.js';

const stats = (mean: number, p95 = mean): Stats => ({ mean, p50: mean, p90: p95, p95, p99: p95, min: mean / 2, max: p95 });
const PCTS = [0, 1, 2, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 98, 99, 99.9, 100];

type Expiry = PointResult['expiry'];
const ABORT_120: Expiry = { connector: 'decode-wider-tp', kind: 'abort-timeout', timeoutS: 120 };
const ABORT_480: Expiry = { connector: 'any-tp', kind: 'abort-timeout', timeoutS: 480 };
const LEASE_30: Expiry = { connector: 'any-tp-hardened', kind: 'lease', leaseS: 30, heartbeatS: 5, extendS: 20 };

/** A point with what charts read; `kvMs` 0 (or absent) means no transfer completed (its stats null, as summaries write them). */
function point(
  id: string,
  params: Record<string, unknown>,
  o: { ttft: number; kvMs?: number; fellBack?: number; completed?: number; expiry?: Expiry; alike?: boolean },
): PointResult {
  const completed = o.completed ?? 10;
  const none = { mean: null, p50: null, p90: null, p95: null, p99: null, min: null, max: null };
  return {
    id,
    params,
    requests: { total: 10, completed, failed: 10 - completed, fellBack: o.fellBack ?? 0, inFlight: 0, stale: 0 },
    ttftMs: (completed ? stats(o.ttft) : none) as Stats,
    itlMs: stats(20),
    e2eMs: stats(o.ttft + 1000),
    queueMs: stats(0),
    kvTransfer: (o.kvMs ? { bytesMean: 1e9, ms: stats(o.kvMs), effectiveGBps: 1 } : { bytesMean: null, ms: none, effectiveGBps: null }) as PointResult['kvTransfer'],
    throughput: { outputTokensPerS: 100, requestsPerS: 1 },
    utilisation: { workers: {}, kvPoolPeak: {}, links: {} },
    events: {},
    durationS: 10,
    ttftCdfMs: completed ? PCTS.map((p) => ({ p, ms: o.alike ? o.ttft : o.ttft * (0.5 + p / 100) })) : [],
    ...(o.expiry ? { expiry: o.expiry } : {}),
  };
}

const summary = (experiment: string, points: PointResult[]): Summary => ({ schemaVersion: 1, experiment, seed: 1, points });
const ISL = 'workload.isl.mean';
const T = 'deployment.transport';

/** Seed 000's shape: ISL x transport, tcp slow. Under `expiry` (the build's), tcp completes or falls back. */
function longContext(expiry: Expiry, tcpFallsBack: boolean): Summary {
  return summary('lc', [
    point('p000', { [ISL]: 40_000, [T]: 'ib-rdma' }, { ttft: 2_000, kvMs: 300, expiry }),
    point('p001', { [ISL]: 40_000, [T]: 'tcp' }, { ttft: 140_000, kvMs: 135_000, expiry }),
    point('p002', { [ISL]: 130_000, [T]: 'ib-rdma' }, { ttft: 9_000, kvMs: 1_100, expiry }),
    tcpFallsBack
      ? point('p003', { [ISL]: 130_000, [T]: 'tcp' }, { ttft: 136_000, fellBack: 10, expiry })
      : point('p003', { [ISL]: 130_000, [T]: 'tcp' }, { ttft: 450_000, kvMs: 440_000, expiry }),
  ]);
}

/** The y values of every rule in a spec (layers nested anywhere), by the field the rule encodes. */
function ruleValues(spec: unknown, field: string): number[] {
  const out: number[] = [];
  const walk = (n: unknown, data: unknown) => {
    if (Array.isArray(n)) return n.forEach((x) => walk(x, data));
    if (n === null || typeof n !== 'object') return;
    const o = n as Record<string, unknown>;
    const d = o['data'] ?? data;
    const mark = o['mark'] as Record<string, unknown> | string | undefined;
    if ((typeof mark === 'string' ? mark : mark?.['type']) === 'rule') {
      for (const v of ((d as { values?: Record<string, unknown>[] })?.values ?? [])) if (typeof v[field] === 'number') out.push(v[field] as number);
    }
    for (const [k, v] of Object.entries(o)) if (k !== 'data') walk(v, d);
  };
  walk(spec, undefined);
  return [...new Set(out)].sort((a, b) => a - b);
}

/** Every layer (at any depth) whose data values carry a `marker` field: the fallen-back rings. */
function ringLayers(spec: unknown): Record<string, unknown>[][] {
  const out: Record<string, unknown>[][] = [];
  const walk = (n: unknown) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n === null || typeof n !== 'object') return;
    const o = n as Record<string, unknown>;
    const vals = (o['data'] as { values?: Record<string, unknown>[] } | undefined)?.values;
    if (vals && vals.length && vals.every((v) => typeof v['marker'] === 'string')) out.push(vals);
    for (const v of Object.values(o)) walk(v);
  };
  walk(spec);
  return out;
}

function noWarnings(spec: TopLevelSpec): void {
  expect(compileSpec(spec).warnings).toEqual([]);
}

describe('the abort / lease line follows each point\u2019s connector profile', () => {
  it('any-tp (480 s): ttft-vs-isl and kv-transfer draw a rule at 480 and none at 120, labelled with the profile', () => {
    const s = longContext(ABORT_480, false);
    for (const kind of ['ttft-vs-isl', 'kv-transfer'] as const) {
      const spec = chartSpec(kind, s)!;
      const field = kind === 'ttft-vs-isl' ? 'ttftS' : 's';
      expect(ruleValues(spec, field), kind).toEqual([480]);
      const text = JSON.stringify(spec);
      expect(text).toContain('vLLM abort timeout (480 s, any-tp)');
      expect(text).not.toContain('120 s');
      noWarnings(spec);
    }
    // The report: tcp at 135 s is above 120 but below 480, so "above the abort timeout" only past 480 (440 s is not).
    expect(JSON.stringify(chartSpec('kv-transfer', s))).not.toContain('Above the');
  });

  it('the 120 s build draws 120 and says tcp went above it; a sweep over both builds draws one line each', () => {
    const s = longContext(ABORT_120, false);
    const kv = chartSpec('kv-transfer', s)!;
    expect(ruleValues(kv, 's')).toEqual([120]);
    expect(JSON.stringify(kv)).toContain('Above the 120 s abort timeout at some lengths: tcp.');
    const both = summary('both', [...longContext(ABORT_120, false).points, ...longContext(ABORT_480, false).points.map((p) => ({ ...p, id: `${p.id}b` }))]);
    const lines = expiryLines(both.points);
    expect(lines.map((l) => [l.s, l.label])).toEqual([
      [120, 'vLLM abort timeout (120 s, decode-wider-tp)'],
      [480, 'vLLM abort timeout (480 s, any-tp)'],
    ]);
  });

  it('a lease build draws its lease, dotted and labelled as renewed; an old summary takes the swept connector\u2019s profile', () => {
    const lease = longContext(LEASE_30, false);
    const spec = chartSpec('ttft-vs-isl', lease)!;
    expect(ruleValues(spec, 'ttftS')).toEqual([30]);
    expect(JSON.stringify(spec)).toContain('KV lease (30 s, renewed every 5 s while decode lives, any-tp-hardened)');
    expect(JSON.stringify(spec)).toContain('"strokeDash":[2,3]');
    // No `expiry` recorded (summaries before it): deployment.connector any-tp in params -> the catalog's 480 s.
    const old = summary('old', [point('p0', { [ISL]: 1000, [T]: 'tcp', 'deployment.connector': 'any-tp' }, { ttft: 300_000, kvMs: 290_000 })]);
    expect(expiryLines(old.points, defaultCatalog()).map((l) => l.s)).toEqual([480]);
    expect(expiryLines([point('p0', {}, { ttft: 1 })]).map((l) => l.label)).toEqual(['vLLM abort timeout (120 s, assumed)']);
  });
});

describe('series drawn on top of each other are named', () => {
  it('roce-rdma with the values of ib-rdma at every length: said in the subtitle of ttft-vs-isl and kv-transfer', () => {
    const base = longContext(ABORT_120, false).points.filter((p) => p.params[T] === 'ib-rdma');
    const twin = base.map((p) => ({ ...p, id: `${p.id}r`, params: { ...p.params, [T]: 'roce-rdma' } }));
    const s = summary('twins', [...base, ...twin]);
    for (const kind of ['ttft-vs-isl', 'kv-transfer'] as const) {
      expect(JSON.stringify(chartSpec(kind, s)), kind).toContain('Drawn on top of each other (the same values at every length): roce-rdma with ib-rdma.');
    }
    expect(JSON.stringify(chartSpec('kv-transfer', longContext(ABORT_120, false)))).not.toContain('Drawn on top of each other');
  });
});

describe('fallen-back points are drawn, not dropped', () => {
  it('kv-transfer: one hollow ring per point that fell back, at its abort time, with a legend entry', () => {
    const s = longContext(ABORT_120, true);
    const { rows, fellBack } = kvTransferRowsFromSummary(s);
    // Three completed transfers; tcp at 130k: no transfer, 10 fell back, drawn at 120 s.
    expect(rows).toHaveLength(3);
    expect(fellBack).toEqual([{ tokens: 130_000, series: 'tcp', s: 120, fellBack: 10, completed: 10, someCompleted: false }]);
    const spec = chartSpec('kv-transfer', s)!;
    const rings = ringLayers(spec);
    expect(rings).toHaveLength(1);
    expect(rings[0]!.map((r) => [r['series'], r['tokens'], r['s']])).toEqual([['tcp', 130_000, 120]]);
    // The ring has its own legend entry (an opacity legend with one symbol, hollow).
    expect(JSON.stringify(spec)).toContain('"domain":["hollow ring: requests fell back (KV released unread)"]');
    expect(JSON.stringify(spec)).toContain('"symbolFillColor":"white"');
    noWarnings(spec);
  });

  it('ttft-vs-isl: the point that fell back is drawn at its TTFT and ringed', () => {
    const spec = chartSpec('ttft-vs-isl', longContext(ABORT_120, true))!;
    const rings = ringLayers(spec);
    expect(rings).toHaveLength(1);
    expect(rings[0]!.map((r) => [r['series'], r['isl'], r['ttftS']])).toEqual([['tcp', 130_000, 136]]);
    noWarnings(spec);
  });
});

describe('ttft-cdf: an empirical CDF through every percentile kept', () => {
  it('steps through all 26 percentiles of each point and says so', () => {
    const s = longContext(ABORT_120, false);
    const cdf = ttftCdfRows(s);
    expect(cdf.percentiles).toBe(26);
    expect(cdf.rows.filter((r) => r.point === 'p000')).toHaveLength(26);
    const spec = ttftCdfSpec(cdf);
    const text = JSON.stringify(spec);
    expect(text).toContain('"interpolate":"step-after"');
    expect(text).toContain('step function through the 26 percentiles (p0 to p100)');
    expect(text).not.toContain('Every request alike');
    noWarnings(spec);
  });

  it('notes when every request is alike', () => {
    const s = summary('same', [point('p0', { [T]: 'ib-rdma' }, { ttft: 500, alike: true }), point('p1', { [T]: 'tcp' }, { ttft: 900, alike: true })]);
    const cdf = ttftCdfRows(s);
    expect(cdf.alike).toEqual([{ label: 'ib-rdma', ms: 500 }, { label: 'tcp', ms: 900 }]);
    expect(JSON.stringify(ttftCdfSpec(cdf))).toContain('Every request alike: at each point all requests had one TTFT, so its CDF is a single vertical step (ib-rdma: 500 ms; tcp: 900 ms).');
  });
});

/** A plan of three configurations meeting the SLO: two on the front; the recommended stopped by TTFT, aggregated by ITL. */
function plan(): PlanJson {
  const entry = (id: string, mode: 'aggregated' | 'disaggregated', ttft: number, itl: number, goodput: number, pareto: boolean, bound: string[]) => ({
    id,
    label: id,
    deployment:
      mode === 'aggregated' ? { mode, aggregated: { workers: 8, tp: 1 } } : { mode, prefill: { workers: 6, tp: 1 }, decode: { workers: 1, tp: 2 } },
    meetsSlo: true,
    maxRate: goodput * 8,
    goodputPerGpu: goodput,
    ttftP95Ms: ttft,
    itlP95Ms: itl,
    pareto,
    limit: { rate: goodput * 9, violations: [], bound },
  });
  return {
    inputs: { model: 'm', gpus: 8, gpu: 'h100-sxm', node: 'p5', transport: 'efa-libfabric', slo: ['ttft_p95_ms<=2000', 'itl_p95_ms<=50', 'e2e_p99_ms<=9000'] },
    ranked: [entry('d1', 'disaggregated', 1800, 22, 4.33, true, ['ttft_p95']), entry('a1', 'aggregated', 230, 47.6, 4.1, true, ['itl_p95']), entry('d2', 'disaggregated', 1600, 20, 3.5, false, ['ttft_p95'])],
    verdict: { aggregated: { id: 'a1', label: 'a1', maxRate: 32.8, goodputPerGpu: 4.1 }, disaggregated: { id: 'd1', label: 'd1', maxRate: 34.6, goodputPerGpu: 4.33 }, winner: 'disaggregated' },
  } as unknown as PlanJson;
}

describe('pareto: the front and every SLO limit drawn', () => {
  it('a solid line through the 2 front configurations, diamonds for the front, a rule at TTFT 2000 and at ITL 50', () => {
    const p = plan();
    const rows = paretoRows(p);
    const spec = paretoSpec(rows, planParetoOptions(p, rows));
    const s = spec as unknown as { hconcat: { layer: Record<string, unknown>[] }[] };
    expect(s.hconcat).toHaveLength(2);
    const frontLine = s.hconcat[0]!.layer.find((l) => (l['mark'] as Record<string, unknown>)['type'] === 'line')!;
    expect((frontLine['data'] as { values: { id: string }[] }).values.map((v) => v.id)).toEqual(['a1', 'd1']);
    expect(frontLine['mark']).not.toHaveProperty('strokeDash');
    expect(JSON.stringify(spec)).toContain('"range":["diamond","circle"]');
    expect(ruleValues(s.hconcat[0], 'ttftP95Ms')).toEqual([2000]);
    expect(ruleValues(s.hconcat[1], 'itlP95Ms')).toEqual([50]);
    const text = JSON.stringify(spec);
    // The bound that stops each: TTFT the recommended, ITL the aggregated best; the e2e term is named.
    expect(text).toContain('SLO: TTFT p95 <= 2000 ms (limits the recommended)');
    expect(text).toContain('SLO: ITL p95 <= 50 ms (limits aggregated 8 x TP1)');
    expect(text).toContain('SLO terms with no axis here (met by every point drawn): e2e_p99_ms<=9000.');
    noWarnings(spec);
  });
});

describe('a colour-blind-safe palette, shapes as a second cue', () => {
  it('transports take tableau10 colours and a shape each; other series the tableau10 scheme; tp-matrix is blue / orange / grey with words', () => {
    const spec = JSON.stringify(chartSpec('ttft-vs-isl', longContext(ABORT_120, false)));
    expect(spec).toContain(`"domain":["ib-rdma","tcp"],"range":["${TABLEAU10[0]}","${TABLEAU10[8]}"]`);
    expect(spec).toContain('"domain":["ib-rdma","tcp"],"range":["circle","triangle-down"]');
    const modes = summary('m', [
      point('p0', { [ISL]: 1000, 'deployment.mode': 'aggregated' }, { ttft: 100 }),
      point('p1', { [ISL]: 1000, 'deployment.mode': 'disaggregated' }, { ttft: 200, kvMs: 10 }),
    ]);
    expect(JSON.stringify(chartSpec('ttft-vs-isl', modes))).toContain('"scheme":"tableau10"');
    expect(Object.values(OUTCOME_COLOURS)).toEqual(['#4c78a8', '#f58518', '#3b3b3b']);
    const tp = tpMatrixSpec(tpMatrixRows(defaultCatalog(), { connectors: ['decode-wider-tp'] }));
    const tpText = JSON.stringify(tp);
    expect(tpText).not.toMatch(/#2e7d32|#c62828/);
    const cells = (tp as unknown as { data: { values: { cellText: string }[] } }).data.values.map((v) => v.cellText.split('\n')[0]);
    expect(new Set(cells)).toEqual(new Set(['ok', 'crash']));
  });
});

describe('which kinds a sweep gets', () => {
  it('tp-matrix only when a TP varies; not for a TCP-vs-RDMA sweep; ttft-vs-isl for ISL x mode', () => {
    const tcpVsRdma = summary('t', [point('p0', { [T]: 'tcp' }, { ttft: 1000, kvMs: 900 }), point('p1', { [T]: 'ib-rdma' }, { ttft: 100, kvMs: 10 })]);
    expect(applicableKinds(tcpVsRdma)).toEqual(['transport-compare', 'ttft-cdf']);
    const tp = summary('tp', [point('p0', { 'deployment.prefill.tp': 1 }, { ttft: 100 }), point('p1', { 'deployment.prefill.tp': 2 }, { ttft: 100 })]);
    expect(applicableKinds(tp)).toContain('tp-matrix');
    const islMode = summary('im', [
      point('p0', { [ISL]: 1000, 'deployment.mode': 'aggregated' }, { ttft: 100 }),
      point('p1', { [ISL]: 1000, 'deployment.mode': 'disaggregated' }, { ttft: 200, kvMs: 10 }),
    ]);
    expect(applicableKinds(summary('im2', [...islMode.points, ...islMode.points.map((p) => ({ ...p, id: `${p.id}b`, params: { ...p.params, [ISL]: 2000 } }))]))).toEqual([
      'ttft-vs-isl',
      'breakeven',
      'ttft-cdf',
    ]);
    // One ISL (a sweep of one value) is no curve: no ttft-vs-isl.
    expect(applicableKinds(summary('one', [point('p0', { [ISL]: 40_000 }, { ttft: 100 })]))).toEqual(['ttft-cdf']);
  });
});

describe('transport-compare', () => {
  it('TTFT and KV time per transport at the longest ISL every transport ran at; tcp fell back there, its KV bar missing', () => {
    const s = longContext(ABORT_120, true);
    const c = transportCompareRows(s);
    expect(c.isl).toBe(130_000);
    expect(c.otherIsls).toEqual([40_000]);
    expect(c.rows.map((r) => [r.series, r.metric, r.s])).toEqual([
      ['ib-rdma', 'TTFT (mean)', 9],
      ['ib-rdma', 'KV transfer (mean)', 1.1],
      ['tcp', 'TTFT (mean)', 136],
    ]);
    expect(c.missing).toEqual([{ series: 'tcp', metric: 'KV transfer (mean)' }]);
    const spec = chartSpec('transport-compare', s)!;
    expect(JSON.stringify(spec)).toContain('tcp (10 of 10)');
    expect(ruleValues(spec, 's')).toEqual([120]);
    noWarnings(spec);
  });
});

describe('`chart` renders tornado and pareto; `merge` renders the merged run\u2019s charts', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'nixlsim-charts-run-'));
    dirs.push(d);
    return d;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('a sensitivity.json gives tornado, a plan.json pareto; other kinds asked of them are an error', async () => {
    const out = tmp();
    const t = await chartFiles({ summary: 'reports/charts/sensitivity/sensitivity.json', out });
    expect(t.files.map((f) => f.slice(out.length + 1))).toEqual(['tornado.vl.json', 'tornado.svg', 'tornado.png']);
    const dir = tmp();
    writeFileSync(join(dir, 'plan.json'), JSON.stringify(plan()));
    const p = await chartFiles({ summary: dir });
    expect(p.files.map((f) => f.slice(dir.length + 1))).toEqual(['pareto.vl.json', 'pareto.svg', 'pareto.png']);
    expect(readFileSync(join(dir, 'pareto.vl.json'), 'utf8')).toContain('limits the recommended');
    await expect(chartFiles({ summary: dir, kind: ['ttft-cdf'] })).rejects.toThrow(/draws only the pareto chart/);
  });

  it('merge writes the charts of the whole run', async () => {
    const root = tmp();
    const set = ['--set', 'workload.requests=6', '--set', 'workload.warmup=1'];
    const shards: string[] = [];
    for (const i of [1, 2]) {
      const out = join(root, `s${i}`);
      const r = await nixlsimInProcess(['run', 'experiments/seeds/breakeven.yaml', '--out', out, '--shard', `${i}/2`, '--workers', '1', ...set]);
      expect([r.code, r.stderr]).toEqual([0, '']);
      shards.push(out);
    }
    const merged = join(root, 'merged');
    const r = await nixlsimInProcess(['merge', ...shards, '--out', merged]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    for (const k of ['ttft-vs-isl', 'breakeven', 'ttft-cdf']) expect(existsSync(join(merged, `${k}.png`)), k).toBe(true);
  });
});
