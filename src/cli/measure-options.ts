import type { Argv } from 'yargs';
import { UserError } from '../errors.js';
import { MEASURE_FORMATS, type MeasureFormat } from '../measure/types.js';
import { isMeasureFormat, type ReadOptions } from '../measure/read.js';
import { setList, wholeNumber } from './options.js';

/** The flags audit and calibrate share: the measurements, the deployment, and what a file may lack. */
export interface MeasureArgs {
  measurements: string[];
  experiment: string;
  isl?: number;
  osl?: number;
  concurrency?: number;
  format?: MeasureFormat;
  set?: string[];
  seed?: number;
  requests?: number;
  json: boolean;
}

function format(v: unknown): MeasureFormat {
  const s = String(v);
  if (!isMeasureFormat(s)) throw new UserError(`--format must be one of ${MEASURE_FORMATS.join(', ')}, got '${s}'`);
  return s;
}

export function measureOptions<T>(y: Argv<T>, o: { experimentRequired?: boolean; files?: string } = {}): Argv<T> {
  return y
    .positional('measurements', { type: 'string', array: true, demandOption: true, describe: o.files ?? 'measurement files: genai-perf export (.json/.csv), vLLM bench serve result (.json), or the plain CSV' })
    .option('experiment', {
      type: 'string',
      demandOption: o.experimentRequired ?? true,
      requiresArg: true,
      describe: 'experiment file whose deployment the measurements ran on (its workload is replaced by each measured run)',
    })
    .option('isl', { requiresArg: true, describe: 'input length where a file does not record it', coerce: wholeNumber('isl', 1) })
    .option('osl', { requiresArg: true, describe: 'output length where a file does not record it', coerce: wholeNumber('osl', 1) })
    .option('concurrency', { requiresArg: true, describe: 'requests in flight where a file does not record it (genai-perf CSV, uncapped vLLM runs)', coerce: wholeNumber('concurrency', 1) })
    .option('format', { type: 'string', requiresArg: true, describe: `skip format detection: ${MEASURE_FORMATS.join(', ')}`, coerce: format })
    .option('set', { type: 'string', requiresArg: true, describe: 'override a field of the experiment: path=value (repeatable), e.g. deployment.mode=disaggregated', coerce: setList })
    .option('seed', { requiresArg: true, describe: "override the experiment's seed", coerce: wholeNumber('seed', 0) })
    .option('requests', { requiresArg: true, describe: 'requests simulated per measured run (default max(20, 3 x concurrency))', coerce: wholeNumber('requests', 1) })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as unknown as Argv<T>;
}


/** What audit and calibrate both hand on from the shared flags: the deployment, its overrides, and the file defaults. */
export function measuredRunArgs(a: MeasureArgs): { experiment: string; set?: string[]; seed?: number; requests?: number; read: ReadOptions } {
  return {
    experiment: a.experiment,
    ...(a.set !== undefined ? { set: a.set } : {}),
    ...(a.seed !== undefined ? { seed: a.seed } : {}),
    ...(a.requests !== undefined ? { requests: a.requests } : {}),
    read: {
      ...(a.isl !== undefined ? { isl: a.isl } : {}),
      ...(a.osl !== undefined ? { osl: a.osl } : {}),
      ...(a.concurrency !== undefined ? { concurrency: a.concurrency } : {}),
      ...(a.format !== undefined ? { format: a.format } : {}),
    },
  };
}
