/**
 * Reads models/measurements/*.yaml: each file is parsed with positions kept, validated against schema.ts, and its
 * records resolved to what the model must compute for them: one point of the file's experiment (loaded with the
 * experiment loader, `set` applied as --set would be) or a transfer estimate (what `nixlsim transfer` computes).
 * Every mistake is one UserError naming file:line:col and the field, before anything runs.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { firstNodeOffering, getLlm, getNode, getTransport, nodeOffers, projectRoot } from '../catalog/index.js';
import { closest } from '../catalog/suggest.js';
import { originalAbortTimeoutS } from '../catalog/vllm.js';
import type { Catalog } from '../spec/catalog.js';
import { quoted, UserError } from '../errors.js';
import { metricProblem, pointMatches } from '../experiment/check.js';
import { expandPoints, loadExperiment } from '../experiment/load.js';
import { pointLabel } from '../experiment/jobs.js';
import type { Point } from '../spec/experiment.js';
import { describe, moreSuffix, shownPath, sortProblems, YamlSource, zodProblems, type Path } from '../experiment/yaml-errors.js';
import type { TransferQuery } from '../physics/estimate.js';
import { checkPlacement, kvHeadsPerRank } from '../physics/index.js';
import type { GpuSpec } from '../spec/catalog.js';
import {
  COPY_METRICS,
  copySpecSchema,
  measurementFileSchema,
  TRANSFER_METRICS,
  transferSpecSchema,
  type CopySpec,
  type Family,
  type MeasurementFile,
  type TransferSpec,
} from './schema.js';
import { readInputText } from '../input.js';

/** The default directory of measurement files. */
export const defaultMeasurementsDir = (): string => join(projectRoot(), 'models', 'measurements');

/** What the model computes for a record: one point of an experiment, or one transfer estimate. */
export type Target =
  | { kind: 'point'; key: string; point: Point }
  | { kind: 'transfer'; key: string; query: TransferQuery }
  | { kind: 'copy'; key: string; gpu: GpuSpec; spec: CopySpec };

/** One published figure, resolved to the model's value it is held against. */
export interface MeasurementRecord {
  /** `<file id>/<record id>`. */
  id: string;
  source: string;
  metric: string;
  family: Family;
  measured: number;
  unit: string;
  tolerancePct: number;
  note?: string;
  /** What calibration fitted to this record. */
  fitted?: string;
  /** A known gap: why, and the error the record must stay within meanwhile. */
  knownGap?: { maxErrorPct: number; why: string };
  /** The value is the target's metric minus this point's metric. */
  minus?: { target: Extract<Target, { kind: 'point' }>; metric: string; metricWhere: string };
  /** `models/measurements/x.yaml:12:5 records[3]`, for messages. */
  where: string;
  /** `models/measurements/x.yaml:14:5 records[3].metric`: where a metric the result lacks is reported. */
  metricWhere: string;
  /** Absolute path of the measurement file. */
  file: string;
  target: Target;
}

export interface MeasurementSet {
  id: string;
  title: string;
  source: string;
  url?: string;
  /** Absolute path of the measurement file. */
  file: string;
  records: MeasurementRecord[];
}

export interface LoadMeasurementsOptions {
  catalog: Catalog;
}

/** Every measurement file of `dir` (*.yaml, *.yml), sorted by name. A directory without any is a mistake. */
export function loadMeasurements(dir: string, opts: LoadMeasurementsOptions): MeasurementSet[] {
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new UserError(`measurement directory '${shownPath(abs)}' not found`);
  if (!statSync(abs).isDirectory()) throw new UserError(`'${shownPath(abs)}' is not a directory; expected a directory of measurement files (*.yaml)`);
  const files = readdirSync(abs)
    .filter((f) => ['.yaml', '.yml'].includes(extname(f).toLowerCase()))
    .sort();
  if (files.length === 0) throw new UserError(`no measurement files (*.yaml) in '${shownPath(abs)}'`);
  return files.map((f) => loadMeasurementFile(join(abs, f), opts));
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const FIELDS = 'a map of fields (id, title, source, experiment, transfer or copy, records)';

/** Reads and validates one measurement file and resolves its records. */
export function loadMeasurementFile(file: string, opts: LoadMeasurementsOptions): MeasurementSet {
  const y: YamlSource = new YamlSource(file, readInputText(file, 'measurement file'));
  y.checkSyntax();
  const raw: unknown = y.toJS();
  if (raw === null || raw === undefined) y.fail([], `empty file; expected ${FIELDS}`);
  if (!isMap(raw)) y.fail([], `expected ${FIELDS}, got ${describe(raw)}`);
  const parsed = measurementFileSchema.safeParse(raw);
  if (!parsed.success) {
    const found = sortProblems(zodProblems(parsed.error.issues, measurementFileSchema, raw), y);
    const first = found[0]!;
    y.fail(first.path, first.message + moreSuffix(found.length - 1));
  }
  const m: MeasurementFile = parsed.data;

  const stem = basename(file, extname(file));
  if (m.id !== stem) y.fail(['id'], `expected the file's name without its extension, '${stem}', got '${m.id}'`);
  const kinds = (['experiment', 'transfer', 'copy'] as const).filter((k) => m[k] !== undefined);
  if (kinds.length === 0) y.fail([], 'needs `experiment:` (a runnable experiment file), `transfer:` (a transfer estimate) or `copy:` (a host-link copy); it has none');
  if (kinds.length > 1) y.fail([kinds[1]!], `a file gives one of \`experiment:\`, \`transfer:\` and \`copy:\`; this one gives ${kinds.join(' and ')}`);
  if (m.set !== undefined && m.experiment === undefined) y.fail(['set'], `applies to an experiment; a ${kinds[0]} file has no \`set:\``);

  const seen = new Map<string, number>();
  for (const [i, r] of m.records.entries()) {
    const earlier = seen.get(r.id);
    if (earlier !== undefined) {
      const { line } = y.lc.linePos(y.offsetOf(['records', earlier, 'id']));
      y.fail(['records', i, 'id'], `'${r.id}' is already the id of records[${earlier}] (line ${line}); record ids are unique within a file`);
    }
    seen.set(r.id, i);
    if (r.measured === 0) y.fail(['records', i, 'measured'], 'expected a number other than 0 (the error is relative to it), got 0');
  }

  const targets =
    m.experiment !== undefined ? pointTargets(y, m, m.experiment, opts) : m.transfer !== undefined ? transferTargets(y, m, m.transfer, opts) : copyTargets(y, m, m.copy!, opts);
  const minus = m.experiment !== undefined ? minusTargets(y, m, m.experiment, opts) : [];
  const records: MeasurementRecord[] = m.records.map((r, i) => ({
    id: `${m.id}/${r.id}`,
    source: r.source ?? m.source,
    metric: r.metric,
    family: r.family,
    measured: r.measured,
    unit: r.unit,
    tolerancePct: r.tolerancePct,
    ...(r.note !== undefined ? { note: r.note } : {}),
    ...(r.fitted !== undefined ? { fitted: r.fitted } : {}),
    ...(r.knownGap !== undefined ? { knownGap: { ...r.knownGap } } : {}),
    ...(minus[i] !== undefined ? { minus: minus[i] } : {}),
    where: y.where(['records', i]),
    metricWhere: y.where(['records', i, 'metric']),
    file: resolve(file),
    target: targets[i]!,
  }));
  return { id: m.id, title: m.title, source: m.source, ...(m.url !== undefined ? { url: m.url } : {}), file: resolve(file), records };
}

/** Each record's `minus` point (undefined where it has none), selected as its own point is. */
function minusTargets(y: YamlSource, m: MeasurementFile, experiment: string, opts: LoadMeasurementsOptions): (MeasurementRecord['minus'] | undefined)[] {
  const points = experimentPoints(y, m, experiment, opts);
  const file = shownPath(resolve(dirname(y.file), experiment));
  return m.records.map((r, i) => {
    if (r.minus === undefined) return undefined;
    const bad = metricProblem(r.minus.metric);
    if (bad) y.fail(['records', i, 'minus', 'metric'], bad);
    const point = selectPoint(y, points, file, r.minus.point, ['records', i, 'minus']);
    return {
      target: { kind: 'point', key: `${resolve(dirname(y.file), experiment)}#${point.id}`, point },
      metric: r.minus.metric,
      metricWhere: y.where(['records', i, 'minus', 'metric']),
    };
  });
}

/** The one point `select` picks (the only one when it is absent); otherwise a mistake at `at`. */
function selectPoint(y: YamlSource, points: Point[], file: string, select: Record<string, unknown> | undefined, at: Path): Point {
  const chosen = points.filter((p) => pointMatches(select ?? {}, p.params, p.experiment));
  if (chosen.length !== 1) {
    const list = points.map((p) => pointLabel(p.id, p.params)).join('; ');
    const what = select ? `selects ${chosen.length} of the ${points.length} points of ${file}` : `has no point: ${file} has ${points.length} points`;
    y.fail(select ? [...at, 'point'] : at, `${what}; a record needs exactly one (the points: ${list})`);
  }
  return chosen[0]!;
}

/** The experiment's points, `set` applied; a bad `set` entry is reported at the entry. */
function experimentPoints(y: YamlSource, m: MeasurementFile, experiment: string, opts: LoadMeasurementsOptions): Point[] {
  const expFile = resolve(dirname(y.file), experiment);
  try {
    return expandPoints(loadExperiment(expFile, { catalog: opts.catalog, ...(m.set ? { set: m.set } : {}) }));
  } catch (err) {
    if (err instanceof UserError && err.where?.startsWith('--set ')) {
      const entry = err.where.slice('--set '.length);
      const k = m.set?.indexOf(entry) ?? -1;
      y.fail(k >= 0 ? ['set', k] : ['set'], err.message.slice(err.where.length + 2));
    }
    throw err;
  }
}

/** Each record's point of the experiment: the one its `point` selects (the only one when it has none). */
function pointTargets(y: YamlSource, m: MeasurementFile, experiment: string, opts: LoadMeasurementsOptions): Target[] {
  const expFile = resolve(dirname(y.file), experiment);
  if (!existsSync(expFile)) y.fail(['experiment'], `file not found: ${experiment} (read relative to this file's directory: ${shownPath(expFile)})`);
  if (statSync(expFile).isDirectory()) y.fail(['experiment'], `'${experiment}' is a directory; expected an experiment file (.yaml or .json)`);
  // A bad `set` entry is reported by the experiment loader as the flag it stands for; experimentPoints points at the entry.
  const points = experimentPoints(y, m, experiment, opts);
  const file = shownPath(expFile);
  return m.records.map((r, i): Target => {
    const bad = metricProblem(r.metric);
    if (bad) y.fail(['records', i, 'metric'], bad);
    const point = selectPoint(y, points, file, r.point, ['records', i]);
    return { kind: 'point', key: `${expFile}#${point.id}`, point };
  });
}

/**
 * The transfer estimate each record of a transfer file reads a field of: the file's `transfer`, with the record's own
 * `transfer` fields over it (one nixlbench row each, say), checked against the catalog.
 */
function transferTargets(y: YamlSource, m: MeasurementFile, base: TransferSpec, opts: LoadMeasurementsOptions): Target[] {
  const c = opts.catalog;
  return m.records.map((r, i): Target => {
    if (r.point !== undefined) y.fail(['records', i, 'point'], 'a transfer file has no points; leave point out');
    if (r.minus !== undefined) y.fail(['records', i, 'minus'], 'a transfer file has no points to subtract; leave minus out');
    if (!(TRANSFER_METRICS as readonly string[]).includes(r.metric)) {
      const guess = closest(r.metric, TRANSFER_METRICS);
      y.fail(['records', i, 'metric'], `unknown metric ${quoted(String(r.metric))} of a transfer estimate${guess !== undefined ? `; did you mean '${guess}'?` : ''} (one of ${TRANSFER_METRICS.join(', ')})`);
    }
    let t = base;
    if (r.transfer !== undefined) {
      const merged = transferSpecSchema.safeParse({ ...base, ...r.transfer });
      if (!merged.success) {
        const first = sortProblems(zodProblems(merged.error.issues, transferSpecSchema, { ...base, ...r.transfer }), y)[0]!;
        y.fail(['records', i, 'transfer', ...first.path.slice(0)], first.message);
      }
      t = merged.data;
    }
    // A field the record changed is reported at the record, the others at the file's transfer.
    const at = (field: keyof TransferSpec): Path => (r.transfer !== undefined && field in r.transfer ? ['records', i, 'transfer', field] : ['transfer', field]);
    const check = <T>(field: keyof TransferSpec, f: () => T): T => {
      try {
        return f();
      } catch (err) {
        if (err instanceof UserError && err.where === undefined) y.fail(at(field), err.message);
        throw err;
      }
    };
    if (t.bytes === undefined && (t.model === undefined || t.tokens === undefined)) {
      y.fail(at(t.model === undefined ? 'model' : 'tokens'), 'a transfer needs model and tokens (a request\'s KV), or bytes (a raw size)');
    }
    if (t.bytes !== undefined && (t.model !== undefined || t.tokens !== undefined)) y.fail(at('bytes'), 'bytes is a raw size: leave out model and tokens');
    const modelId = t.model ?? [...c.llms.keys()].sort()[0]!;
    const llm = check('model', () => getLlm(c, modelId));
    const transport = check('transport', () => getTransport(c, t.transport));
    const node = t.node !== undefined ? check('node', () => getNode(c, t.node!)) : check('transport', () => firstNodeOffering(c, transport.id));
    if (!nodeOffers(node, transport)) {
      y.fail(at(t.node !== undefined ? 'node' : 'transport'), `node '${node.id}' does not offer transport '${transport.id}' (it offers: ${node.transports.join(', ')})`);
    }
    const prefillTp = t.prefillTp ?? 1;
    const decodeTp = t.decodeTp ?? 1;
    check('prefillTp', () => kvHeadsPerRank(llm, prefillTp));
    check('decodeTp', () => kvHeadsPerRank(llm, decodeTp));
    const placement = t.placement ?? 'cross-node';
    check(t.placement !== undefined ? 'placement' : 'transport', () => checkPlacement(transport, placement));
    const query: TransferQuery = {
      llm,
      transport,
      tokens: t.tokens ?? 1,
      ...(t.bytes !== undefined ? { bytes: t.bytes } : {}),
      ...(t.descriptorBytes !== undefined ? { descriptorBytes: t.descriptorBytes } : {}),
      ...(t.rails !== undefined ? { rails: t.rails } : {}),
      prefillTp,
      decodeTp,
      prefillNode: node,
      decodeNode: node,
      hostLinkBandwidth: c.gpus.get(node.gpu)!.hostLink.copyBandwidth,
      placement,
      bandwidth: t.bandwidth ?? 'typical',
      prefillBlockSize: t.prefillBlockSize ?? 16,
      ...(t.kvLayout !== undefined ? { kvLayout: t.kvLayout } : {}),
      ...(t.nicGbps !== undefined ? { nicGbps: t.nicGbps } : {}),
      concurrent: t.concurrent ?? 1,
      timeoutS: originalAbortTimeoutS(c),
    };
    return { kind: 'transfer', key: `${y.file}#transfer${r.transfer !== undefined ? `#${i}` : ''}`, query };
  });
}

/** The host-link copy each record of a copy file reads: the file's `copy`, with the record's own `copy` fields over it. */
function copyTargets(y: YamlSource, m: MeasurementFile, base: CopySpec, opts: LoadMeasurementsOptions): Target[] {
  return m.records.map((r, i): Target => {
    if (r.point !== undefined) y.fail(['records', i, 'point'], 'a copy file has no points; leave point out');
    if (r.minus !== undefined) y.fail(['records', i, 'minus'], 'a copy file has no points to subtract; leave minus out');
    if (r.transfer !== undefined) y.fail(['records', i, 'transfer'], 'a copy file\'s record changes `copy:` fields, not `transfer:`');
    if (!(COPY_METRICS as readonly string[]).includes(r.metric)) {
      const guess = closest(r.metric, COPY_METRICS);
      y.fail(['records', i, 'metric'], `unknown metric ${quoted(String(r.metric))} of a copy${guess !== undefined ? `; did you mean '${guess}'?` : ''} (one of ${COPY_METRICS.join(', ')})`);
    }
    let spec = base;
    if (r.copy !== undefined) {
      const merged = copySpecSchema.safeParse({ ...base, ...r.copy });
      if (!merged.success) {
        const first = sortProblems(zodProblems(merged.error.issues, copySpecSchema, { ...base, ...r.copy }), y)[0]!;
        y.fail(['records', i, 'copy', ...first.path], first.message);
      }
      spec = merged.data;
    }
    const gpu = opts.catalog.gpus.get(spec.gpu);
    if (gpu === undefined) {
      const at: Path = r.copy !== undefined && 'gpu' in r.copy ? ['records', i, 'copy', 'gpu'] : ['copy', 'gpu'];
      const ids = [...opts.catalog.gpus.keys()].sort();
      const guess = closest(spec.gpu, ids);
      y.fail(at, `unknown GPU ${quoted(spec.gpu)}${guess !== undefined ? `; did you mean '${guess}'?` : ''} (one of ${ids.join(', ')})`);
    }
    return { kind: 'copy', key: `${y.file}#copy${r.copy !== undefined ? `#${i}` : ''}`, gpu, spec };
  });
}
