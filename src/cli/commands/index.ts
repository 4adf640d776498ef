/**
 * The commands, in the order `nixlsim --help` lists them: each one's yargs command string and description, and how
 * to load its module. main.ts loads only the module of the command on the command line (a module pulls in that
 * command's whole tree: the catalog, the simulator, the planner, ...); the others are registered from this table
 * alone, so that the top-level help lists them and yargs can suggest one for a typo. The bundle (scripts/build.mjs)
 * makes each module a chunk of its own, read only when its command runs.
 *
 * `command` and `describe` are the modules' own, repeated: test/cli/commands.test.ts holds them equal.
 */
import type { CommandModule } from 'yargs';

export interface CommandEntry {
  /** yargs' command string: the name, then its positionals. */
  command: string;
  describe: string;
  /** The command's module, loaded (each command has its own argument type). */
  load: () => Promise<CommandModule<object, any>>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    command: 'quickstart',
    describe: 'Run the three seed scenarios (long context, asymmetric TP, break-even) and print what they show',
    load: async () => (await import('./quickstart.js')).quickstartCommand,
  },
  {
    command: 'run <experiment>',
    describe: 'Run an experiment file (every point of its sweep) and write reports/<name>/summary.json',
    load: async () => (await import('./run.js')).runCommand,
  },
  {
    command: 'sensitivity <experiment>',
    describe:
      'Rank the catalog figures known only within a range (transport bandwidth, GPU efficiency factors) by how far each moves a metric of one point, one at a time: table, JSON, tornado chart',
    load: async () => (await import('./sensitivity.js')).sensitivityCommand,
  },
  {
    command: 'merge <dirs...>',
    describe: 'Join the shard outputs of `run --shard i/n` into the summary.json (and events.log) of the whole run',
    load: async () => (await import('./merge.js')).mergeCommand,
  },
  {
    command: 'validate <files..>',
    describe: 'Check experiment files (every sweep point, extends, expect) without running them; exit 2 if any is bad',
    load: async () => (await import('./validate.js')).validateCommand,
  },
  {
    command: 'check [experiments..]',
    describe: 'Regression gate: run experiments and compare them with their baselines and expect: entries; exit 1 on a regression',
    load: async () => (await import('./check.js')).checkCommand,
  },
  {
    command: 'chart [summary]',
    describe:
      'Draw charts (Vega-Lite .vl.json, .svg, .png) from a summary.json, the tornado from a sensitivity.json, the Pareto chart from a plan.json; --kind tp-matrix and transfer-curve need no input',
    load: async () => (await import('./chart.js')).chartCommand,
  },
  {
    command: 'breakeven',
    describe: 'Aggregated vs disaggregated serving by input length (seed 002 for any model and transport): table, crossover ISL, chart',
    load: async () => (await import('./breakeven.js')).breakevenCommand,
  },
  {
    command: 'plan',
    describe: 'Capacity planner: the deployment (aggregated or disaggregated, TP, P:D) that serves the most requests per GPU within SLOs',
    load: async () => (await import('./plan.js')).planCommand,
  },
  {
    command: 'list <kind>',
    describe: 'List the catalog: models, gpus, nodes, transports or connectors',
    load: async () => (await import('./list.js')).listCommand,
  },
  {
    command: 'transfer',
    describe: "Estimate one request's KV transfer from a prefill to a decode worker",
    load: async () => (await import('./transfer.js')).transferCommand,
  },
  {
    command: 'nixlbench',
    describe: "Model NIXL's benchmark: latency and bandwidth by block size and batch size over a transport",
    load: async () => (await import('./nixlbench.js')).nixlbenchCommand,
  },
  {
    command: 'handshake',
    describe: 'Whether a vLLM build accepts, rejects or crashes on a prefill/decode TP pair (--matrix: all of 1, 2, 4, 8)',
    load: async () => (await import('./handshake.js')).handshakeCommand,
  },
  {
    command: 'audit <measurements..>',
    describe: 'Hold measured results against the physical bound and the model: consistent, slower (with causes) or impossible',
    load: async () => (await import('./audit.js')).auditCommand,
  },
  {
    command: 'calibrate <measurements..>',
    describe:
      "Fit a GPU's efficiency factors (and a transport's bandwidth and latency) to measured runs, or a transport's costs to nixlbench output; write catalog records",
    load: async () => (await import('./calibrate.js')).calibrateCommand,
  },
  {
    command: 'fidelity',
    describe: 'Run every published measurement (models/measurements/) through the model: error per record, MAPE per family',
    load: async () => (await import('./fidelity.js')).fidelityCommand,
  },
];

/** A command's name: the first word of its command string. */
export function commandName(c: Pick<CommandEntry, 'command'>): string {
  return c.command.split(' ')[0]!;
}
