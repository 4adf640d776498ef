import type { Argv, CommandModule } from 'yargs';
import { PLACEMENTS } from '../../experiment/schema.js';
import { shownPath } from '../../experiment/yaml-errors.js';
import { PLAN_FILE, planJson, REPORT_FILE, writePlan } from '../../plan/output.js';
import {
  DEFAULT_PRECISION,
  DEFAULT_REQUESTS,
  DEFAULT_WARMUP,
  MAX_GPUS,
  plan,
  type PlanOptions,
  type PlanResult,
} from '../../plan/planner.js';
import { costPerM, rateColumns, rolesText, shortName } from '../../plan/report.js';
import { planForLoad } from '../../plan/size.js';
import { formatLoadPlan, writeLoadPlan } from '../../plan/size-report.js';
import { parseSlo, type SloTerm } from '../../plan/slo.js';
import { defaultCatalog, defaultConnector } from '../../catalog/index.js';
import { MAX_WORKERS, positiveNumber, setList, wholeNumber } from '../options.js';
import { UserError } from '../../errors.js';
import { connectorFromFlags, VLLM_OPTION } from '../vllm-option.js';
import { textTable } from '../../report/table.js';
import { progressWanted } from '../options.js';

/** --gpu-cost: `3.5` (every GPU), or `h100-sxm=3.5,h200-sxm=4.2` (by GPU id). */
export function gpuPrices(v: unknown): number | Record<string, number> {
  const text = String(v).trim();
  if (!text.includes('=')) return positiveNumber('gpu-cost')(text);
  const out: Record<string, number> = {};
  for (const part of text.split(',')) {
    const [id, price, ...rest] = part.split('=').map((x) => x.trim());
    if (!id || price === undefined || rest.length) throw new UserError(`--gpu-cost: expected <USD> or <gpu>=<USD>,..., got '${part.trim()}' in '${text}'`);
    if (out[id] !== undefined) throw new UserError(`--gpu-cost: ${id} is priced twice in '${text}'`);
    out[id] = positiveNumber(`gpu-cost ${id}`)(price);
  }
  return out;
}

/** Rows of the ranking printed (report.md has them all). */
const SHOWN = 10;

/** What the command prints without --json: the ranking's head, the verdict, where the files are. */
export function formatPlan(r: PlanResult, files: { recommended: string | null }): string {
  const p = r.plan;
  const i = p.inputs;
  const shown = p.ranked.slice(0, SHOWN);
  const priced = i.gpuCostUsdPerHour !== null;
  const { rates, perGpu } = rateColumns(shown);
  const rows = shown.map((e, k) => [
    String(e.rank),
    e.deployment.mode === 'aggregated' ? 'agg' : 'disagg',
    shortName(e),
    String(e.gpusUsed),
    rates[k]!,
    perGpu[k]!,
    e.ttftP95Ms.toFixed(0),
    e.itlP95Ms.toFixed(1),
    ...(priced ? [costPerM(e.usdPerMillionOutputTokens)] : []),
  ]);
  const header = ['#', 'mode', 'configuration', 'GPUs', 'max req/s', 'req/s/GPU', 'TTFT p95 ms', 'ITL p95 ms', ...(priced ? ['USD/M out tok'] : [])];
  const searched = p.ranked.length;
  const lines = [
    `plan: ${i.model} on ${i.gpus} x ${i.gpu} (${i.node})${rolesText(i)}, ${i.transport}, connector ${i.connector}; SLO ${i.slo.join(', ')}`,
    `${searched + p.pruned.length} configurations: ${searched} searched, ${p.pruned.length} pruned; ` +
      `${r.probes.total} probes (${r.probes.simulated} simulated, ${r.probes.reused} reused from ${shownPath(r.outDir)}/probes)`,
    '',
    ...textTable(header, rows, (k) => k === 1 || k === 2),
    ...(p.ranked.length > SHOWN ? [`... ${p.ranked.length - SHOWN} more in ${REPORT_FILE}`] : []),
    '',
    `verdict: ${p.verdict.text}`,
    files.recommended ? `recommended: ${p.ranked[0]!.label}, ready to run: nixlsim run ${shownPath(files.recommended)}` : 'recommended: nothing meets the SLO',
    `report: ${shownPath(`${r.outDir}/${REPORT_FILE}`)}, ${PLAN_FILE}, pareto.png${r.launch !== null ? ', launch.sh (how to deploy it)' : ''} in ${shownPath(r.outDir)}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** PlanOptions as the flags give them: --window is windowS, and a flag with a default is always there. */
type Args = Omit<PlanOptions, 'slo' | 'windowS' | 'catalog' | 'onRound'> &
  Required<Pick<PlanOptions, 'placement' | 'requests' | 'warmup' | 'precision' | 'fresh'>> & { slo: SloTerm[]; window?: number; json: boolean; vllm?: string };

export const planCommand: CommandModule<object, Args> = {
  command: 'plan',
  describe: 'Capacity planner: the deployment (aggregated or disaggregated, TP, P:D) that serves the most requests per GPU within SLOs',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, requiresArg: true, describe: 'model id (nixlsim list models)' })
      .option('gpu', { type: 'string', requiresArg: true, describe: "GPU id; must be the node's (default: the node's GPU)" })
      .option('node', { type: 'string', demandOption: true, requiresArg: true, describe: 'node id (nixlsim list nodes)' })
      .option('transport', { type: 'string', demandOption: true, requiresArg: true, describe: 'KV transport for disaggregated configurations (nixlsim list transports)' })
      .option('gpus', { demandOption: true, requiresArg: true, describe: `GPU budget, 1 to ${MAX_GPUS}`, coerce: wholeNumber('gpus', 1, MAX_GPUS) })
      .option('workload', { type: 'string', demandOption: true, requiresArg: true, describe: 'an experiment file (its workload) or a trace (.csv Azure, .jsonl Mooncake)' })
      .option('slo', {
        type: 'string',
        demandOption: true,
        requiresArg: true,
        describe: 'comma-separated <ttft|itl|e2e>_<p50|p90|p95|p99|mean>_ms<=<ms>, e.g. ttft_p95_ms<=2000,itl_p95_ms<=50',
        coerce: parseSlo,
      })
      .option('connector', { type: 'string', requiresArg: true, describe: 'connector profile, the vLLM build (nixlsim list connectors; default: the profile whose record sets default: true)' })
      .option('vllm', VLLM_OPTION)
      .option('placement', {
        type: 'string',
        default: 'auto',
        requiresArg: true,
        choices: ['auto', ...PLACEMENTS],
        describe: 'where prefill and decode workers go; auto: same node when it fits and the transport works there, else cross-node',
      })
      .option('requests', { default: DEFAULT_REQUESTS, requiresArg: true, describe: 'fewest measured requests per probe (more when the window holds more)', coerce: wholeNumber('requests', 1) })
      .option('window', {
        requiresArg: true,
        describe: 'seconds of arrivals per probe (default: the loosest TTFT or e2e bound / --precision, so that an overload of that fraction fails the probe)',
        coerce: positiveNumber('window'),
      })
      .option('warmup', { default: DEFAULT_WARMUP, requiresArg: true, describe: 'warm-up requests per probe, not measured', coerce: wholeNumber('warmup', 0) })
      .option('precision', { default: DEFAULT_PRECISION, requiresArg: true, describe: 'a rate search stops when its bracket is this fraction of its lower end', coerce: positiveNumber('precision') })
      .option('seed', { requiresArg: true, describe: "random seed of every probe (default: the workload file's, or 0 for a trace)", coerce: wholeNumber('seed', 0) })
      .option('set', { type: 'string', requiresArg: true, describe: 'path=value on the workload experiment file (e.g. --set workload.isl.mean=8000 to pin a swept length)', coerce: setList })
      .option('workers', { requiresArg: true, describe: 'worker threads (default: one per core once a round of probes is large enough to gain from them; 1 runs in this thread)', coerce: wholeNumber('workers', 1, MAX_WORKERS) })
      .option('fresh', { type: 'boolean', default: false, describe: 'simulate every probe again instead of reusing those stored in the output directory' })
      .option('rate', {
        requiresArg: true,
        describe: "size for this load instead: the fewest GPUs (or, with --gpu-cost, the cheapest configuration) of up to --gpus that meet the SLO at R requests/s; 'workload' for the workload file's own rate",
        coerce: (v: unknown) => (v === 'workload' ? 'workload' : positiveNumber('rate')(v)),
      })
      .option('gpu-cost', {
        type: 'string',
        requiresArg: true,
        describe: 'price in USD per GPU-hour (one for all, or <gpu>=<USD>,... with --prefill-gpu/--decode-gpu): cost per hour and per million output tokens of each configuration',
        coerce: gpuPrices,
      })
      .option('prefill-gpu', { type: 'string', requiresArg: true, describe: "prefill workers on this GPU (on --node if it carries it, else the first node that does and offers --transport)" })
      .option('decode-gpu', { type: 'string', requiresArg: true, describe: "decode workers on this GPU (e.g. h200-sxm for decode's memory bandwidth)" })
      .option('out', { type: 'string', requiresArg: true, describe: 'output directory (default: ./reports/plan-<model>-<node>-<transport>-<gpus>gpu/, with -<R>rps for --rate)' })
      .option('json', { type: 'boolean', default: false, describe: 'print plan.json' }) as unknown as Argv<Args>,
  handler: async ({ window, json, _, $0, vllm, ...given }) => {
    // --vllm names the build by release: its profile's TP and block-size rules (a range's own expiry is not the planner's concern).
    const c = defaultCatalog();
    const profile = given.connector === undefined && vllm === undefined ? defaultConnector(c) : connectorFromFlags(c, given.connector, vllm);
    const flags = { ...given, connector: profile.id };
    const onRound = (n: number, probes: number, simulated: number) => process.stderr.write(`round ${n}: ${probes} probes, ${simulated} simulated\n`);
    const o: PlanOptions = { ...flags, ...(window !== undefined ? { windowS: window } : {}), ...(progressWanted(json) ? { onRound } : {}) };
    if (o.rate !== undefined) {
      const r = await planForLoad(o);
      const written = await writeLoadPlan(r);
      process.stdout.write(json ? planJson(r.plan) : formatLoadPlan(r, written));
      return;
    }
    const r = await plan(o);
    const written = await writePlan(r);
    process.stdout.write(json ? planJson(r.plan) : formatPlan(r, written));
  },
};
