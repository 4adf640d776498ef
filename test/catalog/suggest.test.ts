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
  test('prefers the only name that begins with what was typed over a nearer typo', () => {
    const models = ['deepseek-r1-distill-llama-70b', 'llama-3.1-70b-instruct-fp8', 'llama-3.1-8b-instruct'];
    // 'llama-3.1-8b-instruct' is 2 edits away (7 -> 8, drop 0), the fp8 model 4 (append '-fp8').
    expect(levenshtein('llama-3.1-70b-instruct', 'llama-3.1-8b-instruct')).toBe(2);
    expect(closest('llama-3.1-70b-instruct', models)).toBe('llama-3.1-70b-instruct-fp8');
    expect(closest('DeepSeek-R1', models)).toBe('deepseek-r1-distill-llama-70b');
    // Two names begin with 'llama-3.1': no prefix guess, and neither is within 3 edits.
    expect(closest('llama-3.1', models)).toBeUndefined();
    // Under 3 characters a prefix says too little: 'tc' is 1 edit from 'tcp' anyway, 'ef' is no guess.
    expect(closest('ef', ids)).toBeUndefined();
    expect(closest('tc', ids)).toBe('tcp');
    // The same name in another case beats a longer one it begins.
    expect(closest('TCP', ['tcp-ib', 'tcp'])).toBe('tcp');
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
