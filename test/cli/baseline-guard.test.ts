/**
 * "An existing baseline is never overwritten without --update" (issue 9), through the command line (run in this
 * process as the binary runs it): a check that passes, one that fails and one with no baseline at all leave the
 * baseline directory byte for byte and mtime for mtime as it was; --update writes the file through a temporary file and
 * a rename (nothing else left in the directory), and an --update that would write the same bytes does not touch the
 * file.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nixlsimInProcess } from '../helpers/cli.js';

/** One point, 10 requests of 1000 + 10 tokens on one aggregated H100 worker: well under a second. */
const OK = 'test/fixtures/bad/_ok.yaml';
/** A moment long past, so that any write shows in the modification time. */
const LONG_AGO = new Date('2001-02-03T04:05:06Z');

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function state(dir: string): { files: string[]; bytes: string; mtimeMs: number } {
  const file = join(dir, 'bad-ok.json');
  return { files: readdirSync(dir), bytes: readFileSync(file, 'utf8'), mtimeMs: statSync(file).mtimeMs };
}

describe('nixlsim check and the baselines', () => {
  it('never writes a baseline without --update; --update writes it atomically, and only when its bytes change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-guard-'));
    dirs.push(dir);

    // No baseline and no --update: a failing check (exit 1) that creates nothing.
    const none = await nixlsimInProcess(['check', OK, '--baselines', dir]);
    expect(none.code, none.stderr).toBe(1);
    expect(none.stdout).toContain('no baseline');
    expect(readdirSync(dir)).toEqual([]);

    // --update writes the baseline, and nothing else (no temporary file left beside it).
    const created = await nixlsimInProcess(['check', OK, '--baselines', dir, '--update']);
    expect(created.code, created.stderr).toBe(0);
    expect(readdirSync(dir)).toEqual(['bad-ok.json']);
    const written = readFileSync(join(dir, 'bad-ok.json'), 'utf8');
    utimesSync(join(dir, 'bad-ok.json'), LONG_AGO, LONG_AGO);

    // A passing check leaves it alone.
    const before = state(dir);
    const passed = await nixlsimInProcess(['check', OK, '--baselines', dir]);
    expect(passed.code, passed.stdout + passed.stderr).toBe(0);
    expect(passed.stdout).toContain('check passed');
    expect(state(dir)).toEqual(before);
    expect(before.mtimeMs).toBe(LONG_AGO.getTime());

    // A failing check leaves it alone too. The edited baseline says TTFT was 1 ms on average; a 1000-token prompt of
    // the 8B model takes ~2 x 8e9 x 1000 = 1.6e13 FLOP / (989e12 FLOP/s x 0.79) = ~20 ms plus an ~8 ms step
    // overhead, so the run's mean is far beyond both 1 ms and 2% above it: REGRESSED, exit 1.
    const edited = JSON.parse(written) as { points: { p000: { metrics: Record<string, number> } } };
    edited.points.p000.metrics['ttftMs.mean'] = 1;
    writeFileSync(join(dir, 'bad-ok.json'), `${JSON.stringify(edited, null, 2)}\n`);
    utimesSync(join(dir, 'bad-ok.json'), LONG_AGO, LONG_AGO);
    const regressed = state(dir);
    const failed = await nixlsimInProcess(['check', OK, '--baselines', dir]);
    expect(failed.code, failed.stdout + failed.stderr).toBe(1);
    expect(failed.stdout).toMatch(/REGRESSED: bad-ok p000: ttftMs\.mean rose from 1 to/);
    expect(state(dir)).toEqual(regressed);

    // --update puts back what the run gives (the same bytes as the first --update: the run is deterministic).
    const updated = await nixlsimInProcess(['check', OK, '--baselines', dir, '--update']);
    expect(updated.code, updated.stdout + updated.stderr).toBe(0);
    expect(updated.stdout).toMatch(/^wrote .*bad-ok\.json$/m);
    expect(state(dir).files).toEqual(['bad-ok.json']);
    expect(state(dir).bytes).toBe(written);
    expect(state(dir).mtimeMs).not.toBe(LONG_AGO.getTime());

    // And an --update with nothing to change does not touch the file.
    utimesSync(join(dir, 'bad-ok.json'), LONG_AGO, LONG_AGO);
    const same = state(dir);
    const again = await nixlsimInProcess(['check', OK, '--baselines', dir, '--update']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^unchanged .*bad-ok\.json$/m);
    expect(state(dir)).toEqual(same);
  });
});
