import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeCommand } from '../../src/cli/commands/merge.js';
import { mergeRuns } from '../../src/run/merge.js';
import { runExperiment, runExperimentOnPool } from '../../src/run/run.js';
import { UserError } from '../../src/errors.js';
import { fakeResult, fixture } from '../experiment/helpers.js';
import { nixlsimInProcess } from '../helpers/cli.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'nixlsim-merge-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
const dir = (name = 'd') => join(root, `${name}-${n++}`);
const read = (d: string, f: string) => readFileSync(join(d, f), 'utf8');

/** The message of the UserError `f` throws. */
function userError(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error('no error thrown');
}

const BREAKEVEN = 'experiments/seeds/breakeven.yaml';
const set = ['--set', 'workload.requests=12', '--set', 'workload.warmup=2'];

describe('a sweep run whole and as 3 shards + merge', () => {
  let whole: string;
  let shards: string[];
  beforeAll(async () => {
    whole = dir('whole');
    expect((await nixlsimInProcess(['run', BREAKEVEN, '--out', whole, '--workers', '1', ...set])).code).toBe(0);
    shards = [];
    for (const i of [1, 2, 3]) {
      const out = dir(`shard${i}`);
      // Shards on different worker counts, as on machines of different sizes.
      const r = await nixlsimInProcess(['run', BREAKEVEN, '--out', out, '--shard', `${i}/3`, '--workers', String(i === 2 ? 1 : 2), ...set]);
      expect([r.code, r.stderr]).toEqual([0, '']);
      shards.push(out);
    }
  });

  it('merges into byte-identical summary.json and events.log, in any order of directories', () => {
    const out = dir('merged');
    const r = mergeRuns([shards[2]!, shards[0]!, shards[1]!], { out });
    expect(readdirSync(out).sort()).toEqual(['events.log', 'points.csv', 'report.html', 'report.md', 'summary.json']);
    expect(read(out, 'summary.json')).toBe(read(whole, 'summary.json'));
    // The merged run's points.csv is the whole run's, byte for byte.
    expect(read(out, 'points.csv')).toBe(read(whole, 'points.csv'));
    expect(read(out, 'events.log')).toBe(read(whole, 'events.log'));
    expect(r.summary.points).toHaveLength(16);
    expect(r.text.split('\n').slice(0, 2)).toEqual(['merged 3 shards', expect.stringMatching(/^experiment 'breakeven' \(seed 2\): 16 points, summary in /)]);
    expect(r.text).toContain('notable events:');
  });

  it('the merge command: --json prints the merged summary.json', async () => {
    const out = dir('merged-cmd');
    let printed = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
    try {
      await yargs(['merge', ...shards, '--out', out, '--json']).command(mergeCommand).strict().parseAsync();
    } finally {
      process.stdout.write = write;
    }
    expect(printed).toBe(read(whole, 'summary.json'));
    expect(read(out, 'summary.json')).toBe(read(whole, 'summary.json'));
    // The whole run's charts go out with the rest, and report.html draws each of them.
    const specs = readdirSync(out).filter((f) => f.endsWith('.vl.json'));
    expect(specs.length).toBeGreaterThan(0);
    const html = read(out, 'report.html');
    for (const f of specs) expect(html).toContain(`<figure class="chart" data-chart="${f.slice(0, -'.vl.json'.length)}"></figure>`);
  });

  it('joins a shard run from a copy of the experiment in another directory (the fingerprint is of content, not paths)', async () => {
    const elsewhere = dir('copy');
    mkdirSync(elsewhere, { recursive: true });
    const file = join(elsewhere, 'breakeven.yaml');
    writeFileSync(file, readFileSync(BREAKEVEN, 'utf8'));
    const moved = dir('moved-shard2');
    expect((await nixlsimInProcess(['run', file, '--out', moved, '--shard', '2/3', ...set])).code).toBe(0);
    const out = dir('merged-moved');
    mergeRuns([shards[0]!, moved, shards[2]!], { out });
    expect(read(out, 'summary.json')).toBe(read(whole, 'summary.json'));
  });

  it('refuses an incomplete or mixed set, naming the directory, and writes nothing', async () => {
    const out = dir('never');
    expect(userError(() => mergeRuns([shards[0]!, shards[2]!], { out }))).toMatch(/^shard 2\/3 of experiment 'breakeven' missing \(given: shard 1\/3 in '.*shard1-\d+', shard 3\/3 in '.*shard3-\d+'\)$/);
    expect(userError(() => mergeRuns([shards[0]!, shards[1]!, shards[0]!, shards[2]!], { out }))).toMatch(/^'.*shard1-\d+' and '.*shard1-\d+' both hold shard 1\/3$/);
    expect(userError(() => mergeRuns([...shards, whole], { out }))).toMatch(/^.*whole-\d+\/summary\.json:1:1 shard: missing: this summary\.json is not a shard's but a whole run's/);
    expect(userError(() => mergeRuns([...shards, join(root, 'nowhere')], { out }))).toMatch(/^'.*nowhere' holds no summary\.json/);

    // Another seed: the same points, other numbers.
    const seeded = dir('seed7');
    expect((await nixlsimInProcess(['run', BREAKEVEN, '--out', seeded, '--shard', '2/3', '--seed', '7', ...set])).code).toBe(0);
    expect(userError(() => mergeRuns([shards[0]!, seeded, shards[2]!], { out }))).toMatch(/^'.*seed7-\d+' holds seed 7, not 2 as in '.*shard1-\d+': shards of different runs$/);
    // Another shard count, another sweep size.
    const four = dir('four');
    expect((await nixlsimInProcess(['run', BREAKEVEN, '--out', four, '--shard', '2/4', ...set])).code).toBe(0);
    expect(userError(() => mergeRuns([shards[0]!, four], { out }))).toMatch(/holds 4 shards, not 3/);
    const fewer = dir('fewer');
    expect((await nixlsimInProcess(['run', BREAKEVEN, '--out', fewer, '--shard', '2/3', '--set', 'sweep.workload.isl.mean=[1000,2000]', ...set])).code).toBe(0);
    expect(userError(() => mergeRuns([shards[0]!, fewer, shards[2]!], { out }))).toMatch(/holds a sweep of 4 points, not 16/);
    // The same name, seed, shard count and sweep size, another deployment: the fingerprint tells them apart.
    const tcp = dir('tcp');
    expect((await nixlsimInProcess(['run', BREAKEVEN, '--out', tcp, '--shard', '2/3', '--set', 'deployment.transport=tcp', ...set])).code).toBe(0);
    expect(userError(() => mergeRuns([shards[0]!, tcp, shards[2]!], { out }))).toMatch(/^'.*tcp-\d+' holds fingerprint [0-9a-f]{12}…, not [0-9a-f]{12}… \(the resolved experiment differs: .*\) as in '.*shard1-\d+': shards of different runs$/);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a shard whose points or events.log were tampered with', () => {
    const out = dir('never');
    const copy = (from: string, edit: (summary: string, log: string) => [string, string | undefined]) => {
      const d = dir('edited');
      const [s, l] = edit(read(from, 'summary.json'), read(from, 'events.log'));
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'summary.json'), s);
      if (l !== undefined) writeFileSync(join(d, 'events.log'), l);
      return d;
    };
    // A point duplicated inside shard 2 (p004 twice instead of p004, p007).
    const dup = copy(shards[1]!, (s, l) => {
      const j = JSON.parse(s);
      j.points[2] = j.points[1];
      return [JSON.stringify(j), l];
    });
    expect(userError(() => mergeRuns([shards[0]!, dup, shards[2]!], { out }))).toMatch(/^'.*edited-\d+': shard 2\/3 of 16 points should hold p001, p004, p007, p010, p013, but holds p001, p004, p004, p010, p013$/);
    // A point missing.
    const short = copy(shards[1]!, (s, l) => {
      const j = JSON.parse(s);
      j.points.pop();
      return [JSON.stringify(j), l];
    });
    expect(userError(() => mergeRuns([shards[0]!, short, shards[2]!], { out }))).toMatch(/should hold p001, p004, p007, p010, p013, but holds p001, p004, p007, p010$/);
    // No events.log where the others have one.
    const nolog = copy(shards[1]!, (s) => [s, undefined]);
    expect(userError(() => mergeRuns([shards[0]!, nolog, shards[2]!], { out }))).toMatch(/^'.*edited-\d+' holds no events\.log, but '.*shard1-\d+' does/);
    // events.log of another shard.
    const wrongLog = copy(shards[1]!, (s) => [s, read(shards[2]!, 'events.log')]);
    expect(userError(() => mergeRuns([shards[0]!, wrongLog, shards[2]!], { out }))).toMatch(/events\.log does not hold one block per point of its summary\.json/);
    // A point without its numbers.
    const hollow = copy(shards[1]!, (s, l) => {
      const j = JSON.parse(s);
      delete j.points[3].kvTransfer.ms;
      return [JSON.stringify(j), l];
    });
    expect(userError(() => mergeRuns([shards[0]!, hollow, shards[2]!], { out }))).toMatch(/^.*edited-\d+\/summary\.json:1:\d+ points\[3\]\.kvTransfer\.ms: not a point result \(no kvTransfer\.ms\)$/);
    // Not JSON.
    const broken = copy(shards[1]!, (s, l) => [s.slice(0, 100), l]);
    expect(userError(() => mergeRuns([shards[0]!, broken, shards[2]!], { out }))).toMatch(/summary\.json:7:6 shard: not valid JSON: the file ends in the middle of a value/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('merge with the in-process path and more shards than points', () => {
  it('joins the shards of a fake-simulated sweep, empty shards included, into the whole run', async () => {
    const whole = dir('fake-whole');
    const full = runExperiment(fixture('sweep.yaml'), { out: whole }, (p) => fakeResult(p));
    const shards = Array.from({ length: 8 }, (_, i) => {
      const out = dir('fake-shard');
      runExperiment(fixture('sweep.yaml'), { out, shard: { index: i + 1, count: 8 } }, (p) => fakeResult(p));
      return out;
    });
    const out = dir('fake-merged');
    const r = mergeRuns(shards, { out });
    expect(read(out, 'summary.json')).toBe(read(whole, 'summary.json'));
    expect(r.summary).toEqual(full.summary);
    expect(readdirSync(out).sort()).toEqual(['points.csv', 'report.html', 'report.md', 'summary.json']); // the fake gives no event logs, so neither does the merge
  });

  it('a one-point experiment as one shard of one, through the pool path', async () => {
    const a = dir('one');
    const b = dir('one-shard');
    await runExperimentOnPool(fixture('minimal.yaml'), { out: a, set: ['workload.requests=5', 'workload.warmup=0'] });
    await runExperimentOnPool(fixture('minimal.yaml'), { out: b, set: ['workload.requests=5', 'workload.warmup=0'], shard: { index: 1, count: 1 } });
    const out = dir('one-merged');
    mergeRuns([b], { out });
    expect(read(out, 'summary.json')).toBe(read(a, 'summary.json'));
    expect(read(out, 'events.log')).toBe(read(a, 'events.log'));
  });
});
