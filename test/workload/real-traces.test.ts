import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RandomStream } from '../../src/engine/random.js';
import { TraceReader, makeSource, summariseTrace } from '../../src/workload/index.js';

/** The full traces, in the project's traces/ (sources in traces/README.md). */
const TRACES = fileURLToPath(new URL('../../traces/', import.meta.url));
const MOONCAKE = `${TRACES}mooncake-conversation.jsonl`;
const AZURE = `${TRACES}azure-llm-2023-code.csv`;
describe('the full traces in traces/', () => {
  it("Mooncake conversation: 12,031 requests, mean input ~12,035 and output ~343 tokens (Mooncake's published figures)", () => {
    const s = summariseTrace('mooncake', MOONCAKE);
    expect(s.records).toBe(12_031);
    expect(Math.abs(s.meanIsl - 12_035) / 12_035).toBeLessThan(0.01);
    expect(Math.abs(s.meanOsl - 343) / 343).toBeLessThan(0.01);
    // "One hour of online traffic": the last record is at 3,536,999 ms.
    expect(s.durationS).toBe(3536.999);
  });

  it('Azure code: 8,819 requests over 57 min 15.948056 s', () => {
    const s = summariseTrace('azure', AZURE);
    expect(s.records).toBe(8_819);
    // 19:14:19.9280160 - 18:17:03.9799600 = 57 min 15.9480560 s = 3435.948056 s.
    expect(s.durationS).toBe(3435.948056);
    expect(s.zeroOutput).toBe(0);
  });

  it('reads the Mooncake file lazily: ten records parse one chunk, not 3 MB', () => {
    const size = statSync(MOONCAKE).size;
    const r = new TraceReader('mooncake', MOONCAKE);
    for (let i = 0; i < 10; i++) expect(r.next().done).toBe(false);
    expect(r.stats.records).toBe(10);
    expect(r.stats.linesRead).toBe(10);
    // One 256 KiB chunk read of a ~3 MB file.
    expect(r.stats.bytesRead).toBeLessThanOrEqual(256 * 1024);
    expect(r.stats.bytesRead).toBeLessThan(size / 10);
  });

  it('replays the whole Mooncake file through makeSource with a small model, counting the prompts cut', () => {
    const src = makeSource(
      { kind: 'trace', concurrency: 1, requests: 0, warmup: 100, rate: 0, isl: { mean: 1, stddev: 0 }, osl: { mean: 1, stddev: 0 }, trace: { format: 'mooncake', path: MOONCAKE, speedup: 10 } },
      { lengths: new RandomStream('l'), arrivals: new RandomStream('a') },
      { maxContext: 40960 },
    );
    let n = 0;
    let last = 0;
    let warm = 0;
    for (let r = src.next(); r !== null; r = src.next()) {
      n++;
      last = r.arrivalS!;
      if (r.warmup) warm++;
      expect(r.isl + r.osl).toBeLessThanOrEqual(40960);
    }
    expect(n).toBe(12_031);
    expect(warm).toBe(100);
    expect(last).toBeCloseTo(353.6999, 9); // 3536.999 s / 10
    expect(src.clamped).toBeGreaterThan(0);
  });
});
