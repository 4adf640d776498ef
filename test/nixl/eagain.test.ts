import { describe, expect, it } from 'vitest';
import { defaultCatalog, getTransport } from '../../src/catalog/index.js';
import { eagainLogTimes } from '../../src/nixl/fabric.js';
import { runPoint } from '../../src/serving/simulate.js';
import { experiment, point } from '../serving/helpers.js';

const c = defaultCatalog();
const retry = getTransport(c, 'efa-libfabric').eagainRetry!;

describe("NIXL libfabric's EAGAIN retry loop (EFA between two workers of one node)", () => {
  it('logs every 100 attempts, the delay before attempt n being min(1 ms x (1 + floor(n / 10)), 100 ms)', () => {
    const t = eagainLogTimes(retry, 480);
    // Attempts 1-9 wait 1 ms, 10-19 2 ms, ..., 90-99 10 ms, 100 11 ms: 9 + 10 x (2 + ... + 10) + 11 = 560 ms.
    expect(t[0]).toBeCloseTo(0.56, 9);
    // Each further hundred waits 1 s more than the last while under the cap: the k-th line at 0.56 k + k (k - 1) / 2 s.
    for (let k = 1; k <= 9; k++) expect(t[k - 1]).toBeCloseTo(0.56 * k + (k * (k - 1)) / 2, 9);
    // Attempts 901-1000: 9 x 91 ms + 10 x (92 + ... + 99) ms + 10 x 100 ms (990-999, capped) + 100 ms = 9.559 s.
    expect(t[9]).toBeCloseTo(41.04 + 9.559, 9);
    // From then on 100 attempts at the 100 ms cap: a line every 10 s, the last at or before 480 s: 50.599 + 42 x 10.
    expect(t[10]! - t[9]!).toBeCloseTo(10, 9);
    expect(t.length).toBe(9 + 1 + 42);
    expect(t.at(-1)).toBeCloseTo(470.599, 9);
  });

  it('decode waits out the 480 s abort timeout, one line a rail at each of those times, then prefills locally', () => {
    const e = experiment({ deployment: { connector: 'any-tp', placement: 'same-node' }, workload: { requests: 1, isl: { mean: 8000, stddev: 0 } } });
    const { result } = runPoint(point(e), c);
    expect(result.requests).toMatchObject({ completed: 1, fellBack: 1 });
    // any-tp's abort timeout is 480 s (vLLM PR #25897): TTFT is that plus the prefill and the local prefill again.
    expect(result.ttftMs.min).toBeGreaterThan(480_000);
    expect(result.ttftMs.min).toBeLessThan(481_000);
    // A TP1 decode rank of p5.48xlarge stripes over 32 / 8 = 4 EFA rails: 4 lines at each of the 52 log times
    // within 480 s of the READ's post (the post comes ~0.2 s after the load starts, so the 52nd, at 470.6 s, is in).
    expect(result.events['eagain_retry']).toBe(4 * 52);
    expect(result.events['fell_back']).toBe(1);
  });
});
