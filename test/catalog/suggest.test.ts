import { describe, expect, test } from 'vitest';
import { closest, levenshtein, unknownNameMessage } from '../../src/catalog/suggest.js';

describe('levenshtein', () => {
  test('counts insertions, deletions and substitutions', () => {
    expect(levenshtein('', '')).toBe(0);
    expect(levenshtein('abc', '')).toBe(3);
    expect(levenshtein('kitten', 'sitting')).toBe(3); // k->s, e->i, +g
    expect(levenshtein('efa-libfabrc', 'efa-libfabric')).toBe(1);
    expect(levenshtein('flaw', 'lawn')).toBe(2);
  });
});

describe('closest', () => {
  const ids = ['efa-libfabric', 'efa-ucx', 'nvlink', 'tcp'];
  test('finds a typo, case-insensitively', () => {
    expect(closest('efa-libfabrc', ids)).toBe('efa-libfabric');
    expect(closest('NVLINK', ids)).toBe('nvlink');
  });
  test('offers nothing when no name is plausibly meant', () => {
    expect(closest('infiniband', ids)).toBeUndefined();
    // 3 letters allow 1 edit: 'udp' is 2 away from 'tcp'.
    expect(closest('udp', ids)).toBeUndefined();
  });
});

describe('unknownNameMessage', () => {
  test('names the kind, the guess and the known names', () => {
    expect(unknownNameMessage('transport', 'efa-libfabrc', ['efa-libfabric', 'tcp'])).toBe(
      "unknown transport 'efa-libfabrc'; did you mean 'efa-libfabric'? Known: efa-libfabric, tcp",
    );
    expect(unknownNameMessage('gpu', 'b200', ['h100-sxm'])).toBe("unknown gpu 'b200'. Known: h100-sxm");
  });
});
