import type { Argv, CommandModule } from 'yargs';
import { parseTolerances, type Tolerances } from '../../report/baseline.js';
import { checkJson, runCheck } from '../../run/check.js';

interface Args {
  experiments: string[];
  baselines?: string;
  update: boolean;
  junit?: string;
  out?: string;
  quiet: boolean;
  json: boolean;
  tolerance?: Tolerances;
}

export const checkCommand: CommandModule<object, Args> = {
  command: 'check [experiments..]',
  describe: 'Regression gate: run experiments and compare them with their baselines and expect: entries; exit 1 on a regression',
  builder: (y) =>
    y
      .positional('experiments', {
        type: 'string',
        array: true,
        default: [],
        describe: 'experiment files or directories of them (default: experiments/seeds/*.yaml)',
      })
      .option('baselines', { type: 'string', requiresArg: true, describe: "baseline directory (default: the package's reports/baselines/ for its own experiments, ./reports/baselines/ for yours)" })
      .option('update', { type: 'boolean', default: false, describe: 'rewrite the baselines from this run (never done otherwise)' })
      .option('junit', { type: 'string', requiresArg: true, describe: 'also write JUnit XML to this file' })
      .option('out', { type: 'string', requiresArg: true, describe: "keep each run's summary.json in DIR/<name>/ (default: a temporary directory)" })
      .option('tolerance', {
        type: 'string',
        requiresArg: true,
        describe: 'relative tolerance: 5% for every metric, or by family ttft=5%,itl=2%,e2e,throughput,requests (over the baseline file\'s `tolerances`; default 2%)',
        coerce: parseTolerances,
      })
      .option('quiet', { type: 'boolean', default: false, describe: 'print only regressions and failed expectations, and the count lines' })
      .option('json', { type: 'boolean', default: false, describe: 'print {passed, metrics: [{experiment, point, metric, baseline, now, deltaPct, verdict}], regressions, improvements}' }) as unknown as Argv<Args>,
  handler: async (a) => {
    const r = await runCheck(a.experiments.map(String), {
      ...(a.baselines !== undefined ? { baselines: a.baselines } : {}),
      ...(a.junit !== undefined ? { junit: a.junit } : {}),
      ...(a.out !== undefined ? { out: a.out } : {}),
      ...(a.tolerance !== undefined ? { tolerances: a.tolerance } : {}),
      update: a.update,
      quiet: a.quiet,
    });
    process.stdout.write(a.json ? checkJson(r, a.update) : r.text);
    process.exitCode = r.code;
  },
};
