/**
 * Fuzz inputs: command lines. A command (or a typo of one), its positionals drawn from files that exist and files that
 * should not be read (a device, a FIFO, a directory, a missing file), and up to six flags: the command's own (read
 * from its --help, so the list cannot rot), flags of other commands, unknown ones, repeated ones, each with a value
 * that is right, wrong or hostile. Shared by the fuzz test (`npm test`) and the long run (`npm run fuzz`).
 */
import fc from 'fast-check';

/** Where the generated command lines point: files made by the test before the run. */
export interface ArgvWorld {
  /** A tiny valid experiment file. */
  experiment: string;
  /** A directory holding a finished run (summary.json and the rest). */
  runDir: string;
  /** Shard output directories of the tiny experiment (1/2 and 2/2). */
  shards: string[];
  /** Hostile paths: a FIFO, a device, a directory, a missing file, a file in the way of a directory. */
  hostile: string[];
  /** A fresh place for outputs (does not exist before a case). */
  out: string;
  /** Each command's flags, from its --help. */
  flags: Record<string, string[]>;
}

const NUMBERS = ['0', '1', '2', '3', '8', '-1', '0.5', '1e308', '5e-324', '1e-300', '1073741824', '9007199254740993', 'NaN', 'Infinity', '1,000', '0x10'];
const WORDS = [
  '', ' ', 'x', 'true', 'false', 'null', 'é', '--', '-', 'a'.repeat(300),
  'llama-3.1-8b-instruct', 'deepseek-r1-distill-llama-70b', 'p5.48xlarge', 'dgx-h100', 'h100-sxm', 'efa-libfabric', 'ib-rdma', 'tcp', 'nvlink',
  'any-tp', 'vllm-0.9.0', 'models', 'gpus', 'nodes', 'transports', 'connectors', 'tp-matrix', 'ttft-cdf', 'transfer-curve',
  '1/2', '2/2', '3/2', '0/0', '1000:8000:1000', '8000:1000:1000', '1000,2000', 'ttft:p95<500ms', 'itl:mean<30ms', 'ttft:p95<0ms',
  'workload.requests=3', 'deployment.transport=tcp', 'deployment.prefil.tp=2', 'workload.concurrency=1e9', 'sweep.workload.isl.mean=[100,200]',
  'h100-sxm=2.5', 'workload', '10%', '0.05', 'ttftMs.p95', 'READ', 'UCX', 'posix',
];

export function argvCase(w: ArgvWorld): fc.Arbitrary<string[]> {
  const commands = Object.keys(w.flags);
  const allFlags = [...new Set(Object.values(w.flags).flat())];
  const paths = [w.experiment, w.runDir, `${w.runDir}/summary.json`, ...w.shards, ...w.hostile, w.out];
  const value = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...NUMBERS, ...WORDS) },
    { weight: 2, arbitrary: fc.constantFrom(...paths) },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  );
  const command = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...commands) }, { weight: 1, arbitrary: fc.constantFrom('rn', 'plan2', '', '--help', '--version', '-h') });
  return command.chain((cmd) => {
    const own = w.flags[cmd] ?? [];
    const flag = fc.oneof(
      { weight: 6, arbitrary: own.length > 0 ? fc.constantFrom(...own) : fc.constantFrom(...allFlags) },
      { weight: 1, arbitrary: fc.constantFrom(...allFlags) },
      { weight: 1, arbitrary: fc.constantFrom('--bogus', '--out=', '--seed=', '-x', '--no-json', '--set=') },
    );
    const flagged = fc.array(fc.tuple(flag, fc.option(value, { nil: undefined, freq: 4 })), { maxLength: 6 });
    const positionals = fc.array(fc.oneof(fc.constantFrom(...paths), value), { maxLength: 3 });
    // Most cases name an output place of the case's own, so that a legal command line writes where the test looks.
    const out = fc.constantFrom<string[]>(['--out', w.out], ['--out', w.out], []);
    return fc.tuple(positionals, flagged, out).map(([pos, fl, o]) => [...(cmd === '' ? [] : [cmd]), ...pos, ...fl.flatMap(([f, v]) => (v === undefined ? [f] : [f, v])), ...(own.includes('--out') ? o : [])]);
  });
}
