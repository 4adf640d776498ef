import { describe, expect, it } from 'vitest';
import type { PointBands } from '../../src/spec/bands.js';
import type { PointResult, Stats } from '../../src/spec/experiment.js';
import { chartSpec, kvTransferRowsFromSummary, ttftVsIslRows } from '../../src/report/charts/index.js';
import type { Summary } from '../../src/spec/summary.js';

const stats = (mean: number, p95 = mean): Stats => ({ mean, p50: mean, p90: p95, p95, p99: p95, min: mean, max: p95 });
const b = (p5: number, p50: number, p95: number) => ({ p5, p50, p95 });

function point(id: string, isl: number, transport: string, ttftMs: number, bands?: PointBands): PointResult {
  return {
    id,
    params: { 'workload.isl.mean': isl, 'deployment.transport': transport },
    requests: { total: 4, completed: 4, failed: 0, fellBack: 0, inFlight: 0, stale: 0 },
    ttftMs: stats(ttftMs, ttftMs * 1.5),
    itlMs: stats(20),
    e2eMs: stats(ttftMs + 100),
    queueMs: stats(0),
    kvTransfer: { bytesMean: 1e9, ms: stats(ttftMs / 2), effectiveGBps: 1 },
    throughput: { outputTokensPerS: 10, requestsPerS: 1 },
    utilisation: { workers: {}, kvPoolPeak: {}, links: {} },
    events: {},
    durationS: 1,
    ...(bands ? { bands } : {}),
  };
}

const bands = (ttftMs: number): PointBands => ({
  samples: 8,
  varied: ['transport.bandwidthPerRailGBps'],
  fellBackSamples: 0,
  ttftMs: { mean: b(ttftMs * 0.8, ttftMs, ttftMs * 1.4), p50: b(ttftMs * 0.8, ttftMs, ttftMs * 1.4), p95: b(ttftMs, ttftMs * 1.5, ttftMs * 2) },
  itlMs: { mean: b(18, 20, 25), p50: b(18, 20, 25) },
  outputTokensPerS: b(8, 10, 12),
  kvTransferMs: { mean: b(ttftMs * 0.3, ttftMs / 2, ttftMs * 0.9) },
});

const summaryOf = (points: PointResult[]): Summary => ({ schemaVersion: 1, experiment: 'x', seed: 1, points });
const banded = summaryOf([point('p000', 1000, 'tcp', 1000, bands(1000)), point('p001', 2000, 'tcp', 2000, bands(2000))]);
const plain = summaryOf([point('p000', 1000, 'tcp', 1000), point('p001', 2000, 'tcp', 2000)]);

type Layer = { mark: { type: string } | string; data?: { values: Record<string, unknown>[] }; encoding?: Record<string, { field?: string }> };
const layers = (s: Summary, kind: 'ttft-vs-isl' | 'kv-transfer'): Layer[] => (JSON.parse(JSON.stringify(chartSpec(kind, s))) as { layer: Layer[] }).layer;
const areas = (ls: Layer[]) => ls.filter((l) => typeof l.mark === 'object' && l.mark.type === 'area');

describe('charts with uncertainty bands', () => {
  it('ttft-vs-isl: each line gets its p5-p95 band, in seconds, drawn under it', () => {
    const rows = ttftVsIslRows(banded);
    // Point p000's mean band is 800 / 1000 / 1400 ms and its p95 band 1000 / 1500 / 2000 ms.
    expect(rows.filter((r) => r.isl === 1000).map((r) => [r.stat, r.ttftS, r.loS, r.hiS])).toEqual([
      ['mean', 1, 0.8, 1.4],
      ['p95', 1.5, 1, 2],
    ]);
    const ls = layers(banded, 'ttft-vs-isl');
    expect(areas(ls)).toHaveLength(1);
    expect(ls[0]).toBe(areas(ls)[0]); // first: under the lines
    expect(ls[0]!.encoding!['y']!.field).toBe('loS');
    expect(ls[0]!.encoding!['y2']!.field).toBe('hiS');
    expect(ls[0]!.data!.values).toHaveLength(4);
    const spec = JSON.parse(JSON.stringify(chartSpec('ttft-vs-isl', banded)));
    expect(spec.title.subtitle.join(' ')).toContain('p5 to p95 over 8 Monte Carlo samples');
  });

  it('kv-transfer: the band of the mean transfer time', () => {
    expect(kvTransferRowsFromSummary(banded).rows.map((r) => [r.tokens, r.s, r.loS, r.hiS])).toEqual([
      [1000, 0.5, 0.3, 0.9],
      [2000, 1, 0.6, 1.8],
    ]);
    expect(areas(layers(banded, 'kv-transfer'))).toHaveLength(1);
  });

  it('without bands the charts are as before: no area, no band fields', () => {
    expect(areas(layers(plain, 'ttft-vs-isl'))).toHaveLength(0);
    expect(areas(layers(plain, 'kv-transfer'))).toHaveLength(0);
    expect(ttftVsIslRows(plain).every((r) => r.loS === undefined && r.hiS === undefined)).toBe(true);
  });
});
