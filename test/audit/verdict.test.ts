import { describe, expect, it } from 'vitest';
import { explains, judge } from '../../src/audit/verdict.js';

describe('verdict rules (tolerance 15%)', () => {
  it('a latency below the bound is impossible, whatever the model says', () => {
    expect(judge('ttft', 99, 100, 50, 0.15).verdict).toBe('impossible');
    expect(judge('ttft', 100, 100, 300, 0.15).verdict).not.toBe('impossible'); // at the bound is possible
  });

  it('a throughput above the bound is impossible', () => {
    expect(judge('throughput', 400, 385, 219, 0.15).verdict).toBe('impossible');
    expect(judge('throughput', 385, 385, 219, 0.15).verdict).toBe('consistent');
  });

  it('slower: a latency above modeled x 1.15, a throughput below modeled x 0.85', () => {
    // 100 x 1.15 = 115: 114.9 is still consistent, 115.1 is slower.
    expect(judge('itl', 114.9, 5, 100, 0.15).verdict).toBe('consistent');
    expect(judge('itl', 115.1, 5, 100, 0.15).verdict).toBe('slower');
    // 200 x 0.85 = 170
    expect(judge('throughput', 170.1, 1000, 200, 0.15).verdict).toBe('consistent');
    expect(judge('throughput', 169.9, 1000, 200, 0.15).verdict).toBe('slower');
  });

  it('better than modeled beyond the tolerance, yet above the bound: consistent, flagged faster', () => {
    expect(judge('ttft', 210, 150.85, 947, 0.15)).toEqual({ verdict: 'consistent', faster: true });
    expect(judge('ttft', 900, 150.85, 947, 0.15)).toEqual({ verdict: 'consistent', faster: false });
  });

  it('a model without completed requests leaves only the bound to judge by', () => {
    expect(judge('ttft', 500, 100, null, 0.15).verdict).toBe('consistent');
    expect(judge('ttft', 50, 100, null, 0.15).verdict).toBe('impossible');
  });

  it('a hypothesis explains a slower value when it reaches it, within the tolerance', () => {
    // measured 10 s; a hypothesis modeled at 8.5 s or more reaches it (10 x 0.85 = 8.5)
    expect(explains('ttft', 10_000, 8_600, 0.15)).toBe(true);
    expect(explains('ttft', 10_000, 8_400, 0.15)).toBe(false);
    // a throughput of 100 is explained by a hypothesis at 115 or less
    expect(explains('throughput', 100, 114, 0.15)).toBe(true);
    expect(explains('throughput', 100, 116, 0.15)).toBe(false);
  });
});
