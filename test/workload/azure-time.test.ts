import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAzureTime } from '../../src/workload/traces.js';

/** The regular expression the parser replaced, kept as the reference it must agree with on every input. */
function byRegex(text: string): { s: number; ns: number } | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$/.exec(text.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  if (new Date(ms).getUTCDate() !== d) return undefined;
  return { s: ms / 1000, ns: Number((m[7] ?? '').padEnd(9, '0')) };
}

describe('parseAzureTime', () => {
  it('reads the trace format to the nanosecond', () => {
    // 2023-11-16: 53 years from 1970 with 13 leap days (19,358 days) + 319 days into 2023 = 19,677 days = 1,700,092,800 s;
    // 18:17:03 is 65,823 s more.
    expect(parseAzureTime('2023-11-16 18:17:03.9799600')).toEqual({ s: 1_700_158_623, ns: 979_960_000 });
    expect(parseAzureTime(' 2023-11-16T18:17:03.9Z ')).toEqual({ s: 1_700_158_623, ns: 900_000_000 });
    expect(parseAzureTime('2023-11-16 18:17:03')).toEqual({ s: 1_700_158_623, ns: 0 });
    expect(parseAzureTime('2024-02-29 00:00:00.000000001')).toEqual({ s: 1_709_164_800, ns: 1 }); // 2024 is a leap year
  });

  it('refuses what is not a time', () => {
    for (const text of [
      '',
      '2023-02-29 00:00:00', // not a leap year
      '2023-04-31 00:00:00',
      '2023-13-01 00:00:00',
      '2023-11-16 24:00:00',
      '2023-11-16 18:60:00',
      '2023-11-16 18:17:60',
      '2023-11-16 18:17:03.', // a dot without digits
      '2023-11-16 18:17:03.1234567890', // ten digits
      '2023-11-16 18:17:03.97996x',
      '2023-11-16_18:17:03',
      '2023-11-6 18:17:03',
      '2023-11-16 18:17:03ZZ',
      '+023-11-16 18:17:03',
    ]) {
      expect(parseAzureTime(text), text).toBeUndefined();
    }
  });

  it('agrees with the regular expression it replaced, on times and near misses', () => {
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const time = fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
        two(14),
        two(32),
        fc.constantFrom(' ', 'T', '_'),
        two(25),
        two(61),
        two(61),
        fc.option(fc.stringMatching(/^[0-9]{0,11}$/), { nil: undefined }),
        fc.constantFrom('', 'Z', 'z', ' '),
      )
      .map(([y, mo, d, sep, h, mi, s, frac, z]) => `${y}-${mo}-${d}${sep}${h}:${mi}:${s}${frac === undefined ? '' : `.${frac}`}${z}`);
    // And the same with one character replaced, dropped or doubled.
    const mutated = fc.tuple(time, fc.nat(), fc.constantFrom('drop', 'double', 'x', '-', ':', '.', '5')).map(([t, i, how]) => {
      const at = i % t.length;
      if (how === 'drop') return t.slice(0, at) + t.slice(at + 1);
      if (how === 'double') return t.slice(0, at) + t[at] + t.slice(at);
      return t.slice(0, at) + how + t.slice(at + 1);
    });
    fc.assert(
      fc.property(fc.oneof(time, mutated), (text) => {
        expect(parseAzureTime(text)).toEqual(byRegex(text));
      }),
      { numRuns: 5000 },
    );
  });
});
