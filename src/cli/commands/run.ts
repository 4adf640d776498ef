import type { Argv, CommandModule } from 'yargs';
import { parseShard, type Shard } from '../../experiment/shard.js';
import { MAX_SAMPLES } from '../../experiment/uncertainty.js';
import { shownPath } from '../../experiment/yaml-errors.js';
import { runExperimentOnPool } from '../../run/run.js';
import { DEBUG_INVARIANTS_ENV } from '../../serving/simulate.js';
import { MAX_WORKERS, progressWanted, setList, wholeNumber } from '../options.js';

interface Args {
  experiment: string;
  out?: string;
  seed?: number;
  set?: string[];
  json: boolean;
  workers?: number;
  shard?: Shard;
  uncertainty?: number;
  debugInvariants: boolean;
}

export const runCommand: CommandModule<object, Args> = {
  command: 'run <experiment>',
  describe: 'Run an experiment file (every point of its sweep) and write reports/<name>/summary.json',
  builder: (y) =>
    y
      .positional('experiment', { type: 'string', demandOption: true, describe: 'experiment file, .yaml or .json (experiments/README.md)' })
      .option('out', { type: 'string', requiresArg: true, describe: 'report directory (default: ./reports/<name>/, or ./reports/<name>/shard-i-of-n/ with --shard)' })
      .option('seed', { requiresArg: true, describe: "override the experiment's seed", coerce: wholeNumber('seed', 0) })
      .option('set', { type: 'string', requiresArg: true, describe: 'override a field before validation: path=value (repeatable), e.g. deployment.prefill.tp=2 or sweep.deployment.transport=[tcp,ib-rdma]', coerce: setList })
      .option('workers', { requiresArg: true, describe: 'worker threads simulating points in parallel (default: one per core when the sweep is large enough to gain from them, else none; 1: no threads)', coerce: wholeNumber('workers', 1, MAX_WORKERS) })
      .option('uncertainty', { requiresArg: true, describe: `also run each point n times with the catalog's uncertain figures (transport bandwidth, GPU efficiency factors) drawn from their ranges, and report p5/p50/p95 bands (n from 2 to ${MAX_SAMPLES})`, coerce: wholeNumber('uncertainty', 2, MAX_SAMPLES) })
      .option('shard', { requiresArg: true, describe: 'run only shard i of n (points k with k mod n = i - 1) and write a shard summary for `nixlsim merge`', coerce: parseShard })
      .option('json', { type: 'boolean', default: false, describe: 'print summary.json instead of the table' })
      // Hidden: check the invariants after every event, not only at the end (slow; for debugging nixlsim itself).
      .option('debug-invariants', { type: 'boolean', default: false, hidden: true }) as unknown as Argv<Args>,
  handler: async (a) => {
    // Through the environment, so that the pool's worker threads (which inherit it) check too.
    if (a.debugInvariants) process.env[DEBUG_INVARIANTS_ENV] = '1';
    const r = await runExperimentOnPool(a.experiment, {
      ...(a.out !== undefined ? { out: a.out } : {}),
      ...(a.seed !== undefined ? { seed: a.seed } : {}),
      ...(a.set !== undefined ? { set: a.set } : {}),
      ...(a.workers !== undefined ? { workers: a.workers } : {}),
      ...(a.shard !== undefined ? { shard: a.shard } : {}),
      ...(a.uncertainty !== undefined ? { uncertainty: a.uncertainty } : {}),
      json: a.json,
      progress: progressWanted(a.json),
      charts: true,
    });
    const pngs = r.files.filter((f) => f.endsWith('.png'));
    process.stdout.write(r.text + (pngs.length && !a.json ? `charts: ${pngs.map((f) => shownPath(f)).join(', ')}\n` : ''));
  },
};
