/**
 * `plan --rate`'s outputs: report.md, report.html (the same as a page), plan.json and recommended.yaml (the
 * recommended configuration's probe at the rate, runnable as it is), written all or none, and the lines the command
 * prints. Everything comes from the LoadPlanJson, so the same plan gives the same bytes.
 */
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { shownPath } from '../experiment/yaml-errors.js';
import { markdownReportHtml, REPORT_HTML_FILE } from '../report/html.js';
import { writeOutputs, type OutputFile } from '../spec/output.js';
import { textTable } from '../report/table.js';
import { LAUNCH_FILE, PLAN_FILE, planJson, RECOMMENDED_FILE, recommendedExperimentOf, REPORT_FILE } from './output.js';
import { costPerM, rolesText, shortName, sig } from './report.js';
import { ms } from './slo.js';
import type { CheckedEntry, LoadPlanJson, LoadPlanResult } from './size.js';

const pct = (x: number | null): string => (x === null ? '-' : `${Math.round(x * 100)}%`);
/** `$3.50 (h100-sxm)`, or `$3.50 (h100-sxm), $4.20 (h200-sxm)`. */
export const priceText = (p: Record<string, number>): string => Object.entries(p).map(([g, x]) => `$${x.toFixed(2)} (${g})`).join(', ');
const usd = (x: number | null): string => (x === null ? '-' : x.toFixed(2));

/** Rows of the checked table printed by the command (report.md has them all). */
const SHOWN = 12;

function checkedRow(e: CheckedEntry, priced: boolean): string[] {
  return [
    e.deployment.mode === 'aggregated' ? 'agg' : 'disagg',
    shortName(e),
    String(e.gpusUsed),
    ...(priced ? [usd(e.costPerHourUsd)] : []),
    e.meetsSlo ? 'yes' : 'no',
    pct(e.sloUse),
    e.ttftP95Ms.toFixed(0),
    e.itlP95Ms.toFixed(1),
    ...(priced ? [costPerM(e.usdPerMillionOutputTokens)] : []),
  ];
}

function header(priced: boolean): string[] {
  return ['mode', 'configuration', 'GPUs', ...(priced ? ['USD/h'] : []), 'meets SLO', 'SLO use', 'TTFT p95 ms', 'ITL p95 ms', ...(priced ? ['USD/M out tok'] : [])];
}

function recommendedLine(p: LoadPlanJson): string {
  const r = p.recommended;
  if (!r) return `Nothing of up to ${p.inputs.gpus} GPUs meets the SLO at ${p.inputs.rate} req/s.`;
  const e = p.checked.find((c) => c.id === r.id)!;
  return (
    `${e.label} (${e.gpusUsed} GPUs${e.costPerHourUsd !== null ? `, $${e.costPerHourUsd.toFixed(2)} an hour, ${costPerM(e.usdPerMillionOutputTokens)} per million output tokens` : ''}): ` +
    `at ${p.inputs.rate} req/s TTFT p95 ${ms(e.ttftP95Ms)} ms, ITL p95 ${ms(e.itlP95Ms)} ms, ${pct(e.sloUse)} of the SLO used.`
  );
}

export function loadReportMarkdown(p: LoadPlanJson, recommendedFile: string): string {
  const i = p.inputs;
  const w = i.workload;
  const priced = i.gpuCostUsdPerHour !== null;
  const rows = p.checked.map((e) => `| ${checkedRow(e, priced).join(' | ')} | ${e.violations.join('; ') || '-'} |`);
  const lines = [
    `# Sizing: ${i.model} on ${i.gpu} (${i.node})${rolesText(i)}, ${i.transport}, for ${i.rate} req/s`,
    '',
    `SLO: ${i.slo.join(', ')}. Load: ${i.rate} req/s (${i.rateSource === 'workload' ? `the workload's own rate` : '--rate'}) of \`${w.source}\`, ` +
      `ISL ${Math.round(w.islMean)}, OSL ${Math.round(w.oslMean)}; each probe ${sig(i.probe.windowS)} s of arrivals (${i.probe.minRequests} to ${i.probe.maxRequests} requests) after ${w.warmupPerProbe} warm-up, seed ${i.seed}. ` +
      `Up to ${i.gpus} GPUs${priced ? ` at ${priceText(i.gpuCostUsdPerHour!)} per GPU-hour` : ''}; connector profile \`${i.connector}\`.`,
    ...(w.notes.length ? ['', `Notes: ${w.notes.join('; ')}.`] : []),
    '',
    '## Verdict',
    '',
    p.verdict.text,
    '',
    '## Recommendation',
    '',
    recommendedLine(p),
    ...(p.recommended ? ['', `Ready to run: \`nixlsim run ${recommendedFile}\` (the probe at ${i.rate} req/s, same seed: it reproduces these numbers). To deploy it: \`launch.sh\` beside it has the Dynamo worker commands, their vLLM flags and the transport's environment.`] : []),
    '',
    `## Configurations probed at ${i.rate} req/s (${p.checked.length}), cheapest first`,
    '',
    '"SLO use" is the largest value / bound over the SLO terms: under 100% the term holds, and the configuration with the lowest use in the cheapest group that meets the SLO is recommended.',
    '',
    `| ${[...header(priced), 'broken'].join(' | ')} |`,
    `|${'---|'.repeat(header(priced).length + 1)}`,
    ...rows,
    '',
    `## Not probed: capacity estimate below the load (${p.skipped.length})`,
    '',
    p.skipped.length
      ? `The physics capacity estimate of these is below ${i.rate} req/s / 1.25 (no simulated maximum has exceeded its estimate by more than 3%): ` +
        p.skipped.map((e) => `${shortName(e)} (${sig(e.estimate)} req/s)`).join(', ') +
        '.'
      : 'None.',
    '',
    `## Pruned (${p.pruned.length})`,
    '',
    ...(p.pruned.length ? p.pruned.map((x) => `- ${shortName(x)}: ${x.reason}`) : ['None.']),
    '',
    '## Method',
    '',
    `Every configuration of up to ${i.gpus} GPUs (TP sizes ${p.tpSizes.sizes.join(', ')}${p.tpSizes.excluded.length ? `; left out: ${p.tpSizes.excluded.map((x) => `TP${x.tp}, ${x.reason}`).join('; ')}` : ''}), ` +
      `pruned as \`plan\` prunes, is simulated once at ${i.rate} req/s, in groups of equal ${priced ? 'cost' : 'GPU count'} from the cheapest, until each mode has one that meets the SLO.`,
    '',
  ];
  return lines.join('\n');
}

export async function writeLoadPlan(r: LoadPlanResult): Promise<{ files: string[]; recommended: string | null }> {
  const file = (name: string, data: string): OutputFile => ({ path: join(r.outDir, name), data });
  // Every file is made first, then all go out together or none (writeOutputs).
  const outputs: OutputFile[] = [];
  const data = r.plan.recommended && r.recommendedPoint ? recommendedExperimentOf(r.plan.recommended, r.recommendedPoint, r.outDir) : null;
  if (data) {
    const i = r.plan.inputs;
    const head = [
      `# Recommended by \`nixlsim plan --rate ${i.rate}\`: ${r.plan.verdict.text}`,
      `# SLO ${i.slo.join(', ')}. The workload is the probe at that rate (same seed and requests): \`nixlsim run\` on this file reproduces its numbers.`,
    ];
    outputs.push(file(RECOMMENDED_FILE, `${head.join('\n')}\n${stringify(data, { lineWidth: 0 })}`));
    if (r.launch !== null) outputs.push(file(LAUNCH_FILE, r.launch));
  }
  const md = `${loadReportMarkdown(r.plan, shownPath(`${r.outDir}/${RECOMMENDED_FILE}`))}\n`;
  outputs.push(file(REPORT_FILE, md), file(REPORT_HTML_FILE, markdownReportHtml(md, [])));
  // plan.json last: its presence says the plan is complete.
  outputs.push(file(PLAN_FILE, planJson(r.plan)));
  const files = writeOutputs(outputs, { dir: r.outDir });
  return { files, recommended: data ? resolve(r.outDir, RECOMMENDED_FILE) : null };
}

/** What `plan --rate` prints without --json. */
export function formatLoadPlan(r: LoadPlanResult, files: { recommended: string | null }): string {
  const p = r.plan;
  const i = p.inputs;
  const priced = i.gpuCostUsdPerHour !== null;
  const shown = p.checked.slice(0, SHOWN);
  const lines = [
    `plan: ${i.model} on up to ${i.gpus} x ${i.gpu} (${i.node})${rolesText(i)}, ${i.transport}, for ${i.rate} req/s; SLO ${i.slo.join(', ')}`,
    `${p.checked.length} configurations probed at the rate, ${p.skipped.length} below it by estimate, ${p.pruned.length} pruned; ` +
      `${r.probes.total} probes (${r.probes.simulated} simulated, ${r.probes.reused} reused)`,
    '',
    ...textTable(header(priced), shown.map((e) => checkedRow(e, priced)), (k) => k <= 1),
    ...(p.checked.length > SHOWN ? [`... ${p.checked.length - SHOWN} more in ${REPORT_FILE}`] : []),
    '',
    `verdict: ${p.verdict.text}`,
    files.recommended ? `recommended: ${recommendedLine(p)}\n  ready to run: nixlsim run ${shownPath(files.recommended)}` : 'recommended: nothing meets the SLO',
    `report: ${shownPath(`${r.outDir}/${REPORT_FILE}`)}, ${PLAN_FILE}${r.launch !== null ? ', launch.sh (how to deploy it)' : ''} in ${shownPath(r.outDir)}`,
  ];
  return `${lines.join('\n')}\n`;
}
