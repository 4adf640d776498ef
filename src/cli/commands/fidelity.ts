/**
 * `nixlsim fidelity`: every published measurement record (models/measurements/*.yaml) run through the model, with
 * the error per record, the MAPE per family, and with --strict exit 1 when a record is outside its tolerance.
 */
import type { Argv, CommandModule } from 'yargs';
import { EXIT_OK, EXIT_REGRESSION } from '../../errors.js';
import { fidelityJson, formatFidelity } from '../../fidelity/format.js';
import { failsStrict, runFidelity } from '../../fidelity/run.js';
import { wholeNumber } from '../options.js';

interface Args {
  json: boolean;
  strict: boolean;
  filter?: string;
  dir?: string;
  workers?: number;
}

export const fidelityCommand: CommandModule<object, Args> = {
  command: 'fidelity',
  describe: 'Run every published measurement (models/measurements/) through the model: error per record, MAPE per family',
  builder: (y) =>
    y
      .option('json', { type: 'boolean', default: false, describe: 'print JSON: {records, mape}' })
      .option('strict', { type: 'boolean', default: false, describe: 'exit 1 when a record is outside its tolerance (a known gap only past the bound its file states)' })
      .option('filter', { type: 'string', requiresArg: true, describe: 'only records whose id (<file id>/<record id>) contains this text, or matches it as a glob with *' })
      .option('dir', { type: 'string', requiresArg: true, describe: 'directory of measurement files (default: models/measurements/)' })
      .option('workers', { requiresArg: true, describe: 'worker threads (default: as `run` chooses: none for small runs, else one per core)', coerce: wholeNumber('workers', 1) }) as unknown as Argv<Args>,
  handler: async (a) => {
    const report = await runFidelity({
      ...(a.filter !== undefined ? { filter: a.filter } : {}),
      ...(a.dir !== undefined ? { dir: a.dir } : {}),
      ...(a.workers !== undefined ? { workers: a.workers } : {}),
    });
    process.stdout.write(a.json ? fidelityJson(report) : formatFidelity(report));
    process.exitCode = a.strict && report.records.some(failsStrict) ? EXIT_REGRESSION : EXIT_OK;
  },
};
