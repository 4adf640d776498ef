import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nixlsimInProcess } from '../helpers/cli.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'nixlsim-run-'));

describe('nixlsim run on the seed scenarios', () => {
  // One tcp point of the long-context scenario: 40,000 tokens x 327,680 B = 13.1 GB at ~100 MB/s = 131 s > 120 s.
  const args = (out: string) => [
    'run', 'experiments/seeds/long-context.yaml', '--out', out,
    '--set', 'sweep.workload.isl.mean=[40000]', '--set', 'deployment.transport=tcp', '--set', 'deployment.node=dgx-h100',
    '--set', 'workload.requests=2', '--set', 'workload.warmup=0',
  ];

  it('writes summary.json and events.log; the tcp point expires once per prefill rank and falls back', async () => {
    const out = tmp();
    const r = await nixlsimInProcess(args(out));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // One point: only the TTFT CDF chart applies (no swept input length, transport or mode).
    expect(readdirSync(out).sort()).toEqual(expect.arrayContaining(['events.log', 'points.csv', 'report.md', 'summary.json', 'ttft-cdf.png', 'ttft-cdf.svg', 'ttft-cdf.vl.json']));
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const p = summary.points[0];
    expect(p.requests).toMatchObject({ total: 2, completed: 2, fellBack: 2 });
    expect(p.events.kv_blocks_expired).toBe(2 * 8); // 2 requests x 8 prefill ranks
    const log = readFileSync(join(out, 'events.log'), 'utf8');
    expect(log.match(/Releasing expired KV blocks for request req-\d+ which were retrieved by 0 decode worker\(s\) within 120 seconds\./g)).toHaveLength(16);
    expect(r.stdout).toMatch(/2 measured request\(s\) fell back to prefilling on the decode worker/);
  });

  it('a seeded run writes byte-identical summary.json twice', async () => {
    const a = tmp();
    const b = tmp();
    await nixlsimInProcess(args(a));
    await nixlsimInProcess(args(b));
    expect(readFileSync(join(b, 'summary.json'), 'utf8')).toBe(readFileSync(join(a, 'summary.json'), 'utf8'));
    expect(readFileSync(join(b, 'events.log'), 'utf8')).toBe(readFileSync(join(a, 'events.log'), 'utf8'));
  });

  it('the asymmetric-TP scenario: decode-wider-tp fails every request, any-tp completes every one', async () => {
    const r = await nixlsimInProcess(['run', 'experiments/seeds/asymmetric-tp.yaml', '--out', tmp(), '--json']);
    expect(r.code).toBe(0);
    const [bad, good] = JSON.parse(r.stdout).points;
    expect(bad.params).toEqual({ 'deployment.connector': 'decode-wider-tp' });
    expect(bad.requests).toMatchObject({ total: 5897, completed: 0, failed: 5897 });
    // No request completed: no TTFT, ITL or KV transfer to speak of, so null (not 0) in every field.
    expect(bad.ttftMs).toEqual({ mean: null, p50: null, p90: null, p95: null, p99: null, min: null, max: null });
    expect(bad.kvTransfer).toEqual({ bytesMean: null, ms: bad.ttftMs, effectiveGBps: null });
    expect(bad.events.engine_dead).toBe(4);
    expect(good.requests).toMatchObject({ total: 5897, completed: 5897, failed: 0 });
  });

  it('a bad experiment file exits 2 with its position, and writes nothing', async () => {
    const out = join(tmp(), 'never');
    const r = await nixlsimInProcess(['run', 'experiments/seeds/breakeven.yaml', '--out', out, '--set', 'deployment.transport=efa-libfabrc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/did you mean 'efa-libfabric'/);
    expect(() => readdirSync(out)).toThrow();
  });
});
