import type { Argv, CommandModule } from 'yargs';
import { mergeRunsWithCharts } from '../../run/merge.js';

interface Args {
  dirs: string[];
  out?: string;
  json: boolean;
}

export const mergeCommand: CommandModule<object, Args> = {
  command: 'merge <dirs...>',
  describe: 'Join the shard outputs of `run --shard i/n` into the summary.json (and events.log) of the whole run',
  builder: (y) =>
    y
      .positional('dirs', { type: 'string', array: true, demandOption: true, describe: 'the --out directory of every shard' })
      .option('out', { type: 'string', requiresArg: true, describe: 'report directory (default: ./reports/<name>/)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the merged summary.json instead of the table' }) as unknown as Argv<Args>,
  handler: async (a) => {
    const r = await mergeRunsWithCharts(a.dirs.map(String), { ...(a.out !== undefined ? { out: a.out } : {}), json: a.json });
    process.stdout.write(r.text);
  },
};
