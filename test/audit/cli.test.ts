import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nixlsimInProcess } from '../helpers/cli.js';
import { fixture, write } from './helpers.js';

const HEADER = 'isl,osl,concurrency,ttft_ms,itl_ms,latency_ms,throughput';

describe('nixlsim audit (the command line)', () => {
  // 100 ms is below the 150.85 ms bound of an 8000-token prompt (test/audit/bounds.test.ts); 400 ms is above it.
  const impossible = write('cli-impossible.csv', `${HEADER}\n8000,50,1,100,,,\n`);
  const possible = write('cli-possible.csv', `${HEADER}\n8000,50,1,400,,,\n`);
  const exp = fixture('p5-disaggregated.yaml');

  it('exits 0 with an impossible value, 1 with --strict, and 0 with --strict when nothing is impossible', async () => {
    const plain = await nixlsimInProcess(['audit', impossible, '--experiment', exp, '--requests', '4']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/\n\s+1\s+8000\s+50\s+1\s+TTFT ms\s+100\.0\s+150\.8\s+\S+\s+impossible\s+prefix-cache-hits, truncated-prompts, broken-measurement\n/);
    expect(plain.stdout).toContain('0 consistent, 0 slower than modeled, 1 impossible');
    expect((await nixlsimInProcess(['audit', impossible, '--experiment', exp, '--requests', '4', '--strict'])).code).toBe(1);
    expect((await nixlsimInProcess(['audit', possible, '--experiment', exp, '--requests', '4', '--strict'])).code).toBe(0);
  });

  it('--json is the contract: {points: [{row, metric, measured, bound, modeled, verdict, causes}]}', async () => {
    const r = await nixlsimInProcess(['audit', impossible, '--experiment', exp, '--requests', '4', '--json']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { points: Record<string, unknown>[] };
    const p = json.points[0]!;
    expect(Object.keys(p).slice(0, 7)).toEqual(['row', 'metric', 'measured', 'bound', 'modeled', 'verdict', 'causes']);
    expect(p).toMatchObject({ row: 1, metric: 'ttft', measured: 100, verdict: 'impossible' });
    expect((p['causes'] as { cause: string }[]).map((c) => c.cause)).toContain('prefix-cache-hits');
  });

  it('a bad row is exit 2 with one line naming the file, line, row and column', async () => {
    const bad = write('cli-bad.csv', `${HEADER}\n8000,50,1,100,,,\n8000,fifty,1,100,,,\n`);
    const r = await nixlsimInProcess(['audit', bad, '--experiment', exp]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^nixlsim: error: .*cli-bad\.csv:3: row 2, column osl: expected a whole number >= 1, got 'fifty'\n$/);
  });

  it('calibrate refuses data that cannot constrain a factor with exit 2 and writes nothing', async () => {
    const one = write('cli-one.csv', `${HEADER}\n8000,50,1,300,,,\n`);
    const out = join(mkdtempSync(join(tmpdir(), 'nixlsim-cli-')), 'h100-sxm-x.yaml');
    const r = await nixlsimInProcess(['calibrate', one, '--gpu', 'h100-sxm', '--experiment', exp, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot fit the GPU factors: 1 measured value cannot determine 3 factors/);
    expect(existsSync(out)).toBe(false);
  });
});
