/**
 * points.csv, report.md, null for metrics with no samples, and counts that agree between the table, the notable
 * events, summary.json and points.csv. The expected values are worked out from the inputs, not copied from output.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pointsTable } from '../../src/report/run-table.js';
import { runExperiment, runExperimentOnPool, type RunOutput } from '../../src/run/run.js';
import type { PointResult } from '../../src/spec/experiment.js';
import { NO_STATS } from '../../src/metrics/histogram.js';
import { compareWithBaseline, compareWithExpectations, type Baseline } from '../../src/report/baseline.js';
import { csvCell, pointsCsv } from '../../src/report/points-csv.js';
import { reportMd } from '../../src/report/report-md.js';
import { buildSummary, summaryJson } from '../../src/spec/summary.js';
import { num } from '../../src/report/table.js';
import { fakeResult, fixture } from '../experiment/helpers.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'nixlsim-reports-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Rows of a CSV without quoted cells, as maps from header to cell. */
function parseCsv(text: string): Map<string, string>[] {
  expect(text.endsWith('\n')).toBe(true);
  const [head, ...rows] = text.slice(0, -1).split('\n').map((l) => l.split(','));
  return rows.map((r) => {
    expect(r).toHaveLength(head!.length);
    return new Map(head!.map((h, i) => [h, r[i]!]));
  });
}

/** A point that served nothing: every latency and the KV transfer without samples. */
function emptyPoint(id: string, params: Record<string, unknown>): PointResult {
  return {
    id,
    params,
    requests: { total: 4, completed: 0, failed: 4, fellBack: 0, inFlight: 0, stale: 0 },
    ttftMs: NO_STATS,
    itlMs: NO_STATS,
    e2eMs: NO_STATS,
    queueMs: NO_STATS,
    kvTransfer: { bytesMean: null, ms: NO_STATS, effectiveGBps: null },
    throughput: { outputTokensPerS: 0, requestsPerS: 0 },
    utilisation: { workers: { 'decode-0': 0 }, kvPoolPeak: {}, links: {} },
    events: { request_failed: 4 },
    durationS: 12,
  };
}

describe('points.csv', () => {
  it('a known point: a row of its numbers under summary.json names', () => {
    // sweep.yaml: transport x ISL; the fake's numbers follow from the ISL (test/experiment/helpers.ts).
    const r = runExperiment(fixture('sweep.yaml'), { out: tmp() }, (p) => fakeResult(p, p.id === 'p005' ? { kv_blocks_expired: 8, fell_back: 10 } : {}));
    const csv = readFileSync(join(r.outDir, 'points.csv'), 'utf8');
    const header = csv.split('\n')[0]!.split(',');
    expect(header.slice(0, 5)).toEqual(['id', 'deployment.transport', 'workload.isl.mean', 'requests.total', 'requests.completed']);
    const rows = parseCsv(csv);
    expect(rows.map((x) => x.get('id'))).toEqual(['p000', 'p001', 'p002', 'p003', 'p004', 'p005']);
    // p003: tcp at ISL 1000. TTFT stats around 1000 / 10 = 100 ms (p50 x0.9, p90 x1.5, p95 x1.8, p99 x2.5, min x0.5,
    // max x3); e2e around 100 + 2500 = 2600 ms; KV around 1000 / 100 = 10 ms and 1000 x 131072 bytes.
    const p3 = rows[3]!;
    const expected: Record<string, number | string> = {
      'deployment.transport': 'tcp',
      'workload.isl.mean': 1000,
      'requests.total': 100,
      'requests.completed': 100,
      'requests.failed': 0,
      'requests.fellBack': 0,
      'ttftMs.mean': 100,
      'ttftMs.p50': 90,
      'ttftMs.p90': 150,
      'ttftMs.p95': 180,
      'ttftMs.p99': 250,
      'ttftMs.min': 50,
      'ttftMs.max': 300,
      'itlMs.mean': 12.5,
      'e2eMs.mean': 2600,
      'e2eMs.p50': 2340,
      'kvTransfer.bytesMean': 131072000,
      'kvTransfer.ms.mean': 10,
      'kvTransfer.ms.p50': 9,
      'kvTransfer.effectiveGBps': 37.5,
      'throughput.outputTokensPerS': 1234.5,
      'throughput.requestsPerS': 2.5,
      'utilisation.workers.decode-0': 0.5,
      'utilisation.workers.prefill-0': 0.25,
      'utilisation.kvPoolPeak.decode-0': 0.75,
      'utilisation.links.decode-0.rank0.nic': 0.1,
      // Logged only by p005; a count p003 never logged is 0, not empty.
      'events.kv_blocks_expired': 0,
      'events.fell_back': 0,
      durationS: 40,
    };
    for (const [k, v] of Object.entries(expected)) {
      if (typeof v === 'string') expect(p3.get(k), k).toBe(v);
      else expect(Number(p3.get(k)), k).toBeCloseTo(v, 9);
    }
    expect(rows[5]!.get('events.fell_back')).toBe('10');
    expect(rows[5]!.get('requests.fellBack')).toBe('10');
    // The same text for the same summary, whichever order its producer built objects in.
    expect(pointsCsv(r.summary)).toBe(csv);
  });

  it('a point without samples: empty cells in the CSV, "-" in the table, null in summary.json', () => {
    const good = fakeResult({ id: 'p000', params: { 'deployment.connector': 'any-tp' }, experiment: { workload: { isl: { mean: 2000 } } } } as never);
    const summary = buildSummary('x', 1, [good, emptyPoint('p001', { 'deployment.connector': 'decode-wider-tp' })]);
    const [, bad] = parseCsv(pointsCsv(summary));
    for (const k of ['ttftMs.mean', 'ttftMs.p95', 'itlMs.mean', 'e2eMs.p50', 'queueMs.max', 'kvTransfer.bytesMean', 'kvTransfer.ms.p50', 'kvTransfer.effectiveGBps']) {
      expect(bad!.get(k), k).toBe('');
    }
    // Counts and throughput are measured zeros, not missing numbers.
    expect(bad!.get('requests.completed')).toBe('0');
    expect(bad!.get('throughput.outputTokensPerS')).toBe('0');
    // A worker the point does not have (prefill-0 is the other point's) is an empty cell too.
    expect(bad!.get('utilisation.workers.prefill-0')).toBe('');

    const table = pointsTable(summary);
    const cells = table[2]!.split(/\s{2,}/);
    // point, connector, completed, failed, fell back, TTFT mean/p50/p95, ITL mean, e2e p50, out tok/s, KV p50, KV GB/s
    expect(cells).toEqual(['p001', 'decode-wider-tp', '0', '4', '0', '-', '-', '-', '-', '-', '0.00', '-', '-']);

    const json = JSON.parse(summaryJson(summary)).points[1];
    expect(json.ttftMs).toEqual({ mean: null, p50: null, p90: null, p95: null, p99: null, min: null, max: null });
    expect(json.kvTransfer).toEqual({ bytesMean: null, ms: json.ttftMs, effectiveGBps: null });
    expect(num(null)).toBe('-');
  });

  it('quotes cells with commas, quotes and line breaks (RFC 4180)', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
  });
});

describe('a real run with warm-up and fallbacks: report.md and counts that agree', () => {
  // long-context's 70B model over TCP at 40,000 tokens: 40,000 x 327,680 B = 13.1 GB at ~100 MB/s, 131 s > the 120 s
  // abort timeout, so every request falls back: 2 measured + 1 warm-up = 3 fell_back events, 2 in the table and in
  // requests.fellBack. Over InfiniBand the read takes well under a second and nothing falls back.
  let run: RunOutput;
  let files: string[];
  beforeAll(async () => {
    run = await runExperimentOnPool('experiments/seeds/long-context.yaml', {
      out: join(tmp(), 'lc'),
      workers: 1,
      charts: true,
      set: [
        'sweep.workload.isl.mean=[40000,60000]',
        'sweep.deployment.transport=[ib-rdma,tcp]',
        'deployment.node=dgx-h100',
        'workload.requests=2',
        'workload.warmup=1',
      ],
    });
    files = readdirSync(run.outDir).sort();
  }, 120_000);

  it('writes points.csv and report.md with the rest', () => {
    expect(files).toEqual(expect.arrayContaining(['events.log', 'points.csv', 'report.md', 'summary.json']));
  });

  it('report.md names the experiment and deployment, lists every point and links every chart PNG written', () => {
    const md = readFileSync(join(run.outDir, 'report.md'), 'utf8');
    expect(md).toContain('Experiment `long-context`, seed 0, from `experiments/seeds/long-context.yaml`');
    expect(md).toContain('| model | deepseek-r1-distill-llama-70b |');
    expect(md).toContain('| transport | ib-rdma; tcp (varies by point) |');
    expect(md).toContain('| workers | prefill 1 x TP8, decode 1 x TP8 |');
    for (const id of ['p000', 'p001', 'p002', 'p003']) {
      expect(md).toMatch(new RegExp(`^${id} `, 'm')); // a row of the points table
      expect(md).toMatch(new RegExp(`^- ${id} `, 'm')); // its notable events
    }
    const pngs = files.filter((f) => f.endsWith('.png'));
    expect(pngs.length).toBeGreaterThan(0);
    const links = [...md.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
    expect(links.sort()).toEqual(pngs);
  });

  it('the fallback counts agree: table, notable events, summary.json and points.csv', () => {
    const tcp = run.summary.points.filter((p) => p.params['deployment.transport'] === 'tcp');
    expect(tcp).toHaveLength(2);
    const rows = parseCsv(readFileSync(join(run.outDir, 'points.csv'), 'utf8'));
    const table = run.text.split('\n');
    for (const p of tcp) {
      expect(p.requests.fellBack).toBe(2);
      expect(p.events['fell_back']).toBe(3);
      // No KV transfer completed: null, not 0.
      expect(p.kvTransfer.ms.p50).toBeNull();
      expect(p.kvTransfer.effectiveGBps).toBeNull();
      const row = rows.find((r) => r.get('id') === p.id)!;
      expect([row.get('requests.fellBack'), row.get('events.fell_back'), row.get('kvTransfer.ms.p50')]).toEqual(['2', '3', '']);
      const cells = table.find((l) => l.startsWith(`${p.id} `))!.split(/\s{2,}/);
      // point, isl, transport, completed, failed, fell back, ..., KV p50 ms, KV GB/s
      expect(cells.slice(3, 6)).toEqual(['2', '0', '2']);
      expect(cells.slice(-2)).toEqual(['-', '-']);
      const at = table.findIndex((l) => l.startsWith(`${p.id} `) && l.includes(': '));
      expect(table[at]).toContain('fell_back 3');
      expect(table[at + 1]).toContain('2 measured request(s) and 1 warm-up request(s) fell back');
    }
    expect(run.text).toContain('event counts include warm-up requests; the table counts measured requests only');
    for (const p of run.summary.points.filter((q) => q.params['deployment.transport'] === 'ib-rdma')) {
      expect([p.requests.fellBack, p.events['fell_back'] ?? 0]).toEqual([0, 0]);
    }
  });
});

describe('fallbacks without an expiry (a failed KV transfer) are split the same way', () => {
  it('says how many of the fell_back events were measured requests and how many warm-up', () => {
    // 3 fell_back events, 2 of them measured requests that ended (requests.fellBack), none in flight: 1 was warm-up.
    const r = runExperiment(fixture('minimal.yaml'), { out: tmp() }, (p) => {
      const x = fakeResult(p, { kv_transfer_failed: 3, fell_back: 3 });
      return { ...x, requests: { ...x.requests, fellBack: 2 } };
    });
    const lines = r.text.split('\n');
    const at = lines.findIndex((l) => l.startsWith('p000: '));
    expect(lines[at]).toBe('p000: fell_back 3, kv_transfer_failed 3');
    expect(lines[at + 1]).toBe('  2 measured request(s) and 1 warm-up request(s) fell back to prefilling on the decode worker after their KV transfer failed');
    expect(lines[2]!.split(/\s{2,}/)).toContain('fell back');
    expect(lines[3]!.split(/\s{2,}/)[3]).toBe('2'); // point, completed, failed, fell back
  });
});

describe('check with metrics that have no samples', () => {
  const good = fakeResult({ id: 'p000', params: {}, experiment: { workload: { isl: { mean: 2000 } } } } as never);
  const summary = buildSummary('x', 1, [emptyPoint('p000', {})]);
  it('a baseline of 0 against null now is a change; null against null is equal', () => {
    const base = (ttft: number | null): Baseline => ({ baselineVersion: 1, experiment: 'x', seed: 1, points: { p000: { params: {}, metrics: { 'ttftMs.mean': ttft } } } });
    const row = (b: Baseline) => compareWithBaseline(summary, b).rows.find((r) => r.metric === 'ttftMs.mean')!;
    expect(row(base(0)).verdict).toBe('REGRESSED');
    expect(row(base(null)).verdict).toBe('ok');
    expect(row(base(good.ttftMs.mean)).verdict).toBe('REGRESSED');
  });
  it('an expectation on a metric without samples fails, saying so', () => {
    const [r] = compareWithExpectations(summary, [{ metric: 'ttftMs.p50', value: 100, tolerance: { relative: 0.1 }, source: 's', where: 'f.yaml:1:1 expect[0]', points: ['p000'] }]);
    expect(r!.verdict).toBe('EXPECT FAILED');
    expect(r!.message).toContain('has no samples for ttftMs.p50');
  });
});

describe('report.md without experiments (merge)', () => {
  it('says where the deployment is, and links only PNGs under its directory', () => {
    const md = reportMd({
      experiment: 'm',
      seed: 2,
      origin: 'merged from 2 shard summaries',
      experiments: [],
      table: ['point  a', 'p000   1'],
      events: ['p000: none'],
      files: [
        { path: '/r/out/ttft-cdf.png', data: '' },
        { path: '/r/out/ttft-cdf.vl.json', data: JSON.stringify({ title: { text: 'TTFT CDF' } }) },
        { path: '/r/elsewhere/x.png', data: '' },
      ],
      dir: '/r/out',
    });
    expect(md).toContain('Experiment `m`, seed 2, merged from 2 shard summaries.');
    expect(md).toContain('joined from shard summaries; their deployment is in the experiment file');
    expect(md).toContain('![TTFT CDF](ttft-cdf.png)');
    expect(md).not.toContain('x.png');
  });
});
