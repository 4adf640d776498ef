/**
 * `nixlsim check`'s run, the CI regression gate: runs experiments (the seed scenarios by default), compares each
 * point's headline metrics with the committed baseline reports/baselines/<name>.json and with the file's `expect:`
 * entries, and says what the command prints and whether it exits 1 (a regression, a failed expectation or a missing
 * baseline). `--update` rewrites the
 * baselines (and only it ever does).
 */
import { isAbsolute, join, relative, resolve } from 'node:path';
import { defaultCatalog, projectRoot } from '../catalog/load.js';
import type { Catalog } from '../spec/catalog.js';
import { EXIT_OK, EXIT_REGRESSION, UserError } from '../errors.js';
import { experimentFiles } from '../experiment/files.js';
import { loadExperiment, type LoadedExperiment } from '../experiment/load.js';
import { shownPath } from '../experiment/yaml-errors.js';
import {
  baselineOf,
  compareWithBaseline,
  compareWithExpectations,
  FAILING,
  formatRows,
  paramText,
  pointLabel,
  readBaseline,
  baselineOutput,
  type CheckRow,
  type Tolerances,
} from '../report/baseline.js';
import { junitXml, type JunitSuite } from '../report/junit.js';
import { checkOutputDir, checkOutputFile, defaultReportDir, writeOutputs, type OutputFile } from '../spec/output.js';
import type { SimulateFn } from './simulate.js';
import { runExperimentOnPool } from './run.js';

export interface CheckOptions {
  /** Directory of baselines; default defaultBaselines(the experiment files). */
  baselines?: string;
  /** Rewrite the baselines from this run (regressions and missing baselines then do not fail). */
  update?: boolean;
  /** Write JUnit XML here. */
  junit?: string;
  /** Keep each experiment's summary.json (and events.log) in <out>/<name>/ (default: not kept). */
  out?: string;
  tolerances?: Tolerances;
  /** Print only the failing rows and the count lines. */
  quiet?: boolean;
  catalog?: Catalog;
}

export interface CheckedExperiment {
  name: string;
  file: string;
  rows: CheckRow[];
  /** Baseline points this run did not produce. */
  gone: string[];
  baselineFile: string;
  /** With --update: whether the baseline's bytes changed. */
  updated?: boolean;
  timeS: number;
}

export interface CheckOutput {
  /** 0, or 1 (EXIT_REGRESSION) on a regression, a failed expectation or (without --update) a missing baseline. */
  code: number;
  /** What the command prints. Ends with a newline. */
  text: string;
  experiments: CheckedExperiment[];
}

export const DEFAULT_EXPERIMENTS = (): string => join(projectRoot(), 'experiments', 'seeds');
/** The package's committed baselines (of its own experiments: the seeds and the rest of experiments/). */
export const DEFAULT_BASELINES = (): string => join(projectRoot(), 'reports', 'baselines');

/**
 * Where baselines are kept when --baselines is not given. The package's own experiments (everything under its
 * experiments/, the seeds that `nixlsim check` runs by default among them) are held against the package's committed
 * reports/baselines/, from whatever directory check is run, as CI does; any other experiment is the user's, and its
 * baselines are the user's too: reports/baselines/ under the working directory, beside the other reports.
 */
export function defaultBaselines(files: readonly string[]): string {
  const pkg = join(projectRoot(), 'experiments');
  const inPackage = (f: string) => {
    const rel = relative(pkg, resolve(f));
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  };
  return files.length > 0 && files.every(inPackage) ? DEFAULT_BASELINES() : defaultReportDir('baselines');
}

/** Whether a row fails the check. */
export function fails(row: CheckRow, update: boolean): boolean {
  if (update && (row.verdict === 'REGRESSED' || row.verdict === 'no baseline')) return false;
  return FAILING.includes(row.verdict);
}

/**
 * Loads every experiment and reads every baseline first (a bad file stops the check before anything runs: exit 2),
 * then runs each and compares; then writes what there is to write (the --out summaries, with `update` the baselines
 * whose bytes changed, the JUnit XML) in one all-or-nothing step.
 */
export async function runCheck(targets: string[], opts: CheckOptions = {}, simulate?: SimulateFn): Promise<CheckOutput> {
  const catalog = opts.catalog ?? defaultCatalog();
  const update = opts.update ?? false;
  const files = experimentFiles(targets.length > 0 ? targets : [DEFAULT_EXPERIMENTS()]);
  const baselines = resolve(opts.baselines ?? defaultBaselines(files));

  const loaded: LoadedExperiment[] = files.map((f) => loadExperiment(f, { catalog }));
  const names = new Map<string, string>();
  for (const l of loaded) {
    const name = l.experiment.name;
    const other = names.get(name);
    if (other !== undefined) {
      throw new UserError(`${shownPath(other)} and ${shownPath(l.file)} are both named '${name}'; baselines are kept by name (reports/baselines/<name>.json), so give one of them another name`);
    }
    names.set(name, l.file);
  }

  // Every input is read and every output place checked before anything runs: a bad baseline file or an impossible
  // --out, --junit or --baselines exits 2 at once, not after the simulations.
  const baselineFiles = loaded.map((l) => join(baselines, `${l.experiment.name}.json`));
  const before = baselineFiles.map((f) => readBaseline(f));
  const outRoot = opts.out !== undefined ? resolve(opts.out) : undefined;
  if (outRoot !== undefined) checkOutputDir(outRoot, `--out ${opts.out}`);
  if (opts.junit !== undefined) checkOutputFile(opts.junit, `--junit ${opts.junit}`);
  const baselinesFlag = opts.baselines !== undefined ? `--baselines ${opts.baselines}` : undefined;
  if (update) checkOutputDir(baselines, baselinesFlag);

  // Then everything runs, and only then is anything written, all together (summaries, baselines, JUnit): a run that
  // stops with an error leaves every file as it was.
  const outputs: OutputFile[] = [];
  const checked: CheckedExperiment[] = [];
  for (const [i, l] of loaded.entries()) {
    const name = l.experiment.name;
    const started = performance.now();
    // In this thread, as the check always ran: the seeds are far too small to repay starting threads.
    const run = await runExperimentOnPool(l.file, { ...(outRoot !== undefined ? { out: join(outRoot, name) } : {}), catalog, write: false, workers: 1, ...(simulate ? { simulate } : {}) });
    if (outRoot !== undefined) outputs.push(...run.outputs.map((f) => ({ ...f, flag: `--out ${opts.out}` })));
    const summary = run.summary;
    const baselineFile = baselineFiles[i]!;
    const { rows, gone } = compareWithBaseline(summary, before[i], opts.tolerances);
    rows.push(...compareWithExpectations(summary, l.expect));
    const entry: CheckedExperiment = { name, file: l.file, rows, gone, baselineFile, timeS: (performance.now() - started) / 1000 };
    if (update) {
      // Only --update ever writes a baseline, and only when its bytes change.
      const file = baselineOutput(baselineFile, baselineOf(summary, before[i]));
      entry.updated = file !== undefined;
      if (file) outputs.push({ ...file, ...(baselinesFlag ? { flag: baselinesFlag } : {}) });
    }
    checked.push(entry);
  }

  if (opts.junit !== undefined) outputs.push({ path: resolve(opts.junit), data: junitXml(junitSuites(checked, update)), flag: `--junit ${opts.junit}` });
  writeOutputs(outputs);
  const failed = checked.some((c) => c.rows.some((r) => fails(r, update)));
  return { code: failed ? EXIT_REGRESSION : EXIT_OK, text: formatCheck(checked, update, baselines, opts.baselines !== undefined, opts.quiet ?? false), experiments: checked };
}

/**
 * `check --json`: every compared metric and expectation as a row ({experiment, point, params, metric, baseline, now,
 * deltaPct, verdict, message?}), and the counts: regressions (rows that fail: regressed, a failed expectation, a
 * missing baseline without --update) and improvements.
 */
export function checkJson(out: CheckOutput, update: boolean): string {
  const rows = out.experiments.flatMap((c) => c.rows.map((r) => ({ ...r, experiment: c.name })));
  const metrics = rows.map((r) => ({
    experiment: r.experiment,
    point: r.point,
    params: r.params,
    metric: r.metric,
    baseline: r.baseline,
    now: r.now,
    deltaPct: r.deltaPct === null ? null : Math.round(r.deltaPct * 1000) / 1000,
    verdict: r.verdict,
    ...(r.message !== undefined ? { message: r.message } : {}),
  }));
  return `${JSON.stringify({ passed: out.code === EXIT_OK, metrics, regressions: rows.filter((r) => fails(r, update)).length, improvements: rows.filter((r) => r.verdict === 'improved').length }, null, 2)}\n`;
}

/** One suite per experiment, one case per row (point x metric, or point x expectation). */
export function junitSuites(checked: CheckedExperiment[], update: boolean): JunitSuite[] {
  return checked.map((c) => ({
    name: c.name,
    timeS: c.timeS,
    cases: c.rows.map((r) => {
      const expectation = r.verdict === 'expect ok' || r.verdict === 'EXPECT FAILED';
      const name = `${r.point}${Object.keys(r.params).length ? ` (${paramText(r.params)})` : ''} ${expectation ? 'expect ' : ''}${r.metric}`;
      const base = { name, classname: `nixlsim.check.${c.name}` };
      if (fails(r, update)) return { ...base, failure: { type: r.verdict, message: r.message ?? r.verdict } };
      if (r.verdict === 'REGRESSED' || r.verdict === 'no baseline') return { ...base, skipped: `${r.verdict}: accepted by --update` };
      return base;
    }),
  }));
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

function formatCheck(checked: CheckedExperiment[], update: boolean, baselines: string, customDir: boolean, quiet: boolean): string {
  const rows = checked.flatMap((c) => c.rows);
  // --quiet: the table of the failing rows only (none: no table), then the same lines as without it.
  const shown = quiet ? rows.filter((r) => fails(r, update)) : rows;
  const lines = [`checked ${plural(checked.length, 'experiment')} against ${shownPath(baselines)}/`, ...(shown.length ? ['', ...formatRows(shown)] : [])];
  const notes: string[] = [];
  for (const c of checked) {
    if (c.gone.length > 0) {
      notes.push(`${c.name}: the baseline has ${plural(c.gone.length, 'point')} this run did not produce (${c.gone.join(', ')}); --update drops them`);
    }
  }
  const failures = rows.filter((r) => fails(r, update));
  if (notes.length || failures.length) lines.push('');
  lines.push(...notes);
  // One line per failure; a missing baseline once per experiment (or per point), not once per metric.
  const said = new Set<string>();
  for (const c of checked) {
    for (const r of c.rows.filter((x) => fails(x, update))) {
      const line =
        r.verdict === 'no baseline' && r.message === 'no baseline file'
          ? `no baseline: ${c.name}: ${shownPath(c.baselineFile)} does not exist`
          : `${r.verdict}: ${c.name} ${pointLabel(r.point, r.params)}: ${r.message ?? r.metric}${r.verdict === 'no baseline' ? ` (${shownPath(c.baselineFile)})` : ''}`;
      if (!said.has(line)) lines.push(line);
      said.add(line);
    }
  }

  const count = (v: CheckRow['verdict']) => rows.filter((r) => r.verdict === v).length;
  const metrics = rows.length - count('expect ok') - count('EXPECT FAILED');
  lines.push(
    '',
    `${plural(metrics, 'metric')}: ${count('ok')} ok, ${count('improved')} improved, ${count('REGRESSED')} regressed, ${count('no baseline')} without a baseline; ` +
      `${plural(count('expect ok') + count('EXPECT FAILED'), 'expectation check')}: ${count('expect ok')} ok, ${count('EXPECT FAILED')} failed`,
  );
  if (update) {
    for (const c of checked) lines.push(`${c.updated ? 'wrote' : 'unchanged'} ${shownPath(c.baselineFile)}`);
  } else if (count('no baseline') > 0) {
    const missing = checked.filter((c) => c.rows.some((r) => r.verdict === 'no baseline')).map((c) => shownPath(c.file));
    const dir = customDir ? ` --baselines ${shownPath(baselines)}` : '';
    lines.push(`to create or extend the baselines: npx nixlsim check ${missing.join(' ')}${dir} --update (then commit ${shownPath(baselines)}/)`);
  }
  lines.push(failures.length ? `check FAILED: ${plural(failures.length, 'failing row')}` : 'check passed');
  return `${lines.join('\n')}\n`;
}
