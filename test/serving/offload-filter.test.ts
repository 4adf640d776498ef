import { describe, expect, it } from 'vitest';
import { FrequencyFilter, KVBM_DISK_FILTER } from '../../src/serving/offload-filter.js';

describe("KVBM's disk offload filter", () => {
  it('lets a block through at its second offer, unless a decay came between', () => {
    const f = new FrequencyFilter(KVBM_DISK_FILTER); // threshold 2, a decay every 600 s
    expect(f.offer('a', 0)).toBe(false); // count 1
    expect(f.offer('a', 100)).toBe(true); // 2
    expect(f.offer('a', 200)).toBe(true); // 4
    expect(f.offer('b', 500)).toBe(false); // 1
    // At 600 s every count drops by 1: a 4 -> 3, b 1 -> 0, forgotten.
    expect(f.offer('b', 650)).toBe(false); // 1 again
    expect(f.size).toBe(2);
    // Two more decays by 1,800 s: a 3 -> 1, b 1 -> 0 (gone); a's next offer doubles 1 to 2.
    expect(f.offer('a', 1800)).toBe(true);
    expect(f.size).toBe(1);
  });

  it('decays as often as it must to stay within its entries', () => {
    const f = new FrequencyFilter({ threshold: 2, decayIntervalS: 600, maxEntries: 2 });
    f.offer('x', 0);
    f.offer('x', 0); // 2
    f.offer('y', 0); // 1
    // z makes 3 entries: one decay (x 2 -> 1; y, z 1 -> 0, gone) brings them to 1.
    expect(f.offer('z', 0)).toBe(false);
    expect(f.size).toBe(1);
    expect(f.offer('x', 0)).toBe(true); // 1 -> 2
  });
});
