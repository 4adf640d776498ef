import { describe, expect, it } from 'vitest';
import { audit } from '../../src/audit/audit.js';
import { UserError } from '../../src/errors.js';
import { fixture, write } from './helpers.js';

const HEADER = 'isl,osl,concurrency,ttft_ms,itl_ms,latency_ms,throughput';

describe('nixlsim audit', () => {
  it('a TTFT below prefill-at-peak plus transfer-at-line-rate is impossible, and says what that points to', async () => {
    // Bound at isl 8000 (test/audit/bounds.test.ts): 129.88 ms prefill + 20.97 ms of KV = 150.85 ms. 100 ms is below.
    const f = write('impossible.csv', `${HEADER}\n8000,50,1,100,,,\n`);
    const r = await audit([f], { experiment: fixture('p5-disaggregated.yaml'), requests: 4 });
    expect(r.points).toHaveLength(1);
    const p = r.points[0]!;
    expect(p).toMatchObject({ row: 1, metric: 'ttft', measured: 100, verdict: 'impossible' });
    expect(p.bound).toBeCloseTo(150.85, 1);
    expect(p.modeled).toBeGreaterThan(p.bound);
    expect(p.causes.map((c) => c.cause)).toEqual(['prefix-cache-hits', 'truncated-prompts', 'broken-measurement']);
  });

  it('a 10 s TTFT on an EFA deployment is slower than modeled, and TCP fallback is the cause that reaches it', async () => {
    // Over TCP the request's 1,048,576,000 B of KV take 1.048576e9 / 0.1e9 B/s = 10.49 s on the wire alone, which
    // reaches 10 s; host staging (2 GB/s: ~0.5 s) and twice the load (a second queued 8000-token prefill) do not.
    const f = write('slow.csv', `${HEADER}\n8000,50,1,10000,,,\n`);
    const r = await audit([f], { experiment: fixture('p5-disaggregated.yaml'), requests: 4 });
    const p = r.points[0]!;
    expect(p.verdict).toBe('slower');
    expect(p.causes.map((c) => c.cause)).toEqual(['tcp-fallback']);
    expect(p.causes[0]!.modeled).toBeGreaterThan(10485.76);
  });

  it("seed 000: a 70B 120k-token prompt's TTFT of 2.5 minutes on ib-rdma points to TCP fallback and expiry fallback", async () => {
    // 39.3 GB of KV at 0.1 GB/s would take 393 s, past the 120 s abort timeout: prefill releases the blocks, decode
    // gives up at 120 s and prefills the prompt itself, so the TCP hypothesis's TTFT is 120 s plus two prefills.
    const f = write('seed000.csv', `${HEADER}\n120000,100,1,150000,,,\n`);
    const r = await audit([f], { experiment: fixture('long-context.yaml'), requests: 2, warmup: 0 });
    const p = r.points[0]!;
    expect(p.verdict).toBe('slower');
    expect(p.causes.map((c) => c.cause)).toEqual(['tcp-fallback', 'expiry-fallback']);
    // The bound is one prefill at peak plus the KV at line rate: 120,000 x 327,680 B = 39.32 GB over 8 ConnectX-7 rails
    // of 400 Gb/s = 50 GB/s is 98.3 ms. The TTFT holds that prefill twice (prefill worker, then decode's own) and the
    // 120 s wait between them.
    const kvLineMs = ((120_000 * 327_680) / (8 * 50e9)) * 1000;
    expect(p.causes[0]!.modeled).toBeGreaterThan(120_000 + 2 * (p.bound - kvLineMs));
  });

  it('an aggregated deployment has no transfer hypotheses; every measured metric gets an entry in row order', async () => {
    const f = write('agg.csv', `${HEADER}\n4000,100,4,,1000,,\n2000,50,2,300,,,50\n`);
    const r = await audit([f], { experiment: fixture('p5-aggregated.yaml'), requests: 8 });
    expect(r.points.map((p) => [p.row, p.metric])).toEqual([
      [1, 'itl'],
      [2, 'ttft'],
      [2, 'throughput'],
    ]);
    const itl = r.points[0]!;
    expect(itl.verdict).toBe('slower');
    expect(itl.causes.every((c) => !['tcp-fallback', 'host-staging'].includes(c.cause))).toBe(true);
  });

  it('is deterministic, and the same on the worker pool as in this thread', async () => {
    const f = write('pool.csv', `${HEADER}\n8000,50,2,5000,20,,100\n1000,100,4,80,12,,\n`);
    const opts = { experiment: fixture('p5-disaggregated.yaml'), requests: 6 };
    const here = await audit([f], opts);
    expect(await audit([f], opts)).toEqual(here);
    expect(await audit([f], { ...opts, workers: 2 })).toEqual(here);
  });

  it('refuses an experiment that sweeps deployments, naming the flag that pins one', async () => {
    const f = write('one.csv', `${HEADER}\n1000,50,1,100,,,\n`);
    const exp = write('swept.yaml', `${(await import('node:fs')).readFileSync(fixture('p5-disaggregated.yaml'), 'utf8')}sweep:\n  deployment.mode: [aggregated, disaggregated]\n`);
    await expect(audit([f], { experiment: exp })).rejects.toThrow(UserError);
    await expect(audit([f], { experiment: exp })).rejects.toThrow(/sweeps deployment\.mode over 2 values.*--set deployment\.mode=aggregated/);
  });
});
