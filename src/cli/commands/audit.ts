import type { Argv, CommandModule } from 'yargs';
import { audit } from '../../audit/audit.js';
import { formatAudit } from '../../audit/format.js';
import { DEFAULT_TOLERANCE } from '../../audit/verdict.js';
import { EXIT_OK, EXIT_REGRESSION } from '../../errors.js';
import { shownPath } from '../../yaml/positions.js';
import { measuredRunArgs, measureOptions, type MeasureArgs } from '../measure-options.js';
import { UserError } from '../../errors.js';
import { MAX_WORKERS, wholeNumber } from '../options.js';

type Args = MeasureArgs & { strict: boolean; tolerance: number; workers?: number };

/** A tolerance is a fraction of the modeled value: above 0, below 1 (a throughput cannot be 100% below modeled). */
function fraction(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!(n > 0 && n < 1)) throw new UserError(`--tolerance must be a fraction between 0 and 1 (0.15 = 15%), got '${String(v)}'`);
  return n;
}

export const auditCommand: CommandModule<object, Args> = {
  command: 'audit <measurements..>',
  describe: 'Hold measured results against the physical bound and the model: consistent, slower (with causes) or impossible',
  builder: (y) =>
    measureOptions(y)
      .option('strict', { type: 'boolean', default: false, describe: 'exit 1 when any measured value is impossible (beyond the physical bound)' })
      .option('tolerance', { default: DEFAULT_TOLERANCE, requiresArg: true, describe: 'relative tolerance of "consistent" (0.15 = 15%)', coerce: fraction })
      .option('workers', { requiresArg: true, describe: 'worker threads simulating the runs (default 1: in this thread)', coerce: wholeNumber('workers', 1, MAX_WORKERS) }) as unknown as Argv<Args>,
  handler: async (a) => {
    const r = await audit(a.measurements, {
      ...measuredRunArgs(a),
      tolerance: a.tolerance,
      ...(a.workers !== undefined ? { workers: a.workers } : {}),
    });
    process.stdout.write(a.json ? `${JSON.stringify(r)}\n` : formatAudit(r, shownPath(a.experiment)));
    process.exitCode = a.strict && r.points.some((p) => p.verdict === 'impossible') ? EXIT_REGRESSION : EXIT_OK;
  },
};
