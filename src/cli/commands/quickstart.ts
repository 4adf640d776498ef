import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { defaultCatalog, projectRoot } from '../../catalog/index.js';
import { expandPoints, loadExperiment } from '../../experiment/index.js';
import type { Point, PointResult } from '../../experiment/types.js';
import { simulatePoint } from '../../serving/simulate.js';

/**
 * The built-in default experiment (`npm start`): the three seed scenarios of experiments/seeds/, run and read out in
 * a few lines each, so that a first-time user sees what nixlsim is for in under a minute.
 */
export const quickstartCommand: CommandModule = {
  command: 'quickstart',
  describe: 'Run the three seed scenarios (long context, asymmetric TP, break-even) and print what they show',
  handler: () => {
    const catalog = defaultCatalog();
    const seeds = join(projectRoot(), 'experiments', 'seeds');
    const run = (file: string): { point: Point; r: PointResult }[] =>
      expandPoints(loadExperiment(join(seeds, file))).map((point) => ({ point, r: simulatePoint(point, catalog) }));
    const out: string[] = ['nixlsim quickstart: the three seed scenarios in experiments/seeds/ (nixlsim run <file> for the full tables)', ''];
    out.push(...longContext(run('long-context.yaml')), '', ...asymmetric(run('asymmetric-tp.yaml')), '', ...breakeven(run('breakeven.yaml')));
    console.log(out.join('\n'));
  },
};

const s = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);

function longContext(rows: { point: Point; r: PointResult }[]): string[] {
  const transports = [...new Set(rows.map((x) => x.point.experiment.deployment.transport))];
  const isls = [...new Set(rows.map((x) => x.point.experiment.workload.isl.mean))];
  const cell = (t: string, isl: number) => {
    const x = rows.find((y) => y.point.experiment.deployment.transport === t && y.point.experiment.workload.isl.mean === isl)!.r;
    return x.requests.fellBack > 0 ? `${s(x.ttftMs.mean)} (fell back)` : `${s(x.ttftMs.mean)} (KV ${s(x.kvTransfer.ms.mean)})`;
  };
  const w = 24;
  const tcp = rows.filter((x) => x.point.experiment.deployment.transport === 'tcp');
  const firstBad = tcp.find((x) => x.r.events.kv_blocks_expired! > 0);
  const d = rows[0]!.point.experiment.deployment;
  return [
    `1. Long context (seeds 000/001): ${d.model}, prefill TP${d.prefill.tp} -> decode TP${d.decode.tp}, mean TTFT by input length and transport`,
    `   ${'input tokens'.padEnd(14)}${transports.map((t) => t.padEnd(w)).join('')}`.trimEnd(),
    ...isls.map((isl) => `   ${String(isl).padEnd(14)}${transports.map((t) => cell(t, isl).padEnd(w)).join('')}`.trimEnd()),
    firstBad
      ? `   On tcp from ${firstBad.point.experiment.workload.isl.mean} tokens the KV read outlasts the 120 s abort timeout: every prefill rank logs ` +
        `"Releasing expired KV blocks ... within 120 seconds" (${firstBad.r.events.kv_blocks_expired} lines) and the request is prefilled again on the decode worker.`
      : '   No transport outlasted the abort timeout.',
  ];
}

function asymmetric(rows: { point: Point; r: PointResult }[]): string[] {
  const d = rows[0]!.point.experiment.deployment;
  return [
    `2. Asymmetric TP (seed 003): ${d.model} on ${d.gpu}, ${d.prefill.workers} prefill x TP${d.prefill.tp}, ${d.decode.workers} decode x TP${d.decode.tp}`,
    ...rows.map(({ point, r }) => {
      const c = point.experiment.deployment.connector;
      const dead = r.events.engine_dead ?? 0;
      return `   ${c.padEnd(16)} ${r.requests.completed}/${r.requests.total} completed` +
        (dead > 0 ? `, ${dead} decode engines dead (ZeroDivisionError in the handshake, then KeyError in block_size_ratio_from_engine_id)` : `, TTFT p50 ${s(r.ttftMs.p50)}, ${r.throughput.outputTokensPerS.toFixed(0)} output tok/s`);
    }),
  ];
}

function breakeven(rows: { point: Point; r: PointResult }[]): string[] {
  const isls = [...new Set(rows.map((x) => x.point.experiment.workload.isl.mean))];
  const get = (isl: number, mode: string) => rows.find((x) => x.point.experiment.workload.isl.mean === isl && x.point.experiment.deployment.mode === mode)!.r;
  let crossover: number | undefined;
  const lines = isls.map((isl) => {
    const a = get(isl, 'aggregated');
    const g = get(isl, 'disaggregated');
    const gain = g.throughput.outputTokensPerS / a.throughput.outputTokensPerS - 1;
    if (crossover === undefined && gain > 0) crossover = isl;
    return `   ${String(isl).padEnd(8)}${a.throughput.outputTokensPerS.toFixed(0).padStart(9)}${g.throughput.outputTokensPerS.toFixed(0).padStart(9)}${`${gain >= 0 ? '+' : ''}${(gain * 100).toFixed(0)}%`.padStart(8)}` +
      `${a.itlMs.mean.toFixed(1).padStart(10)}${g.itlMs.mean.toFixed(1).padStart(10)}`;
  });
  const d = rows[0]!.point.experiment.deployment;
  return [
    `3. Break-even (seed 002): ${d.model} on ${d.node} over ${d.transport}, output tokens/s and ITL (ms), aggregated vs disaggregated`,
    `   ${'ISL'.padEnd(8)}${'agg'.padStart(9)}${'disagg'.padStart(9)}${'gain'.padStart(8)}${'ITL agg'.padStart(10)}${'ITL dis'.padStart(10)}`,
    ...lines,
    crossover !== undefined ? `   Disaggregated serving pulls ahead from ISL ${crossover}.` : '   Aggregated serving wins at every input length here.',
  ];
}
