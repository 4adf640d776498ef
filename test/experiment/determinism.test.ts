import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeRuns } from '../../src/run/merge.js';
import { runExperimentOnPool } from '../../src/run/run.js';
import { fixture } from './helpers.js';

/**
 * One question, one answer: summary.json and events.log are the same bytes when a run is repeated, when it runs on
 * one thread or on a pool of two, and when it runs as shards that are merged. The breakeven seed is covered by
 * test/experiment/pool.test.ts and test/cli/merge.test.ts; here the runs that have the most ways to go wrong: a fault
 * storm (seeded Poisson faults and probability rolls) and trace replay (Mooncake with prefix caching, Azure).
 */
const ROOT = new URL('../../', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'nixlsim-determinism-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = (name: string) => join(root, `${name}-${n++}`);
const read = (d: string, f: string) => readFileSync(join(d, f), 'utf8');

const experiments: [string, string, string[]][] = [
  // The storm, smaller: 3 points (one per failure policy), 80 requests each, all fault kinds at once.
  ['a fault storm', join(ROOT, 'experiments', 'storms', 'fault-storm.yaml'), ['workload.requests=80']],
  // 4 points: two traces x two routers, with connection resets rolled at 5% of streams.
  ['trace replay', fixture('trace-replay.yaml'), []],
];

describe.each(experiments)('%s', (_name, file, set) => {
  const base = dir('base');

  it('writes the same bytes twice in a row', async () => {
    await runExperimentOnPool(file, { out: base, set, workers: 1 });
    const again = dir('again');
    await runExperimentOnPool(file, { out: again, set, workers: 1 });
    expect(read(again, 'summary.json')).toBe(read(base, 'summary.json'));
    expect(read(again, 'events.log')).toBe(read(base, 'events.log'));
    // Something happened worth being deterministic about: faults struck in every point.
    const summary = JSON.parse(read(base, 'summary.json')) as { points: { events: Record<string, number>; requests: { failed: number } }[] };
    for (const p of summary.points) expect(p.events['connection_reset']).toBeGreaterThan(0);
  });

  it('writes the same bytes on 2 worker threads as on 1', async () => {
    const pooled = dir('pooled');
    await runExperimentOnPool(file, { out: pooled, set, workers: 2 });
    expect(read(pooled, 'summary.json')).toBe(read(base, 'summary.json'));
    expect(read(pooled, 'events.log')).toBe(read(base, 'events.log'));
  });

  it('as 3 shards (on 1 and 2 threads) merged, writes the same bytes as the whole run', async () => {
    const shards: string[] = [];
    for (const i of [1, 2, 3]) {
      const out = dir(`shard${i}`);
      await runExperimentOnPool(file, { out, set, shard: { index: i, count: 3 }, workers: i === 2 ? 1 : 2 });
      shards.push(out);
    }
    const merged = dir('merged');
    mergeRuns([shards[1]!, shards[2]!, shards[0]!], { out: merged });
    expect(read(merged, 'summary.json')).toBe(read(base, 'summary.json'));
    expect(read(merged, 'events.log')).toBe(read(base, 'events.log'));
  });
});
