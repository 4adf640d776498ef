import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { defaultCatalog, defaultConnector, firstNodeOffering, getLlm, getNode, getTransport, nodeOffers } from '../../catalog/index.js';
import type { Catalog } from '../../spec/catalog.js';
import { UserError } from '../../errors.js';
import { shownPath } from '../../experiment/yaml-errors.js';
import { breakevenRows, crossoverIsl, crossovers, CROSSOVER_METRICS, lead, type BreakevenRow, type CrossoverMetric } from '../../report/charts/data.js';
import { renderCharts } from '../../report/charts/write.js';
import { checkOutputDir, defaultReportDir, writeFileAtomic, writeOutputs } from '../../spec/output.js';
import type { Summary } from '../../spec/summary.js';
import { kvHeadsPerRank } from '../../physics/index.js';
import { forFlag, wholeNumber } from '../options.js';
import { LIMITS } from '../../experiment/schema.js';
import { goodputByIsl, type GoodputRow } from '../../plan/breakeven-goodput.js';
import { MAX_GPUS } from '../../plan/planner.js';
import { parseSlo } from '../../plan/slo.js';
import { textTable } from '../../report/table.js';
import { runExperimentOnPool } from '../../run/run.js';

/** More lengths than this is a typo in the step, not a sweep anyone waits for. */
export const MAX_ISL_VALUES = 100;

/**
 * --isl as start:end:step (1000:8000:1000 is 1000, 2000, ..., 8000; the end is included when the steps land on it)
 * or a comma list (1000,4000,8000). Whole numbers >= 1, ascending, no repeats.
 */
export function parseIslList(text: string): number[] {
  const s = String(text).trim();
  const whole = (v: string, what: string): number => {
    const n = Number(v.trim());
    if (v.trim() === '' || !Number.isInteger(n) || n < 1) throw new UserError(`--isl: ${what} must be a whole number >= 1, got '${v.trim()}' in '${s}'`);
    return n;
  };
  let values: number[];
  if (s.includes(':')) {
    const parts = s.split(':');
    if (parts.length !== 3) throw new UserError(`--isl: expected start:end:step (e.g. 1000:8000:1000) or a comma list, got '${s}'`);
    const [start, end, step] = [whole(parts[0]!, 'start'), whole(parts[1]!, 'end'), whole(parts[2]!, 'step')];
    if (end < start) throw new UserError(`--isl: end ${end} is below start ${start} in '${s}'`);
    const count = Math.floor((end - start) / step) + 1;
    if (count > MAX_ISL_VALUES) throw new UserError(`--isl: '${s}' gives ${count} lengths; at most ${MAX_ISL_VALUES} (use a larger step)`);
    values = Array.from({ length: count }, (_, i) => start + i * step);
  } else {
    values = s.split(',').map((v) => whole(v, 'each length'));
    if (values.length > MAX_ISL_VALUES) throw new UserError(`--isl: ${values.length} lengths; at most ${MAX_ISL_VALUES}`);
  }
  const sorted = [...values].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) throw new UserError(`--isl: ${sorted[i]} appears twice in '${s}'`);
  }
  return sorted;
}

export interface BreakevenOptions {
  model: string;
  transport: string;
  node?: string;
  isl: number[];
  osl: number;
  concurrency: number;
  requests: number;
  warmup: number;
  seed: number;
  /** TP of every worker (seed 002: 1); a larger model needs more. */
  tp?: number;
  /** With an SLO, each ISL also gets each mode's goodput per GPU, as `plan --gpus <gpus>` finds it. */
  slo?: string;
  /** GPU budget of the goodput comparison (default: the closed-loop comparison's, 2 x TP). */
  gpus?: number;
  out?: string;
  catalog?: Catalog;
}

/** GPUs each mode gets: one prefill and one decode worker of `tp` GPUs, and as many GPUs of aggregated workers. */
export function breakevenGpus(tp: number): { aggregated: number; disaggregated: number; aggregatedWorkers: number } {
  return { aggregated: 2 * tp, disaggregated: 2 * tp, aggregatedWorkers: 2 };
}

/**
 * The experiment of experiments/seeds/breakeven.yaml for another model, transport and set of lengths, compared at
 * equal GPU counts: one TP prefill and one TP decode worker against two TP aggregated workers, on the catalog's default
 * connector profile (`default: true`; the profile seed 002's experiment names), prefill and decode on different nodes.
 */
export function breakevenExperiment(o: BreakevenOptions, node: string): Record<string, unknown> {
  const tp = o.tp ?? 1;
  const gpus = breakevenGpus(tp);
  return {
    name: `breakeven-${o.model}-${o.transport}`,
    seed: o.seed,
    deployment: {
      mode: 'aggregated',
      model: o.model,
      node,
      connector: defaultConnector(o.catalog ?? defaultCatalog()).id,
      transport: o.transport,
      prefill: { workers: 1, tp },
      decode: { workers: 1, tp },
      aggregated: { workers: gpus.aggregatedWorkers, tp },
      placement: 'cross-node',
      prewarmed: true, // the steady state, as experiments/seeds/breakeven.yaml: no first-contact handshake in the curve
    },
    workload: {
      kind: 'closed-loop',
      concurrency: o.concurrency,
      requests: o.requests,
      warmup: o.warmup,
      isl: { mean: o.isl[0]!, stddev: 0 },
      osl: { mean: o.osl, stddev: 0 },
    },
    sweep: { 'workload.isl.mean': o.isl, 'deployment.mode': ['aggregated', 'disaggregated'] },
  };
}

export interface BreakevenResult {
  summary: Summary;
  rows: BreakevenRow[];
  /** With --slo: each ISL's best configuration of each mode within the SLO (as `plan` finds it). */
  goodput: GoodputRow[] | null;
  /** The first ISL where disaggregated output tok/s exceeds aggregated (the chart's mark), or null. */
  crossover: number | null;
  node: string;
  outDir: string;
  files: string[];
}

/** Runs the breakeven experiment (through a temporary experiment file and runExperimentOnPool) and writes its chart. */
export async function runBreakeven(o: BreakevenOptions): Promise<BreakevenResult> {
  const c = o.catalog ?? defaultCatalog();
  const llm = forFlag('model', o.model, () => getLlm(c, o.model));
  const transport = forFlag('transport', o.transport, () => getTransport(c, o.transport));
  const node = o.node !== undefined ? forFlag('node', o.node, () => getNode(c, o.node!)) : firstNodeOffering(c, transport.id);
  if (!nodeOffers(node, transport)) {
    throw new UserError(`node '${node.id}' does not offer transport '${transport.id}' (it offers: ${node.transports.join(', ')})`, `--transport ${o.transport}`);
  }
  forFlag('tp', o.tp ?? 1, () => kvHeadsPerRank(llm, o.tp ?? 1));
  const exp = breakevenExperiment({ ...o, model: llm.id, transport: transport.id }, node.id);
  const flag = o.out !== undefined ? `--out ${o.out}` : undefined;
  const outDir = o.out !== undefined ? resolve(o.out) : defaultReportDir(String(exp['name']));
  checkOutputDir(outDir, flag);
  if (o.gpus !== undefined && o.slo === undefined) throw new UserError('--gpus sizes the goodput comparison, which needs --slo');
  const dir = mkdtempSync(join(tmpdir(), 'nixlsim-breakeven-'));
  const file = join(dir, 'breakeven.json');
  let goodputRows: GoodputRow[] | null = null;
  try {
    writeFileAtomic(dir, 'breakeven.json', `${JSON.stringify(exp, null, 2)}\n`); // a full disk is one clear line
    const run = await (async () => {
      try {
        // The user's --out (or none), not outDir: runExperimentOnPool resolves it to the same directory, and its files
        // then name in a write error the flag the user gave (nothing, when the directory is the default). In this
        // thread, as always: a breakeven sweep is small.
        return await runExperimentOnPool(file, { ...(o.out !== undefined ? { out: o.out } : {}), catalog: c, write: false, workers: 1 });
      } catch (err) {
        // The file is ours, not the user's: say which flag-built experiment it was instead of a temporary path.
        if (err instanceof UserError) {
          const msg = [file, shownPath(file)].reduce((m, f) => m.split(f).join('\u0000'), err.message).replace(/\u0000(:\d+:\d+)?/g, 'breakeven experiment');
          throw new UserError(`${msg} (from --model ${llm.id} --transport ${transport.id} --node ${node.id})`);
        }
        throw err;
      }
    })();
    const rows = breakevenRows(run.summary);
    if (o.slo !== undefined) {
      const tp = o.tp ?? 1;
      const goodput = await goodputByIsl({
        model: llm.id,
        node: node.id,
        transport: transport.id,
        isl: o.isl,
        osl: o.osl,
        gpus: o.gpus ?? breakevenGpus(tp).aggregated,
        tp,
        slo: o.slo,
        seed: o.seed,
        out: run.outDir,
      });
      for (const r of rows) {
        const g = goodput.find((x) => x.isl === r.isl);
        r.aggGoodputPerGpu = g?.aggregated?.goodputPerGpu ?? 0;
        r.disaggGoodputPerGpu = g?.disaggregated?.goodputPerGpu ?? 0;
      }
      goodputRows = goodput;
    }
    // The summary, its events.log and the chart go out together, or nothing does.
    const charts = await renderCharts(run.summary, run.outDir, { kinds: ['breakeven'], ...(flag !== undefined ? { flag } : {}) });
    const files = writeOutputs([...run.outputs, ...charts], { dir: run.outDir }).slice(run.outputs.length);
    return { summary: run.summary, rows, goodput: goodputRows, crossover: crossoverIsl(rows), node: node.id, outDir: run.outDir, files };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `aggregated 2 x TP1` -> `2 x TP1`, `disaggregated 1P x TP1 + 1D x TP1` -> `1P x TP1 + 1D x TP1`. */
const shortLabel = (label: string): string => label.replace(/^(dis)?aggregated /, '');

function num(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '-';
}

/**
 * The table: ISL, output tok/s per GPU of each mode (each mode's GPUs: `gpus`), the gain of disaggregated, and TTFT
 * p95 and ITL p95 of each.
 */
export function breakevenTable(rows: readonly BreakevenRow[], gpus: { aggregated: number; disaggregated: number } = { aggregated: 1, disaggregated: 1 }): string[] {
  const slo = rows.some((r) => r.aggGoodputPerGpu !== undefined);
  const header = [
    'ISL',
    'agg tok/s/GPU',
    'disagg tok/s/GPU',
    'gain %',
    'TTFT p95 agg ms',
    'TTFT p95 disagg ms',
    'ITL p95 agg ms',
    'ITL p95 disagg ms',
    ...(slo ? ['goodput agg req/s/GPU', 'goodput disagg req/s/GPU'] : []),
  ];
  const cells = rows.map((r) => {
    const a = r.aggTokS / gpus.aggregated;
    const d = r.disaggTokS / gpus.disaggregated;
    return [
      String(r.isl),
      num(a, 1),
      num(d, 1),
      `${d >= a ? '+' : ''}${num((d / a - 1) * 100, 1)}`,
      num(r.aggTtftP95Ms, 0),
      num(r.disaggTtftP95Ms, 0),
      num(r.aggItlP95Ms, 2),
      num(r.disaggItlP95Ms, 2),
      ...(slo ? [num(r.aggGoodputPerGpu ?? NaN, 3), num(r.disaggGoodputPerGpu ?? NaN, 3)] : []),
    ];
  });
  return textTable(header, cells, () => false);
}

const METRIC_TEXT: Record<CrossoverMetric, string> = {
  throughput: 'output tok/s per GPU',
  ttft_p95: 'TTFT p95',
  itl_p95: 'ITL p95',
  itl_mean: 'ITL mean',
  goodput: 'goodput per GPU within the SLO',
};

/** One line per crossover, or that one mode leads throughout. */
export function crossoverText(rows: readonly BreakevenRow[], metric: CrossoverMetric): string {
  const xs = crossovers(rows, metric);
  const what = METRIC_TEXT[metric];
  if (xs.length === 0) {
    if (rows.length === 0) return `${what}: no ISL with both modes`;
    const leader = lead(rows[0]!, metric) > 0 ? 'disaggregated' : 'aggregated';
    return `${what}: no crossover, ${leader} leads at every ISL (${rows[0]!.isl}-${rows.at(-1)!.isl})`;
  }
  return `${what}: ${xs.map((x) => `${x.direction === 'disaggregated-ahead' ? 'disaggregated' : 'aggregated'} ahead from ISL ~${x.isl}`).join(', then ')}`;
}

/** The --json contract of `breakeven`. */
export function breakevenJson(
  model: string,
  transport: string,
  node: string,
  gpus: { aggregated: number; disaggregated: number },
  rows: readonly BreakevenRow[],
  files: readonly string[],
  goodput: { slo: string; gpus: number; rows: readonly GoodputRow[] } | null = null,
): string {
  const side = (tokS: number, g: number, ttft50: number, ttft95: number, itl: number, itl95: number) => ({
    outputTokensPerS: tokS,
    outputTokensPerSPerGpu: tokS / g,
    ttftP50Ms: ttft50,
    ttftP95Ms: ttft95,
    itlMeanMs: itl,
    itlP95Ms: itl95,
  });
  return JSON.stringify({
    model,
    transport,
    node,
    gpus: { aggregated: gpus.aggregated, disaggregated: gpus.disaggregated },
    points: rows.map((r) => {
      const g = goodput?.rows.find((x) => x.isl === r.isl);
      return {
        isl: r.isl,
        aggregated: side(r.aggTokS, gpus.aggregated, r.aggTtftP50Ms, r.aggTtftP95Ms, r.aggItlMs, r.aggItlP95Ms),
        disaggregated: side(r.disaggTokS, gpus.disaggregated, r.disaggTtftP50Ms, r.disaggTtftP95Ms, r.disaggItlMs, r.disaggItlP95Ms),
        ...(g ? { goodput: { aggregated: g.aggregated, disaggregated: g.disaggregated } } : {}),
      };
    }),
    ...(goodput ? { goodput: { slo: goodput.slo, gpus: goodput.gpus } } : {}),
    crossovers: CROSSOVER_METRICS.flatMap((m) => crossovers(rows, m)),
    files,
  });
}

type Args = Omit<BreakevenOptions, 'tp' | 'catalog'> & { tp: number; json: boolean; metric?: CrossoverMetric };

export const breakevenCommand: CommandModule<object, Args> = {
  command: 'breakeven',
  describe: 'Aggregated vs disaggregated serving by input length (seed 002 for any model and transport): table, crossover ISL, chart',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'model id (nixlsim list models)' })
      .option('transport', { type: 'string', demandOption: true, describe: 'transport id for the KV transfers (nixlsim list transports)' })
      .option('node', { type: 'string', requiresArg: true, describe: 'node id (default: the first catalog node offering the transport)' })
      .option('isl', { type: 'string', default: '1000:8000:1000', requiresArg: true, describe: 'input lengths: start:end:step or a comma list', coerce: parseIslList })
      .option('osl', { default: 50, requiresArg: true, describe: 'output length, tokens', coerce: wholeNumber('osl', 1) })
      .option('concurrency', { default: 10, requiresArg: true, describe: 'requests in flight at once (closed loop)', coerce: wholeNumber('concurrency', 1, LIMITS.concurrency.max) })
      .option('requests', { default: 100, requiresArg: true, describe: 'requests measured per point', coerce: wholeNumber('requests', 1) })
      .option('warmup', { default: 10, requiresArg: true, describe: 'warm-up requests per point, not measured', coerce: wholeNumber('warmup', 0) })
      .option('tp', { default: 1, requiresArg: true, describe: 'tensor parallel size of every worker (seed 002: 1)', coerce: wholeNumber('tp', 1, LIMITS.tp.max) })
      .option('seed', { default: 2, requiresArg: true, describe: 'random seed (seed 002 used 2)', coerce: wholeNumber('seed', 0) })
      .option('metric', {
        choices: CROSSOVER_METRICS,
        describe: 'what the crossover is computed on: output tok/s per GPU, a latency, or goodput per GPU (needs --slo) (default: goodput with --slo, else throughput)',
      })
      .option('slo', {
        type: 'string',
        requiresArg: true,
        describe:
          "also compare goodput per GPU at each ISL, as `plan` does: each mode's best configuration's highest Poisson rate meeting the SLO (e.g. ttft_p95_ms<=2000,itl_p95_ms<=50)",
        coerce: (v: string) => (parseSlo(v), v),
      })
      .option('gpus', { requiresArg: true, describe: 'GPU budget of the --slo comparison: the planner searches every configuration of it (default: 2 x --tp)', coerce: wholeNumber('gpus', 1, MAX_GPUS) })
      .option('out', { type: 'string', requiresArg: true, describe: 'report directory (default: ./reports/breakeven-<model>-<transport>/)' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON: the rows and the crossover ISL' }) as unknown as Argv<Args>,
  handler: async (a) => {
    if (a.metric === 'goodput' && a.slo === undefined) throw new UserError('--metric goodput needs --slo (goodput is the rate within it)');
    const r = await runBreakeven({
      model: a.model,
      transport: a.transport,
      ...(a.node !== undefined ? { node: a.node } : {}),
      isl: a.isl,
      osl: a.osl,
      concurrency: a.concurrency,
      requests: a.requests,
      warmup: a.warmup,
      seed: a.seed,
      tp: a.tp,
      ...(a.slo !== undefined ? { slo: a.slo } : {}),
      ...(a.gpus !== undefined ? { gpus: a.gpus } : {}),
      ...(a.out !== undefined ? { out: a.out } : {}),
    });
    const gpus = breakevenGpus(a.tp);
    const sloGpus = a.gpus ?? gpus.aggregated;
    if (a.json) {
      process.stdout.write(`${breakevenJson(a.model, a.transport, r.node, gpus, r.rows, r.files, r.goodput && a.slo ? { slo: a.slo, gpus: sloGpus, rows: r.goodput } : null)}\n`);
      return;
    }
    const metric: CrossoverMetric = a.metric ?? (a.slo !== undefined ? 'goodput' : 'throughput');
    const shown = CROSSOVER_METRICS.filter((m) => m !== metric && (m !== 'goodput' || a.slo !== undefined));
    const lines = [
      `${a.model} on ${a.transport} (${r.node}), at equal GPU counts: aggregated ${gpus.aggregatedWorkers} x TP${a.tp} (${gpus.aggregated} GPUs) vs ` +
        `disaggregated 1P TP${a.tp} + 1D TP${a.tp} (${gpus.disaggregated} GPUs); OSL ${a.osl}, concurrency ${a.concurrency}, ${a.requests} requests per point`,
      '',
      ...breakevenTable(r.rows, gpus),
      '',
      ...(r.goodput
        ? [
            `goodput: each mode's best configuration of ${sloGpus} GPUs within ${a.slo}, Poisson arrivals (plan --gpus ${sloGpus} at each ISL): ` +
              r.goodput.map((g) => `${g.isl}: ${g.aggregated ? shortLabel(g.aggregated.label) : 'none'} / ${g.disaggregated ? shortLabel(g.disaggregated.label) : 'none'}`).join(', '),
          ]
        : []),
      `crossover (${METRIC_TEXT[metric]}): ${crossoverText(r.rows, metric).replace(/^[^:]*: /, '')}`,
      ...shown.map((m) => `also, ${crossoverText(r.rows, m)}`),
      `summary and chart in ${shownPath(r.outDir)}: ${r.files.map((f) => shownPath(f)).join(', ')}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  },
};
