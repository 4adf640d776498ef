import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { expandPoints, loadExperiment, type PointResult } from '../../src/experiment/index.js';
import { buildSummary, summaryJson, writeSummary } from '../../src/spec/summary.js';
import { fakeResult, fixture } from './helpers.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'nixlsim-summary-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function results(): PointResult[] {
  return expandPoints(loadExperiment(fixture('sweep.yaml'))).map((p, i) => fakeResult(p, i === 5 ? { fell_back: 10, kv_blocks_expired: 8 } : {}));
}

/**
 * The same result with every object's keys inserted in reverse: what a careless producer might hand over. Except
 * params: their order is the sweep's, which the runner takes from the point, not from the simulator.
 */
function scrambled(r: PointResult): PointResult {
  const rev = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rev);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, rev(x)]));
    return v;
  };
  return { ...(rev(r) as PointResult), params: r.params };
}

describe('summary.json', () => {
  it('has the contract keys in types.ts order, whatever order the producer used', () => {
    const s = buildSummary('sweep', 0, results().map(scrambled));
    const json = JSON.parse(summaryJson(s)) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['schemaVersion', 'experiment', 'seed', 'points']);
    const p = (json['points'] as Record<string, Record<string, unknown>>[])[5]!;
    expect(Object.keys(p)).toEqual(['id', 'params', 'requests', 'ttftMs', 'itlMs', 'e2eMs', 'queueMs', 'kvTransfer', 'throughput', 'utilisation', 'events', 'durationS']);
    expect(Object.keys(p['requests']!)).toEqual(['total', 'completed', 'failed', 'fellBack', 'inFlight', 'stale']);
    expect(Object.keys(p['ttftMs']!)).toEqual(['mean', 'p50', 'p90', 'p95', 'p99', 'min', 'max']);
    expect(Object.keys(p['kvTransfer']!)).toEqual(['bytesMean', 'ms', 'effectiveGBps']);
    expect(Object.keys(p['utilisation']!)).toEqual(['workers', 'kvPoolPeak', 'links']);
    expect(Object.keys(p['utilisation']!['workers'] as object)).toEqual(['decode-0', 'prefill-0']);
    // Event counts follow the event log's order, not the producer's.
    expect(Object.keys(p['events']!)).toEqual(['kv_blocks_expired', 'fell_back']);
    // Params keep the sweep's order: it is the file's.
    expect(Object.keys(p['params']!)).toEqual(['deployment.transport', 'workload.isl.mean']);
    expect(summaryJson(s)).toBe(summaryJson(buildSummary('sweep', 0, results())));
    expect(json['schemaVersion']).toBe(1);
  });

  it('is byte-identical across two writes, 2-space indented, and leaves no temporary file', () => {
    const a = tmp();
    const b = join(tmp(), 'nested', 'dir');
    const s = buildSummary('sweep', 0, results());
    const fa = writeSummary(a, s);
    const fb = writeSummary(b, buildSummary('sweep', 0, results()));
    expect(fa).toBe(join(a, 'summary.json'));
    const text = readFileSync(fa, 'utf8');
    expect(readFileSync(fb, 'utf8')).toBe(text);
    expect(text.startsWith('{\n  "schemaVersion": 1,\n  "experiment": "sweep",\n  "seed": 0,\n  "points": [\n')).toBe(true);
    expect(text.endsWith('}\n')).toBe(true);
    // Rewriting replaces the file whole.
    writeSummary(a, buildSummary('sweep', 1, results()));
    expect(JSON.parse(readFileSync(fa, 'utf8')).seed).toBe(1);
    expect(readdirSync(a)).toEqual(['summary.json']);
    expect(readdirSync(b)).toEqual(['summary.json']);
  });

  it('a directory it cannot create is a UserError naming it, with nothing left behind', () => {
    const parent = tmp();
    writeFileSync(join(parent, 'file'), 'not a directory');
    const dir = join(parent, 'file', 'out');
    let err: unknown;
    try {
      writeSummary(dir, buildSummary('x', 0, []));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(`${dir}: cannot create the directory: '${join(parent, 'file')}' is a file, not a directory`);
    expect(readdirSync(parent)).toEqual(['file']);
  });
});
