import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runExperiment } from '../../src/run/run.js';
import { UserError } from '../../src/errors.js';
import type { Point, PointResult } from '../../src/experiment/index.js';
import { summaryJson } from '../../src/spec/summary.js';
import { fakeResult, fixture } from './helpers.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'nixlsim-run-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** tcp at 120k tokens outlasts the expiry: the fake says so the way the simulator would. */
function fake(p: Point): PointResult {
  const long = p.experiment.deployment.transport === 'tcp' && p.experiment.workload.isl.mean === 120000;
  return fakeResult(p, long ? { kv_blocks_expired: 8, stale_kv_read: 0, fell_back: 10 } : { stale_kv_read: 0 });
}

describe('runExperiment', () => {
  it('runs every point in order, writes summary.json and prints the table', () => {
    const out = join(tmp(), 'report');
    const seen: string[] = [];
    const r = runExperiment(fixture('sweep.yaml'), { out }, (p) => {
      seen.push(p.id);
      return fake(p);
    });
    expect(seen).toEqual(['p000', 'p001', 'p002', 'p003', 'p004', 'p005']);
    expect(r.outDir).toBe(out);
    expect(readdirSync(out).sort()).toEqual(['points.csv', 'report.html', 'report.md', 'summary.json']);
    expect(readFileSync(join(out, 'summary.json'), 'utf8')).toBe(summaryJson(r.summary));
    expect(r.summary.experiment).toBe('sweep');
    expect(r.summary.points.map((p) => p.id)).toEqual(seen);

    const lines = r.text.split('\n');
    expect(lines[0]).toMatch(/^experiment 'sweep' \(seed 0\): 6 points, summary in .*summary\.json$/);
    const header = lines[2]!;
    for (const col of ['point', 'transport', 'workload.isl.mean', 'completed', 'failed', 'fell back', 'TTFT mean ms', 'TTFT p50 ms', 'TTFT p95 ms', 'ITL mean ms', 'e2e p50 ms', 'out tok/s', 'KV p50 ms', 'KV GB/s']) {
      expect(header).toContain(col);
    }
    // p003: tcp at 1000 tokens; TTFT mean = isl / 10 = 100 ms, p50 = 90, p95 = 180; e2e p50 = (100 + 2500) x 0.9 = 2340.
    expect(lines[6]!.split(/\s{2,}/)).toEqual(['p003', 'tcp', '1000', '100', '0', '0', '100', '90.0', '180', '12.5', '2340', '1235', '9.00', '37.5']);
    expect(r.text).toContain('notable events: (event counts include warm-up requests; the table counts measured requests only)\np000 transport=ib-rdma workload.isl.mean=1000: none\n');
    expect(r.text).toContain(
      'p005 transport=tcp workload.isl.mean=120000: kv_blocks_expired 8, fell_back 10\n' +
        '  prefill released KV blocks no decode worker had read within the timeout (one line per prefill rank); 10 measured request(s) fell back to prefilling on the decode worker\n',
    );
  });

  it('--json: the text is summary.json itself', () => {
    const r = runExperiment(fixture('minimal.yaml'), { out: tmp(), json: true, seed: 3 }, (p) => fake(p));
    expect(JSON.parse(r.text)).toEqual(JSON.parse(summaryJson(r.summary)));
    expect(r.text).toBe(summaryJson(r.summary));
    expect(r.summary.seed).toBe(3);
  });

  it('notes failed requests and dead engines in plain words', () => {
    const r = runExperiment(fixture('minimal.yaml'), { out: tmp() }, (p) => fakeResult(p, { engine_dead: 1, request_failed: 40 }));
    expect(r.text).toContain('p000: engine_dead 1, request_failed 40\n');
    expect(r.text).toContain("  an engine died (vLLM's EngineDeadError); the requests it held failed\n");
    expect(r.text).toContain('  40 of 100 measured requests failed');
  });

  it('validates every point before running any, and writes nothing when a point fails', () => {
    const out = join(tmp(), 'report');
    let calls = 0;
    expect(() => runExperiment(fixture('bad/bad-sweep-value.yaml'), { out }, (p) => (calls++, fake(p)))).toThrow(UserError);
    expect(calls).toBe(0);
    expect(existsSync(out)).toBe(false);

    const boom = (p: Point): PointResult => {
      if (p.id === 'p002') throw new UserError('the model does not fit in HBM');
      return fake(p);
    };
    expect(() => runExperiment(fixture('sweep.yaml'), { out }, boom)).toThrow('point p002 transport=ib-rdma workload.isl.mean=120000: the model does not fit in HBM');
    expect(existsSync(out)).toBe(false);
  });
});
