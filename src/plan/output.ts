/**
 * The planner's files, written once the plan is complete (the probe store fills as the search goes):
 * plan.json (the contract, see types.ts), report.md, report.html (report.md with the chart live), pareto.vl.json /
 * .svg / .png, and recommended.yaml, the recommended configuration as an experiment file that `nixlsim run` runs as
 * it is. They are written together, all or none.
 */
import { isAbsolute, join, relative, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Point } from '../spec/experiment.js';
import { shownPath } from '../experiment/yaml-errors.js';
import { paretoSpec } from '../report/charts/pareto.js';
import { chartOutputs } from '../report/charts/write.js';
import { markdownReportHtml, REPORT_HTML_FILE } from '../report/html.js';
import { writeOutputs, type OutputFile } from '../spec/output.js';
import type { PlanResult } from './planner.js';
import { paretoRows, planParetoOptions, reportMarkdown } from './report.js';
import type { DeploymentSection, PlanJson } from './types.js';

export const PLAN_FILE = 'plan.json';
export const REPORT_FILE = 'report.md';
export const RECOMMENDED_FILE = 'recommended.yaml';
export const LAUNCH_FILE = 'launch.sh';
export const CHART_NAME = 'pareto';

export function planJson(plan: object): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}

/** A path as written in a file in `dir`: relative to it (POSIX separators), or absolute when on another drive. */
function pathFrom(dir: string, target: string): string {
  const rel = relative(dir, target);
  return isAbsolute(rel) ? target : rel.split('\\').join('/');
}

/**
 * The recommended configuration as an experiment file's data: its deployment section and, as the workload, exactly
 * the probe that found its maximum rate (so `nixlsim run` gives the same numbers). Null when nothing meets the SLO.
 */
export function recommendedExperiment(plan: PlanJson, point: Point | null, outDir: string): Record<string, unknown> | null {
  const rec = plan.recommended;
  if (!rec || !point) return null;
  const { maxRate: _r, goodputPerGpu: _g, ...deployment } = rec;
  return recommendedExperimentOf(deployment, point, outDir);
}

/** An experiment file's data: a deployment section (extra fields dropped) and, as the workload, the probe's. */
export function recommendedExperimentOf(rec: DeploymentSection, point: Point, outDir: string): Record<string, unknown> {
  const { mode, model, gpu, node, connector, transport, aggregated, prefill, decode, placement, prewarmed, router, routerConfig, engine } = rec;
  // What the probe ran with: the --workload file's router and engine arguments, and (disaggregated) a connected start.
  const deployment = { mode, model, gpu, node, connector, transport, aggregated, prefill, decode, placement, prewarmed, router, routerConfig, engine };
  for (const k of Object.keys(deployment) as (keyof typeof deployment)[]) if (deployment[k] === undefined) delete deployment[k];
  const w = point.experiment.workload;
  const workload: Record<string, unknown> =
    w.kind === 'trace' && w.trace
      ? {
          kind: 'trace',
          requests: w.requests,
          warmup: w.warmup,
          trace: { format: w.trace.format, path: pathFrom(outDir, w.trace.path), speedup: w.trace.speedup },
        }
      : { kind: 'poisson', rate: w.rate, requests: w.requests, warmup: w.warmup, isl: { ...w.isl }, osl: { ...w.osl } };
  return { name: 'plan-recommended', seed: point.experiment.seed, deployment, workload };
}

export function recommendedYaml(plan: PlanJson, point: Point | null, outDir: string): string | null {
  const data = recommendedExperiment(plan, point, outDir);
  const top = plan.ranked[0];
  if (!data || !top) return null;
  const header = [
    `# Recommended by \`nixlsim plan\`: ${top.label} for ${plan.inputs.model} on ${plan.inputs.node}, ${plan.inputs.transport}.`,
    `# SLO ${plan.inputs.slo.join(', ')}: met up to ${top.maxRate} req/s, ${top.goodputPerGpu} req/s per GPU (${top.gpusUsed} GPUs).`,
    '# The workload is the probe at that rate (same seed and requests): `nixlsim run` on this file reproduces its numbers.',
  ];
  return `${header.join('\n')}\n${stringify(data, { lineWidth: 0 })}`;
}

export interface WrittenPlan {
  files: string[];
  /** recommended.yaml, when something meets the SLO. */
  recommended: string | null;
}

export async function writePlan(r: PlanResult): Promise<WrittenPlan> {
  const { plan, outDir } = r;
  // The same chart `nixlsim chart plan.json` draws: every p95 bound of the SLO, and what stops each mode's best.
  const rows = paretoRows(plan);
  const spec = paretoSpec(rows, planParetoOptions(plan, rows));
  const file = (name: string, data: string | Uint8Array): OutputFile => ({ path: join(outDir, name), data });
  // Every file is made first, then all go out together or none (writeOutputs).
  const outputs = await chartOutputs(outDir, CHART_NAME, spec);
  const yaml = recommendedYaml(plan, r.recommendedPoint, outDir);
  if (yaml !== null) outputs.push(file(RECOMMENDED_FILE, yaml));
  if (r.launch !== null) outputs.push(file(LAUNCH_FILE, r.launch));
  const shownRec = shownPath(join(outDir, RECOMMENDED_FILE));
  const md = `${reportMarkdown(plan, { chartPng: `${CHART_NAME}.png`, recommended: shownRec })}\n`;
  outputs.push(file(REPORT_FILE, md), file(REPORT_HTML_FILE, markdownReportHtml(md, [{ name: CHART_NAME, spec }])));
  // plan.json last: its presence says the plan is complete.
  outputs.push(file(PLAN_FILE, planJson(plan)));
  const files = writeOutputs(outputs, { dir: outDir });
  return { files, recommended: yaml !== null ? resolve(outDir, RECOMMENDED_FILE) : null };
}
