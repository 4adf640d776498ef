import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { wellFormed } from '../experiment/xml.js';
import { type CliResult, nixlsimInProcess, ROOT } from '../helpers/cli.js';

/**
 * The gate on a fixture that runs in well under a second: tiny.yaml, 2 points (isl 1000 and 4000) of 20 requests,
 * with 2 expect entries (requests.completed = 20 on every point, requests.failed = 0 on the isl 4000 point). Every
 * baseline lives in a temporary directory; reports/baselines/ is never touched.
 */
const TINY = 'test/fixtures/experiments/check/tiny.yaml';
const tmp = () => mkdtempSync(join(tmpdir(), 'nixlsim-check-'));

interface BaselineFile {
  points: Record<string, { params: Record<string, unknown>; metrics: Record<string, number> }>;
}
const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

/** The table rows of an experiment's point and metric (the baseline's, then any expectation's), split into columns. */
function rows(stdout: string, point: string, metric: string, experiment = 'tiny'): string[][] {
  const found = stdout
    .split('\n')
    .filter((l) => l.startsWith(`${experiment} `) && l.includes(` ${point} `) && l.includes(` ${metric} `))
    .map((l) => l.trim().split(/\s{2,}/));
  if (found.length === 0) throw new Error(`no row for ${point} ${metric} in:\n${stdout}`);
  return found;
}
const row = (stdout: string, point: string, metric: string): string[] => rows(stdout, point, metric)[0]!;

describe('nixlsim check', () => {
  let fresh: string; // a baseline directory written by --update, and the run's summary beside it
  let out: string;
  let update: CliResult;

  beforeAll(async () => {
    fresh = tmp();
    out = tmp();
    update = await nixlsimInProcess(['check', TINY, '--baselines', fresh, '--update', '--out', out]);
  });

  it('without a baseline: fails, says how to create one, and writes nothing', async () => {
    const dir = tmp();
    const r = await nixlsimInProcess(['check', TINY, '--baselines', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`no baseline: tiny: ${join(dir, 'tiny.json')} does not exist`);
    expect(r.stdout).toContain(`to create or extend the baselines: npx nixlsim check ${TINY} --baselines ${dir} --update`);
    // 2 points x 8 metrics, all without a baseline; the 3 expectation rows still pass.
    expect(r.stdout).toContain('16 metrics: 0 ok, 0 improved, 0 regressed, 16 without a baseline; 3 expectation checks: 3 ok, 0 failed');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('--update writes the baseline: the run summary rounded to 3 places, keys sorted', () => {
    expect(update.stderr).toBe('');
    expect(update.code).toBe(0);
    expect(update.stdout).toContain(`wrote ${join(fresh, 'tiny.json')}`);
    expect(readdirSync(fresh)).toEqual(['tiny.json']);
    const b = readJson<BaselineFile>(join(fresh, 'tiny.json'));
    const summary = readJson<{ points: { id: string; params: unknown; requests: { completed: number; failed: number }; ttftMs: { p50: number; p95: number } }[] }>(
      join(out, 'tiny', 'summary.json'),
    );
    expect(Object.keys(b.points)).toEqual(['p000', 'p001']);
    expect(b.points['p000']!.params).toEqual({ 'workload.isl.mean': 1000 });
    expect(b.points['p001']!.params).toEqual({ 'workload.isl.mean': 4000 });
    for (const p of summary.points) {
      const m = b.points[p.id]!.metrics;
      // workload.requests is 20 and nothing fails.
      expect([m['requests.completed'], m['requests.failed']]).toEqual([20, 0]);
      expect(m['ttftMs.p50']).toBe(Math.round(p.ttftMs.p50 * 1000) / 1000);
      expect(m['ttftMs.p95']).toBe(Math.round(p.ttftMs.p95 * 1000) / 1000);
    }
    const text = readFileSync(join(fresh, 'tiny.json'), 'utf8');
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['baselineVersion', 'experiment', 'points', 'seed']);
    expect(Object.keys(b.points['p000']!.metrics)).toEqual([...Object.keys(b.points['p000']!.metrics)].sort());
  });

  it('passes against its fresh baseline, and leaves it as it was', async () => {
    const before = readFileSync(join(fresh, 'tiny.json'), 'utf8');
    const r = await nixlsimInProcess(['check', TINY, '--baselines', fresh]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('16 metrics: 16 ok, 0 improved, 0 regressed, 0 without a baseline; 3 expectation checks: 3 ok, 0 failed');
    expect(r.stdout.trimEnd().endsWith('check passed')).toBe(true);
    expect(row(r.stdout, 'p001', 'requests.completed')).toEqual(['tiny', 'p001 isl.mean=4000', 'requests.completed', '20', '20', '0.0%', 'ok']);
    expect(readFileSync(join(fresh, 'tiny.json'), 'utf8')).toBe(before);
    // --update again: the same bytes, so nothing is rewritten.
    const again = await nixlsimInProcess(['check', TINY, '--baselines', fresh, '--update']);
    expect(again.stdout).toContain(`unchanged ${join(fresh, 'tiny.json')}`);
    expect(readFileSync(join(fresh, 'tiny.json'), 'utf8')).toBe(before);
  });

  it('catches a TTFT p50 baseline lowered by 10%: REGRESSED by +11.1%, exit 1, JUnit says so; the baseline is not overwritten', async () => {
    const dir = tmp();
    const b = readJson<BaselineFile>(join(fresh, 'tiny.json'));
    const was = b.points['p000']!.metrics['ttftMs.p50']!;
    const lowered = Math.round(was * 0.9 * 1000) / 1000;
    b.points['p000']!.metrics['ttftMs.p50'] = lowered;
    writeFileSync(join(dir, 'tiny.json'), JSON.stringify(b));
    const perturbed = readFileSync(join(dir, 'tiny.json'), 'utf8');
    const junit = join(dir, 'reports', 'junit.xml');

    const r = await nixlsimInProcess(['check', TINY, '--baselines', dir, '--junit', junit]);
    expect(r.code).toBe(1);
    // now / (0.9 now) - 1 = 1/9 = +11.1%: beyond both 2% and 1 ms (TTFT here is tens of ms).
    expect(was - lowered).toBeGreaterThan(1);
    expect(row(r.stdout, 'p000', 'ttftMs.p50')).toEqual(['tiny', 'p000 isl.mean=1000', 'ttftMs.p50', String(lowered), String(was), '+11.1%', 'REGRESSED']);
    expect(r.stdout).toContain(`REGRESSED: tiny p000 isl.mean=1000: ttftMs.p50 rose from ${lowered} to ${was} ms, beyond both 1 ms and 2%`);
    expect(r.stdout).toContain('16 metrics: 15 ok, 0 improved, 1 regressed');
    expect(r.stdout.trimEnd().endsWith('check FAILED: 1 failing row')).toBe(true);
    expect(readFileSync(join(dir, 'tiny.json'), 'utf8')).toBe(perturbed);

    const xml = readFileSync(junit, 'utf8');
    expect(wellFormed(xml)).toEqual([]);
    // One suite; 2 points x 8 metrics + 3 expectation rows = 19 cases, 1 failing. No temporary file left beside it.
    expect(xml).toContain('<testsuites name="nixlsim check" tests="19" failures="1" errors="0" skipped="0"');
    expect(xml.match(/<testsuite /g)).toHaveLength(1);
    expect(xml.match(/<testcase /g)).toHaveLength(19);
    expect(xml).toMatch(/<testcase name="p000 \(isl.mean=1000\) ttftMs.p50" classname="nixlsim.check.tiny" time="0">\s*<failure type="REGRESSED" message="ttftMs.p50 rose from/);
    expect(readdirSync(join(dir, 'reports'))).toEqual(['junit.xml']);

    // --update accepts the run: the baseline is rewritten, and the check passes again.
    expect((await nixlsimInProcess(['check', TINY, '--baselines', dir, '--update'])).code).toBe(0);
    expect(readFileSync(join(dir, 'tiny.json'), 'utf8')).toBe(readFileSync(join(fresh, 'tiny.json'), 'utf8'));
    expect((await nixlsimInProcess(['check', TINY, '--baselines', dir])).code).toBe(0);
  });

  it('--tolerance by family, the baseline file\'s tolerances, --quiet and --json on the same +11.1% move', async () => {
    const dir = tmp();
    const b = readJson<BaselineFile & { tolerances?: Record<string, number> }>(join(fresh, 'tiny.json'));
    const was = b.points['p000']!.metrics['ttftMs.p50']!;
    const lowered = Math.round(was * 0.9 * 1000) / 1000;
    b.points['p000']!.metrics['ttftMs.p50'] = lowered;
    writeFileSync(join(dir, 'tiny.json'), JSON.stringify(b));
    // +11.1% is within a TTFT tolerance of 12%, beyond one of 10%.
    expect((await nixlsimInProcess(['check', TINY, '--baselines', dir, '--tolerance', 'ttft=12%'])).code).toBe(0);
    expect((await nixlsimInProcess(['check', TINY, '--baselines', dir, '--tolerance', '12%,ttft=10%'])).code).toBe(1);
    // An ITL tolerance does not touch TTFT metrics.
    expect((await nixlsimInProcess(['check', TINY, '--baselines', dir, '--tolerance', 'itl=50%'])).code).toBe(1);
    // The same in the baseline file; the flag overrides the file.
    writeFileSync(join(dir, 'tiny.json'), JSON.stringify({ ...b, tolerances: { ttft: 0.12 } }));
    expect((await nixlsimInProcess(['check', TINY, '--baselines', dir])).code).toBe(0);
    expect((await nixlsimInProcess(['check', TINY, '--baselines', dir, '--tolerance', 'ttft=5%'])).code).toBe(1);
    // --update rewrites the numbers and keeps the tolerances a person set.
    expect((await nixlsimInProcess(['check', TINY, '--baselines', dir, '--update'])).code).toBe(0);
    expect(readJson<{ tolerances: unknown }>(join(dir, 'tiny.json')).tolerances).toEqual({ ttft: 0.12 });
    writeFileSync(join(dir, 'tiny.json'), JSON.stringify(b));

    // --quiet: the one failing row and the count lines, none of the 15 rows that are ok.
    const q = await nixlsimInProcess(['check', TINY, '--baselines', dir, '--quiet']);
    expect(q.code).toBe(1);
    expect(q.stdout.split('\n').filter((l) => l.startsWith('tiny '))).toHaveLength(1);
    expect(q.stdout).toContain('16 metrics: 15 ok, 0 improved, 1 regressed');
    // --json: 16 metric rows and 3 expectation rows; one regression, +11.1%.
    const j = await nixlsimInProcess(['check', TINY, '--baselines', dir, '--json']);
    expect(j.code).toBe(1);
    const o = JSON.parse(j.stdout) as { passed: boolean; metrics: { point: string; metric: string; baseline: number; now: number; deltaPct: number; verdict: string }[]; regressions: number; improvements: number };
    expect([o.passed, o.metrics.length, o.regressions, o.improvements]).toEqual([false, 19, 1, 0]);
    const m = o.metrics.find((x) => x.point === 'p000' && x.metric === 'ttftMs.p50')!;
    expect([m.baseline, m.now, m.verdict]).toEqual([lowered, was, 'REGRESSED']);
    expect(m.deltaPct).toBeCloseTo(((was - lowered) / lowered) * 100, 2);
    // Bad values are one clear error.
    const bad = await nixlsimInProcess(['check', TINY, '--baselines', dir, '--tolerance', 'ttfb=5%']);
    expect([bad.code, bad.stderr.trim()]).toEqual([2, "nixlsim: error: --tolerance: unknown metric family 'ttfb' (families: ttft, itl, e2e, throughput, requests, autoscale)"]);
  });

  it('an improvement beyond tolerance is reported and passes', async () => {
    const dir = tmp();
    const b = readJson<BaselineFile>(join(fresh, 'tiny.json'));
    const was = b.points['p001']!.metrics['ttftMs.p95']!;
    const raised = Math.round(was * 1.1 * 1000) / 1000;
    b.points['p001']!.metrics['ttftMs.p95'] = raised;
    writeFileSync(join(dir, 'tiny.json'), JSON.stringify(b));
    const r = await nixlsimInProcess(['check', TINY, '--baselines', dir]);
    expect(r.code).toBe(0);
    // now / (1.1 now) - 1 = -1/11 = -9.1%.
    expect(row(r.stdout, 'p001', 'ttftMs.p95')).toEqual(['tiny', 'p001 isl.mean=4000', 'ttftMs.p95', String(raised), String(was), '-9.1%', 'improved']);
  });

  it('a failed expectation exits 1 even with every baseline met', async () => {
    const dir = tmp();
    // Extends tiny.yaml (expect is not inherited) and expects 25 completed requests where 20 are sent.
    const file = join(dir, 'tiny-expect.yaml');
    writeFileSync(
      file,
      [
        `extends: ${join(ROOT, TINY)}`,
        'expect:',
        '  - metric: requests.completed',
        '    value: 25',
        '    tolerance: { relative: 0.1 }',
        '    source: a number that is wrong on purpose',
        '',
      ].join('\n'),
    );
    const baselines = join(dir, 'baselines');
    const first = await nixlsimInProcess(['check', file, '--baselines', baselines, '--update']);
    // --update writes the baseline but does not excuse the expectation.
    expect(first.code).toBe(1);
    expect(existsSync(join(baselines, 'tiny-expect.json'))).toBe(true);
    const r = await nixlsimInProcess(['check', file, '--baselines', baselines]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('16 metrics: 16 ok, 0 improved, 0 regressed, 0 without a baseline; 2 expectation checks: 0 ok, 2 failed');
    // |20 - 25| = 5 > 10% of 25 = 2.5; delta (20 - 25) / 25 = -20%.
    const [baseline, expectation] = rows(r.stdout, 'p000', 'requests.completed', 'tiny-expect');
    expect(baseline).toEqual(['tiny-expect', 'p000 isl.mean=1000', 'requests.completed', '20', '20', '0.0%', 'ok']);
    expect(expectation).toEqual(['tiny-expect', 'p000 isl.mean=1000', 'requests.completed', '25 ±10%', '20', '-20.0%', 'EXPECT FAILED']);
    expect(r.stdout).toContain(`EXPECT FAILED: tiny-expect p000 isl.mean=1000: requests.completed is 20, expected 25 ±10% (a number that is wrong on purpose; ${file}:3:5 expect[0])`); // line 3: the entry after `expect:`
  });

  it('a directory means its *.yaml files; two experiments of one name, or a bad file, stop it before anything runs (exit 2)', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'exps'));
    copyFileSync(join(ROOT, TINY), join(dir, 'exps', 'tiny.yaml'));
    expect((await nixlsimInProcess(['check', join(dir, 'exps'), '--baselines', fresh])).code).toBe(0);

    const twice = await nixlsimInProcess(['check', TINY, join(dir, 'exps'), '--baselines', fresh]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain("are both named 'tiny'");

    const baselines = join(dir, 'baselines');
    const bad = await nixlsimInProcess(['check', TINY, 'test/fixtures/experiments/bad/tp3.yaml', '--baselines', baselines, '--update']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('test/fixtures/experiments/bad/tp3.yaml:8:14 deployment.prefill.tp: TP 3 does not divide');
    expect(existsSync(baselines)).toBe(false);
  });

  it('a baseline that is not one is a user error naming the file', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'tiny.json'), '{ "points": [] }');
    const r = await nixlsimInProcess(['check', TINY, '--baselines', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${join(dir, 'tiny.json')}:1:1 baselineVersion: not a baseline of version 1`);
  });
});
