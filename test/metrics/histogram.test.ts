import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../src/errors.js';
import type { Stats } from '../../src/spec/experiment.js';
import { HISTOGRAM_MAX_US, LatencyHistogram } from '../../src/metrics/histogram.js';

const ms = (x: number): number => x / 1000;

/** 1, 2, ..., n milliseconds, in seconds. */
function uniformMs(n: number): LatencyHistogram {
  const h = new LatencyHistogram();
  for (let i = 1; i <= n; i++) h.record(ms(i));
  return h;
}

describe('LatencyHistogram', () => {
  it('keeps the mean, min and max exact', () => {
    // 1 + 2 + ... + 1000 = 500500 ms over 1000 values: mean 500.5 ms, which a bucketed mean would not give exactly.
    const s = uniformMs(1000).summary() as Stats;
    expect(s.mean).toBe(500.5);
    expect(s.min).toBe(1);
    expect(s.max).toBe(1000);
  });

  it('gives percentiles within 0.1% (3 significant digits)', () => {
    // 1000 values 1..1000 ms: p50 is the 500th value, 500 ms; p90 the 900th, 900 ms; p95 950 ms; p99 990 ms.
    // hdr answers with the top of the value's bucket: 500 ms = 500000 us sits in [2^18, 2^19) us, where buckets
    // are 2^18 / 1024 = 256 us wide, so it reports 500.223 ms; 0.045% high.
    const s = uniformMs(1000).summary() as Stats;
    expect(Math.abs(s.p50 - 500) / 500).toBeLessThanOrEqual(0.001);
    expect(Math.abs(s.p90 - 900) / 900).toBeLessThanOrEqual(0.001);
    expect(Math.abs(s.p95 - 950) / 950).toBeLessThanOrEqual(0.001);
    expect(Math.abs(s.p99 - 990) / 990).toBeLessThanOrEqual(0.001);
    expect(s.p50).toBe(500.223);
    expect(s.p50).toBeLessThan(s.p90);
    expect(s.p90).toBeLessThan(s.p95);
    expect(s.p95).toBeLessThan(s.p99);
  });

  it('never reports a percentile outside the recorded range', () => {
    // One value of 1.0003 s: its bucket's top is above it, but p99 cannot exceed the max.
    const h = new LatencyHistogram();
    h.record(1.0003);
    const s = h.summary() as Stats;
    expect(s).toEqual({ mean: 1000.3, p50: 1000.3, p90: 1000.3, p95: 1000.3, p99: 1000.3, min: 1000.3, max: 1000.3 });
  });

  it('rounds to whole microseconds', () => {
    const h = new LatencyHistogram();
    h.record(0.0012344); // 1.2344 ms -> 1.234
    h.record(0.0012346); // 1.2346 ms -> 1.235
    const s = h.summary() as Stats;
    expect(s.min).toBe(1.234);
    expect(s.max).toBe(1.235);
    expect(s.mean).toBe(1.235); // (1.2344 + 1.2346) / 2 = 1.2345 ms -> 1234.5 us, rounded up
  });

  it('summarises an empty histogram as nulls: no samples is not a latency of 0', () => {
    expect(new LatencyHistogram().summary()).toEqual({ mean: null, p50: null, p90: null, p95: null, p99: null, min: null, max: null });
    expect(new LatencyHistogram().count).toBe(0);
  });

  it('records zero durations', () => {
    const h = new LatencyHistogram();
    h.record(0);
    h.record(0.002);
    expect(h.summary()).toMatchObject({ min: 0, max: 2, mean: 1, p50: 0 });
  });

  it('clamps values above 10 h in the buckets but keeps them exact in mean and max', () => {
    const h = new LatencyHistogram();
    h.record(1);
    h.record((HISTOGRAM_MAX_US / 1e6) * 2); // 20 h = 72,000 s
    expect(h.overflowed).toBe(1);
    const s = h.summary() as Stats;
    expect(s.max).toBe(72_000_000);
    expect(s.mean).toBe(36_000_500); // (1 s + 72,000 s) / 2 = 36,000.5 s
    // p99 is the second value, which the buckets hold as 10 h = 36,000,000 ms (to 0.1%), not 20 h.
    expect(Math.abs(s.p99 - 36_000_000) / 36_000_000).toBeLessThanOrEqual(0.001);
    // p50 is 1 s, reported as the top of its 512 us bucket [999.936, 1000.447] ms.
    expect(s.p50).toBe(1000.447);
  });

  it('rejects negative and non-finite durations as a bug in the caller', () => {
    const h = new LatencyHistogram();
    expect(() => h.record(-1e-9)).toThrow(InvariantError);
    expect(() => h.record(Number.NaN)).toThrow(InvariantError);
    expect(() => h.record(Infinity)).toThrow(InvariantError);
    expect(h.count).toBe(0);
  });

  it('merges to the same summary as recording everything in one', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { maxLength: 200 }),
        fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { maxLength: 200 }),
        (a, b) => {
          const one = new LatencyHistogram();
          const ha = new LatencyHistogram();
          const hb = new LatencyHistogram();
          for (const x of a) {
            one.record(x);
            ha.record(x);
          }
          for (const x of b) {
            one.record(x);
            hb.record(x);
          }
          ha.merge(hb);
          expect(ha.summary()).toEqual(one.summary());
          expect(ha.count).toBe(a.length + b.length);
        },
      ),
      { seed: 20240611, numRuns: 200 },
    );
  });

  it('merging an empty histogram changes nothing', () => {
    const h = uniformMs(10);
    const before = h.summary();
    h.merge(new LatencyHistogram());
    expect(h.summary()).toEqual(before);
    const e = new LatencyHistogram();
    e.merge(h);
    expect(e.summary()).toEqual(before);
  });

  it('is deterministic: the same values give the same summary, whatever order they come in', () => {
    const values = Array.from({ length: 5000 }, (_, i) => ((i * 7919) % 5003) / 1000 + 0.0001 * (i % 7));
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (const v of values) a.record(v);
    for (const v of [...values].reverse()) b.record(v);
    expect(JSON.stringify(a.summary())).toBe(JSON.stringify(b.summary()));
  });
});
