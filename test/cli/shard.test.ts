import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runExperiment } from '../../src/run/run.js';
import { parseShard, pointId, shardIndices, shardOf } from '../../src/experiment/shard.js';
import { UserError } from '../../src/errors.js';
import { fakeResult, fixture } from '../experiment/helpers.js';
import { nixlsimInProcess, parseRunArgs } from '../helpers/cli.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'nixlsim-shard-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const parse = parseRunArgs;

describe('--shard i/n', () => {
  it('parses i/n with 1 <= i <= n, and refuses anything else naming the flag', async () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    expect(parseShard(' 1 / 1 ')).toEqual({ index: 1, count: 1 });
    for (const bad of ['0/3', '4/3', '1/0', '2', '1/2/3', 'a/b', '-1/2', '1.5/3', '']) {
      expect(() => parseShard(bad)).toThrow(UserError);
      expect(() => parseShard(bad)).toThrow(/^--shard must be i\/n/);
    }
    expect((await parse(['run', 'x.yaml', '--shard', '3/4', '--workers', '2']))).toMatchObject({ shard: { index: 3, count: 4 }, workers: 2 });
    await expect(parse(['run', 'x.yaml', '--shard', '5/4'])).rejects.toThrow(/--shard must be i\/n/);
    await expect(parse(['run', 'x.yaml', '--workers', '0'])).rejects.toThrow(/--workers must be a whole number from 1/);
  });

  it('point k belongs to shard (k mod n) + 1: every point in exactly one shard, sizes differing by at most one', () => {
    for (const total of [1, 2, 7, 16, 200]) {
      for (const count of [1, 2, 3, 5, 8]) {
        const all = Array.from({ length: count }, (_, i) => shardIndices(total, { index: i + 1, count }));
        expect(all.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, k) => k));
        const sizes = all.map((s) => s.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        all.forEach((s, i) => s.forEach((k) => expect(shardOf(k, count)).toBe(i + 1)));
      }
    }
    expect(shardIndices(10, { index: 2, count: 3 })).toEqual([1, 4, 7]);
    expect([pointId(7, 16), pointId(999, 1000), pointId(5, 1001)]).toEqual(['p007', 'p999', 'p0005']);
  });

  it('a shard run simulates its slice and writes a shard summary: the usual format plus {index, count, points}', () => {
    const out = tmp();
    const seen: string[] = [];
    const r = runExperiment(fixture('sweep.yaml'), { out, shard: { index: 2, count: 4 } }, (p) => (seen.push(p.id), fakeResult(p)));
    expect(seen).toEqual(['p001', 'p005']);
    expect(r.shard).toEqual({ index: 2, count: 4, points: 6, fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const text = readFileSync(join(out, 'summary.json'), 'utf8');
    const s = JSON.parse(text);
    expect(Object.keys(s)).toEqual(['schemaVersion', 'experiment', 'seed', 'shard', 'points']);
    expect(s.shard).toEqual({ index: 2, count: 4, points: 6, fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(s.points.map((p: { id: string }) => p.id)).toEqual(['p001', 'p005']);
    expect(r.text.split('\n')[0]).toMatch(/^experiment 'sweep' \(seed 0\): shard 2\/4, 2 of 6 points, summary in /);
    const json = runExperiment(fixture('sweep.yaml'), { out, shard: { index: 2, count: 4 }, json: true }, (p) => fakeResult(p));
    expect(json.text).toBe(text);
  });

  it('more shards than points: the extra shards are empty, and say so', () => {
    const out = tmp();
    const r = runExperiment(fixture('minimal.yaml'), { out, shard: { index: 2, count: 3 } }, (p) => fakeResult(p));
    expect(r.summary.points).toEqual([]);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).shard).toEqual({ index: 2, count: 3, points: 1, fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });
});

describe('nixlsim run --shard and --workers from the command line', () => {
  const args = (out: string, ...more: string[]) => ['run', 'experiments/seeds/breakeven.yaml', '--out', out, '--set', 'workload.requests=12', '--set', 'workload.warmup=2', ...more];

  it('--workers 1 and --workers 2 write the same bytes; shards hold the points of their slice', async () => {
    const [a, b, s] = [tmp(), tmp(), tmp()];
    const r1 = await nixlsimInProcess(args(a, '--workers', '1'));
    const r2 = await nixlsimInProcess(args(b, '--workers', '2'));
    expect([r1.code, r1.stderr, r2.code, r2.stderr]).toEqual([0, '', 0, '']);
    expect(r2.stdout).toBe(r1.stdout.replaceAll(a, b));
    expect(readFileSync(join(b, 'summary.json'), 'utf8')).toBe(readFileSync(join(a, 'summary.json'), 'utf8'));
    expect(readFileSync(join(b, 'events.log'), 'utf8')).toBe(readFileSync(join(a, 'events.log'), 'utf8'));

    const r3 = await nixlsimInProcess(args(s, '--shard', '3/3', '--workers', '2', '--json'));
    expect(r3.code).toBe(0);
    expect(readdirSync(s).sort()).toEqual(['events.log', 'summary.json']);
    const shard = JSON.parse(r3.stdout);
    expect(shard.shard).toEqual({ index: 3, count: 3, points: 16, fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const whole = JSON.parse(readFileSync(join(a, 'summary.json'), 'utf8'));
    expect(shard.points).toEqual(whole.points.filter((_: unknown, k: number) => k % 3 === 2));
  });

  it('bad --workers and --shard values exit 2 naming the flag', async () => {
    const r = await nixlsimInProcess(['run', 'experiments/seeds/breakeven.yaml', '--workers', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--workers must be a whole number from 1/);
    const s = await nixlsimInProcess(['run', 'experiments/seeds/breakeven.yaml', '--shard', '4/3']);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/--shard must be i\/n/);
  });

  it('a point that fails when it runs exits 2 naming it, the same with threads as without, and writes nothing', async () => {
    const d = tmp();
    // The fault names a worker no point has: found only when a point's cluster is built, and placed at the flag.
    const set = ['--set', 'faults=[{kind: worker_restart, at: [1], downtimeS: 5, target: decode-9}]'];
    const r1 = await nixlsimInProcess(['run', 'experiments/seeds/breakeven.yaml', '--out', join(d, 'a'), '--workers', '1', ...set]);
    const r2 = await nixlsimInProcess(['run', 'experiments/seeds/breakeven.yaml', '--out', join(d, 'b'), '--workers', '2', ...set]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/^nixlsim: error: --set faults=.* faults\[0\]\.target: no worker 'decode-9' \(workers: agg-0, agg-1\) \(sweep point p000: workload\.isl\.mean=1000, deployment\.mode=aggregated\)\n$/);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toBe(r1.stderr);
    // A model that does not fit is found before anything runs, at the flag that set it.
    const nofit = ['--set', 'deployment.model=deepseek-r1-distill-llama-70b', '--set', 'deployment.node=dgx-h100', '--set', 'deployment.transport=ib-rdma', '--set', 'sweep.deployment.aggregated.tp=[1]'];
    const r3 = await nixlsimInProcess(['run', 'experiments/seeds/breakeven.yaml', '--out', join(d, 'c'), ...nofit]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/^nixlsim: error: --set sweep\.deployment\.aggregated\.tp=\[1\] sweep\.deployment\.aggregated\.tp\[0\]: deepseek-r1-distill-llama-70b at TP1 does not fit on h100-sxm/);
    expect(readdirSync(d)).toEqual([]);
  });
});
