import { describe, expect, it } from 'vitest';
import { nixlsimInProcess } from '../helpers/cli.js';

const run = async (args: string[]) => {
  const r = await nixlsimInProcess(['handshake', ...args, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
};

describe('nixlsim handshake (contract)', () => {
  it('--prefill-tp 4 --decode-tp 1 --connector decode-wider-tp: crash at first-transfer with KeyError', async () => {
    const v = await run(['--prefill-tp', '4', '--decode-tp', '1', '--connector', 'decode-wider-tp']);
    expect(Object.keys(v).sort()).toEqual(['error', 'message', 'outcome', 'readsPerRequest', 'stage', 'targetRanks']);
    expect([v.outcome, v.stage, v.error]).toEqual(['crash', 'first-transfer', 'KeyError']);
  });

  it('the same with any-tp: ok, targetRanks [[0,1,2,3]]', async () => {
    const v = await run(['--prefill-tp', '4', '--decode-tp', '1', '--connector', 'any-tp']);
    expect(v.outcome).toBe('ok');
    expect(v.targetRanks).toEqual([[0, 1, 2, 3]]);
    expect(v.readsPerRequest).toBe(4);
  });

  it('--prefill-tp 1 --decode-tp 4 --connector equal-tp: rejected', async () => {
    expect((await run(['--prefill-tp', '1', '--decode-tp', '4', '--connector', 'equal-tp'])).outcome).toBe('rejected');
  });

  it('--matrix prints all 16 pairs of TP in {1, 2, 4, 8}', async () => {
    const r = await nixlsimInProcess(['handshake', '--matrix', '--connector', 'decode-wider-tp', '--json']);
    const cells = JSON.parse(r.stdout) as { prefillTp: number; decodeTp: number; outcome: string }[];
    expect(cells).toHaveLength(16);
    // decode-wider-tp crashes exactly where prefill is wider: 6 of the 16 pairs (2>1, 4>1, 4>2, 8>1, 8>2, 8>4)
    expect(cells.filter((c) => c.outcome === 'crash').map((c) => `${c.prefillTp}>${c.decodeTp}`)).toEqual([
      '2>1', '4>1', '4>2', '8>1', '8>2', '8>4',
    ]);
    const text = await nixlsimInProcess(['handshake', '--matrix', '--connector', 'decode-wider-tp']);
    expect(text.stdout).toMatch(/TP4\s+crash: KeyError\s+crash: KeyError\s+ok \(4 READs\)\s+ok \(8 READs\)/);
  });

  it('mistakes exit 2: an unknown profile with a suggestion, a missing TP', async () => {
    const typo = await nixlsimInProcess(['handshake', '--prefill-tp', '4', '--decode-tp', '1', '--connector', 'any-tpp']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/did you mean 'any-tp'/);
    const missing = await nixlsimInProcess(['handshake', '--connector', 'any-tp']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--prefill-tp and --decode-tp, or --matrix/);
  });
});
