import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { defaultCatalog, getConnector, projectRoot, type Catalog } from '../../catalog/index.js';
import { engineUnregisteredText } from '../../nixl/compat.js';
import { effectiveProfile } from '../../serving/cluster.js';
import { expandPoints, loadExperiment } from '../../experiment/index.js';
import type { Point, PointResult } from '../../spec/experiment.js';
import { breakevenRows, type BreakevenRow } from '../../report/charts/data.js';
import { buildSummary } from '../../spec/summary.js';
import { crossoverText } from './breakeven.js';
import { goodputByIsl, type GoodputSide } from '../../plan/breakeven-goodput.js';
import { simulatePoints } from '../../run/simulate.js';

/**
 * The built-in default experiment (`npm start`): the three seed scenarios of experiments/seeds/, run and read out in
 * a few lines each, so that a first-time user sees what nixlsim is for in under a minute.
 */
export const quickstartCommand: CommandModule = {
  command: 'quickstart',
  describe: 'Run the three seed scenarios (long context, asymmetric TP, break-even) and print what they show',
  handler: async () => {
    const catalog = defaultCatalog();
    const seeds = join(projectRoot(), 'experiments', 'seeds');
    const run = async (file: string): Promise<{ point: Point; r: PointResult }[]> => {
      const points = expandPoints(loadExperiment(join(seeds, file)));
      const results = await simulatePoints(points, { catalog });
      return points.map((point, i) => ({ point, r: results[i]! }));
    };
    const out: string[] = ['nixlsim quickstart: the three seed scenarios in experiments/seeds/ (nixlsim run <file> for the full tables)', ''];
    const be = await run('breakeven.yaml');
    out.push(...longContext(await run('long-context.yaml')), '', ...asymmetric(await run('asymmetric-tp.yaml'), catalog), '', ...breakeven(be), ...(await goodput(be)));
    console.log(out.join('\n'));
  },
};

const s = (ms: number | null): string => (ms === null ? '-' : ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);

function longContext(rows: { point: Point; r: PointResult }[]): string[] {
  const transports = [...new Set(rows.map((x) => x.point.experiment.deployment.transport))];
  const isls = [...new Set(rows.map((x) => x.point.experiment.workload.isl.mean))];
  const cell = (t: string, isl: number) => {
    const x = rows.find((y) => y.point.experiment.deployment.transport === t && y.point.experiment.workload.isl.mean === isl)!.r;
    return x.requests.fellBack > 0 ? `${s(x.ttftMs.mean)} (fell back)` : `${s(x.ttftMs.mean)} (KV ${s(x.kvTransfer.ms.mean)})`;
  };
  const w = 24;
  // The first transport, in the table's order, whose KV read outlasted the expiry, at the shortest input it did.
  const expired = (x: { r: PointResult }) => (x.r.events.kv_blocks_expired ?? 0) > 0;
  const firstBad = transports.map((t) => rows.find((x) => x.point.experiment.deployment.transport === t && expired(x))).find((x) => x !== undefined);
  const d = rows[0]!.point.experiment.deployment;
  return [
    `1. Long context (seeds 000/001): ${d.model}, prefill TP${d.prefill.tp} -> decode TP${d.decode.tp}, mean TTFT by input length and transport`,
    `   ${'input tokens'.padEnd(14)}${transports.map((t) => t.padEnd(w)).join('')}`.trimEnd(),
    ...isls.map((isl) => `   ${String(isl).padEnd(14)}${transports.map((t) => cell(t, isl).padEnd(w)).join('')}`.trimEnd()),
    firstBad ? expiredText(firstBad) : '   No transport outlasted the abort timeout.',
  ];
}

/** What the first expired point shows: its expiry (the point's connector profile's, or the experiment's) and log line. */
export function expiredText({ point, r }: { point: Point; r: PointResult }): string {
  const at = `   On ${point.experiment.deployment.transport} from ${point.experiment.workload.isl.mean} tokens the KV read outlasts`;
  const lines = `(${r.events.kv_blocks_expired} lines) and the request is prefilled again on the decode worker.`;
  const e = r.expiry;
  if (e?.kind === 'abort-timeout') return `${at} the ${e.timeoutS} s abort timeout: every prefill rank logs "Releasing expired KV blocks ... within ${e.timeoutS} seconds" ${lines}`;
  if (e?.kind === 'lease') return `${at} its ${e.leaseS} s KV lease: every prefill rank logs "Releasing expired KV blocks ... before lease expired" ${lines}`;
  return `${at} its KV expiry: every prefill rank logs "Releasing expired KV blocks" ${lines}`;
}

function asymmetric(rows: { point: Point; r: PointResult }[], catalog: Catalog): string[] {
  const d = rows[0]!.point.experiment.deployment;
  return [
    `2. Asymmetric TP (seed 003): ${d.model} on ${d.gpu}, ${d.prefill.workers} prefill x TP${d.prefill.tp}, ${d.decode.workers} decode x TP${d.decode.tp}`,
    ...rows.map(({ point, r }) => {
      const c = point.experiment.deployment.connector;
      const dead = r.events.engine_dead ?? 0;
      return `   ${c.padEnd(16)} ${r.requests.completed}/${r.requests.total} completed` +
        (dead > 0 ? `, ${dead} decode engines dead (${deathText(point, catalog)})` : `, TTFT p50 ${s(r.ttftMs.p50)}, ${r.throughput.outputTokensPerS.toFixed(0)} output tok/s`);
    }),
  ];
}

/**
 * How the point's build kills a decode engine, in the texts of its connector profile (models/connector/): with prefill
 * TP wider than a build that crashes on it, the handshake's internal error first; then what get_finished() raises.
 */
export function deathText(point: Point, catalog: Catalog): string {
  const d = point.experiment.deployment;
  const profile = effectiveProfile(getConnector(catalog, d.connector), d);
  const inner = d.prefill.tp > d.decode.tp && profile.tp.prefillWider === 'crash' ? profile.errors.prefillWiderHandshake : undefined;
  const killed = engineUnregisteredText(profile, '<engine id>');
  return inner ? `${inner.error} in the handshake, then ${killed}` : killed;
}

function breakeven(rows: { point: Point; r: PointResult }[]): string[] {
  const d = rows[0]!.point.experiment.deployment;
  const gpus = (mode: 'aggregated' | 'disaggregated') =>
    mode === 'aggregated' ? d.aggregated.workers * d.aggregated.tp : d.prefill.workers * d.prefill.tp + d.decode.workers * d.decode.tp;
  // The chart's rows (breakevenRows), output tokens per second put per GPU.
  const table: BreakevenRow[] = breakevenRows(buildSummary('breakeven', rows[0]!.point.experiment.seed, rows.map((x) => x.r))).map((r) => {
    const [aggTokS, disaggTokS] = [r.aggTokS / gpus('aggregated'), r.disaggTokS / gpus('disaggregated')];
    return { ...r, aggTokS, disaggTokS, throughputRatio: disaggTokS / aggTokS };
  });
  const lines = table.map((r) => {
    const gain = r.disaggTokS / r.aggTokS - 1;
    return `   ${String(r.isl).padEnd(6)}${r.aggTokS.toFixed(0).padStart(10)}${r.disaggTokS.toFixed(0).padStart(8)}${`${gain >= 0 ? '+' : ''}${(gain * 100).toFixed(0)}%`.padStart(7)}` +
      `${r.aggTtftP95Ms.toFixed(0).padStart(15)}${r.disaggTtftP95Ms.toFixed(0).padStart(8)}${r.aggItlP95Ms.toFixed(1).padStart(14)}${r.disaggItlP95Ms.toFixed(1).padStart(8)}`;
  });
  return [
    `3. Break-even (seed 002): ${d.model} on ${d.node} over ${d.transport}, at equal GPU counts: aggregated ${d.aggregated.workers} x TP${d.aggregated.tp} ` +
      `(${gpus('aggregated')} GPUs) vs disaggregated ${d.prefill.workers}P TP${d.prefill.tp} + ${d.decode.workers}D TP${d.decode.tp} (${gpus('disaggregated')} GPUs), concurrency ${rows[0]!.point.experiment.workload.concurrency}; output tok/s per GPU, TTFT and ITL p95 in ms`,
    `   ${'ISL'.padEnd(6)}${'tok/s agg'.padStart(10)}${'disagg'.padStart(8)}${'gain'.padStart(7)}${'TTFT p95 agg'.padStart(15)}${'disagg'.padStart(8)}${'ITL p95 agg'.padStart(14)}${'disagg'.padStart(8)}`,
    ...lines,
    `   ${crossoverText(table, 'throughput')}.`,
    `   ${crossoverText(table, 'itl_p95')}.`,
  ];
}

/** The SLO the goodput line holds both modes to: the one docs/planning.md plans seed 002's traffic with. */
const SLO = 'ttft_p95_ms<=2000,itl_p95_ms<=50';

/**
 * Seed 002's measured length on the same GPUs, as `plan` answers it: each mode's highest Poisson rate within the SLO,
 * per GPU (plan --gpus <the table's GPUs> at that ISL gives the same rows).
 */
async function goodput(rows: { point: Point; r: PointResult }[]): Promise<string[]> {
  const e = rows[0]!.point.experiment;
  const d = e.deployment;
  const isl = Math.max(...rows.map((x) => x.point.experiment.workload.isl.mean));
  const gpus = d.aggregated.workers * d.aggregated.tp;
  const dir = mkdtempSync(join(tmpdir(), 'nixlsim-quickstart-'));
  try {
    const [row] = await goodputByIsl({ model: d.model, node: d.node, transport: d.transport, isl: [isl], osl: e.workload.osl.mean, gpus, tp: d.aggregated.tp, slo: SLO, seed: e.seed, out: dir });
    const side = (x: GoodputSide | null) => (x ? `${x.label} ${x.goodputPerGpu.toFixed(2)} req/s per GPU` : 'nothing meets it');
    const [a, g] = [row!.aggregated, row!.disaggregated];
    const lead = a && g ? ` (${g.goodputPerGpu >= a.goodputPerGpu ? 'disaggregated' : 'aggregated'} ahead by ${((Math.max(a.goodputPerGpu, g.goodputPerGpu) / Math.min(a.goodputPerGpu, g.goodputPerGpu) - 1) * 100).toFixed(0)}%)` : '';
    return [
      `   Within ${SLO.split(',').join(', ')} at ISL ${isl} (Poisson arrivals, as \`nixlsim plan --gpus ${gpus}\` answers it): ${side(a)}, ${side(g)}${lead}.`,
      `   With more GPUs the prefill:decode ratio decides: \`nixlsim plan --gpus 8\` (docs/planning.md) searches it, and \`breakeven --slo\` by input length.`,
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
