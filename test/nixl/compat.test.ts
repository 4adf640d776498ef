import { describe, expect, it } from 'vitest';
import { defaultCatalog, getConnector, getLlm } from '../../src/catalog/index.js';
import { handshakeMatrix, handshakeVerdict } from '../../src/nixl/index.js';

const c = defaultCatalog();
const llm = getLlm(c, 'llama-3.1-70b-instruct-fp8');
const TPS = [1, 2, 4, 8];

/**
 * The truth table, written out by hand from the rules (facts.md section 4 and the issue):
 * - equal-tp: only p == d; a block-size ratio of 2 is refused (equal block sizes only).
 * - decode-wider-tp: d >= p works with equal block sizes; p > d crashes at the first transfer (KeyError), whatever
 *   the block sizes (the ZeroDivisionError comes before any block-size check); ratio 2 is refused (equal-only).
 * - any-tp / any-tp-hardened: every pair works at ratio 1; at ratio 2, d >= p works (32 is a multiple of 16) and
 *   p > d is refused (the ratio must be 1 when prefill is wider).
 * ok cells read max(p, d) times a request (one READ per decode rank, or |ratio| per decode rank when prefill is wider).
 */
function expected(profile: string, p: number, d: number, ratio: number): string {
  const ok = `ok:${Math.max(p, d)}`;
  switch (profile) {
    case 'equal-tp':
      return p !== d ? 'rejected:NotImplementedError' : ratio === 1 ? ok : 'rejected:AssertionError';
    case 'decode-wider-tp':
      return p > d ? 'crash:KeyError' : ratio === 1 ? ok : 'rejected:AssertionError';
    default:
      return ratio === 1 || d >= p ? ok : 'rejected:AssertionError';
  }
}

describe('handshake truth table (TP pairs x profiles x block-size ratios 1 and 2)', () => {
  for (const profile of ['equal-tp', 'decode-wider-tp', 'any-tp', 'any-tp-hardened']) {
    for (const ratio of [1, 2]) {
      it(`${profile}, decode block = ${ratio} x prefill block`, () => {
        const cells = handshakeMatrix(getConnector(c, profile), llm, TPS, { prefill: 16, decode: 16 * ratio });
        expect(cells).toHaveLength(16);
        for (const { prefillTp: p, decodeTp: d, verdict: v } of cells) {
          const got = v.outcome === 'ok' ? `ok:${v.readsPerRequest}` : `${v.outcome}:${v.error}`;
          expect(got, `P${p} -> D${d}`).toBe(expected(profile, p, d, ratio));
        }
      });
    }
  }
});

describe('handshake verdicts (the CLI contract cases)', () => {
  it('4 -> 1 on decode-wider-tp: crash at the first transfer with KeyError, after a ZeroDivisionError in the handshake', () => {
    const v = handshakeVerdict(getConnector(c, 'decode-wider-tp'), { prefillTp: 4, decodeTp: 1, llm });
    expect([v.outcome, v.stage, v.error]).toEqual(['crash', 'first-transfer', 'KeyError']);
    expect(v.handshakeError).toMatch(/^ZeroDivisionError/);
  });

  it('4 -> 1 on any-tp: ok, the one decode rank reads prefill ranks [0, 1, 2, 3]', () => {
    const v = handshakeVerdict(getConnector(c, 'any-tp'), { prefillTp: 4, decodeTp: 1, llm });
    expect(v.outcome).toBe('ok');
    expect(v.stage).toBeNull();
    expect(v.targetRanks).toEqual([[0, 1, 2, 3]]);
    expect(v.readsPerRequest).toBe(4);
  });

  it('1 -> 4 on equal-tp: rejected at the handshake', () => {
    const v = handshakeVerdict(getConnector(c, 'equal-tp'), { prefillTp: 1, decodeTp: 4, llm });
    expect([v.outcome, v.stage]).toEqual(['rejected', 'handshake']);
  });

  it('2 -> 8 on any-tp: decode ranks 0-3 read prefill rank 0, 4-7 read rank 1', () => {
    const v = handshakeVerdict(getConnector(c, 'any-tp'), { prefillTp: 2, decodeTp: 8, llm });
    expect(v.targetRanks).toEqual([[0], [0], [0], [0], [1], [1], [1], [1]]);
  });

  it('a decode block that is not a whole multiple of the prefill block is refused (16 -> 24)', () => {
    const v = handshakeVerdict(getConnector(c, 'any-tp'), { prefillTp: 1, decodeTp: 1, prefillBlockSize: 16, decodeBlockSize: 24, llm });
    expect(v.outcome).toBe('rejected');
    expect(v.message).toMatch(/Local block size 24 is not divisible by remote block size 16/);
  });

  it('different models on the two sides fail the compatibility hash', () => {
    const v = handshakeVerdict(getConnector(c, 'any-tp'), {
      prefillTp: 8,
      decodeTp: 8,
      llm,
      prefillLlm: getLlm(c, 'deepseek-r1-distill-llama-70b'),
    });
    expect([v.outcome, v.error]).toEqual(['rejected', 'RuntimeError']);
    expect(v.message).toMatch(/compatibility hash mismatch/);
  });

  it('MLA (deepseek-v3) needs a single READ per decode rank even when prefill is wider', () => {
    const v = handshakeVerdict(getConnector(c, 'any-tp'), { prefillTp: 8, decodeTp: 2, prefillBlockSize: 64, decodeBlockSize: 64, llm: getLlm(c, 'deepseek-v3') });
    expect(v.targetRanks).toEqual([[0], [4]]);
    expect(v.readsPerRequest).toBe(2);
  });
});
