/**
 * `npm run bench:sweep [-- --json] [-- --workers N] [-- --rounds R]`: a 200-point sweep (the breakeven scenario, Llama-3.1-8B on EFA,
 * over 10 input lengths x 10 concurrencies x 2 modes, 6000 measured requests each) run with `--workers 1` (in this
 * thread) and on the worker-thread pool (default: one thread per core), in the same process; prints both wall times
 * and the speed-up, and checks that both runs wrote the same summary.json and events.log.
 * With --rounds R (default 3) the two runs alternate R times and the fastest of each counts: on a machine shared with
 * other jobs, a burst of their work slows one run, not both alike. The pool's threads are kept across the rounds, as
 * this thread is: in round 1 both sides start cold (code not yet compiled by V8, heap not grown), in later rounds
 * both are warm. (Fresh threads each round would compare a warm thread with cold ones.)
 * Benchmarks are not tests: nothing here fails a build (a mismatch of the two outputs does: exit 3).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runExperimentOnPool } from '../src/run/run.js';
import { defaultCatalog } from '../src/catalog/load.js';
import { defaultWorkerCount, SimulationPool } from '../src/run/pool.js';
import { SWEEP_EXPERIMENT } from './sweep-experiment.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function timed(file: string, out: string, workers: number, pool?: SimulationPool): Promise<{ seconds: number; points: number }> {
  const t0 = performance.now();
  const r = await runExperimentOnPool(file, { out, workers, json: true, ...(pool ? { pool } : {}) });
  return { seconds: (performance.now() - t0) / 1000, points: r.summary.points.length };
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const poolWorkers = flag('--workers') !== undefined ? Number(flag('--workers')) : defaultWorkerCount();
  const dir = mkdtempSync(join(tmpdir(), 'nixlsim-bench-sweep-'));
  try {
    const file = join(dir, 'sweep.yaml');
    writeFileSync(file, SWEEP_EXPERIMENT);
    const rounds = Math.max(1, Number(flag('--rounds') ?? 3));
    let one = { seconds: Infinity, points: 0 };
    let pool = { seconds: Infinity, points: 0 };
    /** Round 1's times: both sides cold. */
    let cold = { one: 0, pool: 0 };
    let threads: SimulationPool | undefined;
    try {
      for (let r = 0; r < rounds; r++) {
        const a = await timed(file, join(dir, 'workers-1'), 1);
        // Round 1's pool run includes its threads' start: they start here, and load while the run prepares.
        threads ??= new SimulationPool({ workers: poolWorkers, catalog: defaultCatalog() });
        const b = await timed(file, join(dir, 'pool'), poolWorkers, threads);
        if (r === 0) cold = { one: a.seconds, pool: b.seconds };
        if (a.seconds < one.seconds) one = a;
        if (b.seconds < pool.seconds) pool = b;
      }
    } finally {
      await threads?.close();
    }
    const same = ['summary.json', 'events.log'].every((f) => readFileSync(join(dir, 'workers-1', f), 'utf8') === readFileSync(join(dir, 'pool', f), 'utf8'));
    if (!same) {
      process.stderr.write('bench:sweep: the pool wrote other bytes than --workers 1: results depend on the worker count (a bug)\n');
      process.exitCode = 3;
    }
    const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
    const result = {
      sweepPoints: one.points,
      secondsWorkers1: round(one.seconds, 3),
      secondsPool: round(pool.seconds, 3),
      speedup: round(one.seconds / pool.seconds, 2),
      rounds,
      /** Round 1 alone: both sides cold, as one `nixlsim run` is. */
      speedupRound1: round(cold.one / cold.pool, 2),
    };
    if (json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const perPoint = (s: number) => `${round((s / one.points) * 1000, 1)} ms/point`;
    process.stdout.write(
      [
        `sweep of ${result.sweepPoints} points (breakeven, Llama-3.1-8B on EFA: 10 ISL x 10 concurrency x 2 modes, 6000 requests each)`,
        `  --workers 1:            ${result.secondsWorkers1.toFixed(2)} s  (${perPoint(one.seconds)})`,
        `  pool, ${String(poolWorkers).padEnd(2)} worker threads: ${result.secondsPool.toFixed(2)} s  (${perPoint(pool.seconds)})`,
        `  speed-up:               ${result.speedup.toFixed(2)}x  (fastest of ${rounds} rounds each)`,
        `  round 1 alone (cold):   ${round(cold.one, 2).toFixed(2)} s against ${round(cold.pool, 2).toFixed(2)} s, ${result.speedupRound1.toFixed(2)}x`,
        `  outputs identical:      ${same ? 'yes' : 'NO'}`,
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
