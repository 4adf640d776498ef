import { describe, expect, it } from 'vitest';
import { checkSlo, parseSlo } from '../../src/plan/slo.js';
import { fakeResult, userError } from '../experiment/helpers.js';
import type { Point } from '../../src/spec/experiment.js';

describe('--slo grammar', () => {
  it('reads comma-separated <metric>_<stat>_ms<=<value> terms, spaces allowed', () => {
    expect(parseSlo('ttft_p95_ms<=2000, itl_p95_ms <= 50,e2e_mean_ms<=9000.5')).toEqual([
      { metric: 'ttft', stat: 'p95', maxMs: 2000, text: 'ttft_p95_ms<=2000' },
      { metric: 'itl', stat: 'p95', maxMs: 50, text: 'itl_p95_ms<=50' },
      { metric: 'e2e', stat: 'mean', maxMs: 9000.5, text: 'e2e_mean_ms<=9000.5' },
    ]);
  });

  it.each([
    ['ttft_p95_ms<2000', /--slo: 'ttft_p95_ms<2000': expected <metric>_<stat>_ms<=<value>/],
    ['ttft_p95<=2000', /--slo: 'ttft_p95<=2000': expected <metric>_<stat>_ms<=<value>/],
    ['tfft_p95_ms<=2000', /--slo: 'tfft_p95_ms<=2000': unknown metric 'tfft'; did you mean 'ttft'\?/],
    ['ttft_p96_ms<=2000', /--slo: 'ttft_p96_ms<=2000': unknown statistic 'p96'; did you mean/],
    ['ttft_p95_ms<=fast', /--slo: 'ttft_p95_ms<=fast': the bound must be a number of milliseconds > 0, got 'fast'/],
    ['ttft_p95_ms<=0', /the bound must be a number of milliseconds > 0, got '0'/],
    ['ttft_p95_ms<=1,ttft_p95_ms<=2', /--slo: 'ttft_p95_ms<=2': ttft_p95_ms is bounded twice/],
    ['', /--slo: expected one or more comma-separated terms/],
  ])('%j is a UserError naming the flag and the term', (text, message) => {
    expect(userError(() => parseSlo(text)).message).toMatch(message);
  });

  it('refuses an SLO that bounds only ITL: queueing never shows in it, so every rate would pass', () => {
    expect(userError(() => parseSlo('itl_p95_ms<=50')).message).toMatch(/bounds only ITL.*add a ttft or e2e term/);
  });
});

describe('checkSlo', () => {
  const point = { id: 'p', params: {}, experiment: { workload: { isl: { mean: 1000 } } } } as unknown as Point;
  // fakeResult: TTFT mean = isl / 10 = 100 ms, p95 = 1.8 x mean = 180 ms; ITL mean 12.5 ms, p95 = 22.5 ms.
  const r = fakeResult(point);

  it('passes when every term holds (a bound equal to the value holds)', () => {
    expect(checkSlo(r, parseSlo('ttft_p95_ms<=180,itl_p95_ms<=22.5'))).toEqual({ pass: true, violations: [], broken: [] });
  });

  it('fails naming each broken term with its value', () => {
    const c = checkSlo(r, parseSlo('ttft_p95_ms<=179,itl_mean_ms<=12,e2e_p99_ms<=1e6'));
    expect(c.pass).toBe(false);
    expect(c.violations).toEqual(['ttft_p95_ms 180 > 179', 'itl_mean_ms 12.5 > 12']);
    expect(c.broken.map((t) => t.text)).toEqual(['ttft_p95_ms<=179', 'itl_mean_ms<=12']);
  });

  it('fails a probe with failed or unfinished requests, whatever the latencies', () => {
    const failed = fakeResult(point, { request_failed: 3 });
    expect(checkSlo(failed, parseSlo('ttft_p95_ms<=1e9')).violations).toEqual(['3 of 100 requests failed']);
    const stuck = { ...r, requests: { ...r.requests, completed: 98, inFlight: 2 } };
    expect(checkSlo(stuck, parseSlo('ttft_p95_ms<=1e9')).violations).toEqual(['2 of 100 requests still running at the horizon']);
  });
});
