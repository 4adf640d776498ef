/**
 * Experiment files -> validated, defaulted Experiments, one per point of the sweep. Everything is checked here, every
 * point included, before anything runs: a mistake in point 40 of 48 must not surface after 39 points' worth of
 * simulation, nor leave a half-written report behind.
 *
 * Values come from three places, applied in this order: the file, the point's sweep values, then --set/--seed (so a
 * flag always wins; a flag that pins a swept path also drops that sweep entry). An error names where its value came
 * from: `x.yaml:12:5 deployment.prefill.tp` for the file, `x.yaml:30:9 sweep.deployment.transport[1]` or
 * `x.yaml:33:11 sweep.zip.deployment.node[2]` for a sweep value, `--set deployment.prefill.tp=3` for a flag.
 *
 * A sweep is a list of dimensions crossed with one another: each cartesian entry (`path: [a, b]`) is one, and so is
 * each zip group (`zip: { p: [a, b], q: [c, d] }`), whose lists have equal lengths and are taken together, value i of
 * every list in point after point. A zip group stands where `zip` stands among the sweep's keys; `zip` may also be a
 * list of groups, each its own dimension, in order.
 *
 * A file may `extends: <path>` another (relative to itself), which may extend another in turn: it is deep-merged over
 * that file (maps merge, lists and scalars replace), and a value that came from an extended file is reported at that
 * file's line and column. `name` and `expect` belong to the file that writes them and are not inherited.
 *
 * `expect:` pins metrics of points to measured values (checked by `nixlsim check`); the loader validates each entry
 * (its metric against the point result's shape, its `point` against the sweep) and returns them beside the points.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { defaultCatalog } from '../catalog/load.js';
import { closest } from '../catalog/suggest.js';
import type { Catalog } from '../spec/catalog.js';
import { InvariantError, quoted, UserError } from '../errors.js';
import { TraceReader, type TraceFormat } from '../workload/traces.js';
import { checkAgainstCatalog, checkExpectations, pointMatches, type CatalogRecords } from './check.js';
import { DEFAULT_REQUESTS, DEFAULT_RETRIES, experimentFileSchema, expectListSchema, fieldForms, fieldPaths, inSchemaOrder, isListField, type ExpectEntry } from './schema.js';
import type { Experiment, ExperimentFile, Point, WorkerGroup } from '../spec/experiment.js';
import { readInputText } from '../input.js';
import { MAX_POINTS_CEILING, sweepLimit } from './sweep-limit.js';
import {
  chainText,
  describe,
  fieldName,
  LayeredSource,
  moreSuffix,
  shownPath,
  sortProblems,
  valueAt,
  YamlSource,
  zodProblems,
  type Layer,
  type Path,
  type Problem,
} from './yaml-errors.js';

export interface LoadOptions {
  /** `path=value` overrides, value parsed as YAML (`--set deployment.prefill.tp=2`, `--set sweep.deployment.transport=[tcp,ib-rdma]`). */
  set?: string[];
  /** Overrides the file's seed. */
  seed?: number;
  /** The catalog ids are checked against; the project's models/ by default. */
  catalog?: Catalog;
}

/** Where each point's values came from, to place problems found only when a point runs. */
interface PointSources {
  src: LayeredSource;
  overrides: Map<string, Override[]>;
  params: Map<string, Record<string, unknown>>;
}

/**
 * A loaded experiment: what the file says, and (reached through expandPoints and pointFieldError) its points, built
 * and so validated when loading, and where each point's values came from.
 */
export class LoadedExperiment {
  constructor(
    /** The first point's experiment: the file with every swept path at its first value (the base alone may be
     * incomplete, e.g. a transport given only in the sweep). */
    readonly experiment: Experiment,
    /** Every swept path (zip group members included) and its values, in dimension order (entries added by --set last). */
    readonly sweep: Record<string, unknown[]>,
    /** The sweep's dimensions, slowest first: one path for a cartesian entry, a zip group's paths in its key order. */
    readonly dimensions: string[][],
    /** Absolute path of the experiment file. */
    readonly file: string,
    /** The files read, absolute: this one, then the one it extends, and so on (just `file` without extends). */
    readonly files: string[],
    /** The file's own `expect:` entries (never an extended file's), in file order, with the points each applies to. */
    readonly expect: Expectation[],
    private readonly points: Point[],
    private readonly sources: PointSources,
  ) {}

  /** A fresh copy of every point (callers may change theirs). */
  copyPoints(): Point[] {
    return structuredClone(this.points);
  }

  /** A problem `pointId` met at `path` when it ran, placed where the value came from (the file, a sweep entry, a flag). */
  fieldError(pointId: string, path: Path, message: string): UserError {
    const overrides = this.sources.overrides.get(pointId);
    if (!overrides) throw new InvariantError(`pointFieldError needs a point of this experiment, got ${pointId}`);
    return located(this.sources.src, { path, message }, overrides, { id: pointId, params: this.sources.params.get(pointId) ?? {} });
  }
}

/** An `expect:` entry: a metric of some points pinned to a measured value. */
export interface Expectation extends ExpectEntry {
  /** Where the entry is written, `experiments/x.yaml:30:5 expect[0]`, for messages. */
  where: string;
  /** Ids of the points it applies to, in point order (with --set pinning a selected path, possibly none). */
  points: string[];
}

/** A value some point takes from somewhere other than the file's own field, and how to name that place. */
interface Override {
  path: string[];
  value: unknown;
  fromSweep: boolean;
  /** Where to point for a problem `rest` below this override's path. */
  where(rest: Path): string;
  /** The file a relative path in the value is read from (a trace file). */
  file: string;
}

interface SweepEntry {
  key: string;
  path: string[];
  values: unknown[];
  /** Where the list is written: ['sweep', key], ['sweep', 'zip', key] or ['sweep', 'zip', group, key]. */
  at: Path;
  /** The flag that gave the entry, when it is not the file's. */
  flag?: string;
}

/** One swept dimension: a cartesian entry alone, or a zip group's entries (lists of equal length, taken together). */
interface Dimension {
  entries: SweepEntry[];
}

const dimensionLength = (d: Dimension): number => d.entries[0]?.values.length ?? 0;

const FIELD_PATHS = fieldPaths();

function unknownPathMessage(path: string): string {
  const segs = path.split('.');
  for (let i = segs.length - 1; i > 0; i--) {
    const list = segs.slice(0, i).join('.');
    if (FIELD_PATHS.includes(list) && isListField(list)) {
      return `unknown path '${path}': '${list}' is a list, and a list's items cannot be addressed; set or sweep it whole (${list}=[...])`;
    }
  }
  const guess = closest(path, FIELD_PATHS);
  return guess !== undefined
    ? `unknown path '${path}'; did you mean '${guess}'?`
    : `unknown path '${path}'; paths are dotted field names such as deployment.transport or workload.isl.mean (experiments/README.md lists them)`;
}

function isMapValue(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads and validates an experiment file and every point of its sweep. Throws one UserError naming file:line:col. */
export function loadExperiment(file: string, opts: LoadOptions = {}): LoadedExperiment {
  const abs = resolve(file);
  if (!existsSync(abs)) throw new UserError(`experiment file '${file}' not found`);
  if (statSync(abs).isDirectory()) throw new UserError(`'${file}' is a directory; expected an experiment file (.yaml or .json)`);
  try {
    return load(abs, opts);
  } catch (err) {
    // A mistake in a file this one extends is reported where it is; say how the loader got there.
    if (!(err instanceof UserError)) throw err;
    const where = err.where;
    if (where === undefined || where.startsWith('--') || where.startsWith(`${shownPath(abs)}:`)) throw err;
    throw new UserError(`${err.message.slice(where.length + 2)} (reached through extends from ${shownPath(abs)})`, where);
  }
}

function load(abs: string, opts: LoadOptions): LoadedExperiment {
  const src = new LayeredSource(readLayers(abs, []));
  const raw = src.merged();
  const own = src.layers[0]!.data;

  const sweep = fileSweep(src, raw['sweep']);
  checkSweepSize(sweep, src.where(['sweep']));
  // What `expect: point` may select: the points of the file itself, before any flag changes the sweep.
  const filePoints = expand(sweep).map(({ id, picks }) => ({ id, params: paramsOf(picks) }));
  const entries = fileExpectations(src, own['expect']);
  const flags = applyFlags(opts, sweep, src.file);
  const base = structuredClone(raw);
  delete base['sweep'];
  delete base['expect'];

  const catalog = opts.catalog ?? defaultCatalog();
  const traceChecks = new Map<string, string | undefined>();
  const overridesOf = new Map<string, Override[]>();
  // Again with the flags' sweep: a --set that swept a path is what made it too large, when one did.
  const setSweep = opts.set?.find((a) => a.trim().startsWith('sweep.'));
  checkSweepSize(sweep, setSweep !== undefined ? `--set ${setSweep}` : src.where(['sweep']));
  const points = expand(sweep).map(({ id, picks }) => {
    const overrides: Override[] = [];
    for (const { dimension, index } of picks) {
      for (const entry of dimension.entries) {
        const file = entry.flag === undefined ? src.owner(entry.at).file : src.file;
        overrides.push({ path: entry.path, value: entry.values[index], fromSweep: true, where: sweepWhere(src, entry, index), file });
      }
    }
    overrides.push(...flags);
    const params = paramsOf(picks);
    overridesOf.set(id, overrides);
    const experiment = buildPoint(src, base, overrides, catalog, { id, params }, traceChecks);
    return { id, params, experiment };
  });

  const first = points[0];
  if (!first) throw new InvariantError('a sweep expanded to no points');

  const problem = checkExpectations(entries, filePoints, Object.keys(filePoints[0]?.params ?? {}));
  if (problem) throw new UserError(problem.message, src.where(problem.path));
  const expectations: Expectation[] = entries.map((e, i) => ({
    ...e,
    where: src.where(['expect', i]),
    points: points.filter((p) => pointMatches(e.point ?? {}, p.params, p.experiment)).map((p) => p.id),
  }));
  // An autoscale metric is a number only autoscaled points have: pinning it elsewhere is a mistake in the file.
  for (const [i, e] of expectations.entries()) {
    const fixed = e.metric.startsWith('autoscale.') ? points.find((p) => e.points.includes(p.id) && p.experiment.autoscale === undefined) : undefined;
    if (fixed) throw new UserError(`${e.metric} is a number of autoscaled runs, but point ${fixed.id} has no autoscale section`, src.where(['expect', i, 'metric']));
  }

  return new LoadedExperiment(
    structuredClone(first.experiment),
    Object.fromEntries(sweep.flatMap((d) => d.entries.map((e) => [e.key, structuredClone(e.values)]))),
    sweep.map((d) => d.entries.map((e) => e.key)),
    abs,
    src.layers.map((l) => l.y.file),
    expectations,
    points,
    { src, overrides: overridesOf, params: new Map(points.map((p) => [p.id, p.params])) },
  );
}

/**
 * A problem a point met at a field only when it ran (a fault target that names no worker of the cluster built), as
 * one UserError at the place that gave the field its value: the file's line, the sweep entry's, or the flag.
 */
export function pointFieldError(loaded: LoadedExperiment, pointId: string, path: Path, message: string): UserError {
  return loaded.fieldError(pointId, path, message);
}

function paramsOf(picks: { dimension: Dimension; index: number }[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const { dimension, index } of picks) for (const entry of dimension.entries) params[entry.key] = structuredClone(entry.values[index]);
  return params;
}

// ---------------------------------------------------------------------------------------------------------------------
// The file and the files it extends

const FIELDS = 'a map of fields (name, seed, deployment, workload, faults, horizonS, extends, sweep, expect)';

/** Keys a file keeps to itself: an extended file's are dropped before merging. */
const NOT_INHERITED = ['name', 'expect'];

/**
 * `abs` and the files it extends, nearest first, each parsed and checked to be a map. `chain` is the files that led
 * here (each extending the next), for the cycle check.
 */
function readLayers(abs: string, chain: string[]): Layer[] {
  const y: YamlSource = new YamlSource(abs, readInputText(abs, 'experiment file'));
  y.checkSyntax();
  const raw: unknown = y.toJS();
  if (raw === null || raw === undefined) y.fail([], `empty file; expected ${FIELDS}`);
  if (!isMapValue(raw)) y.fail([], `expected ${FIELDS}, got ${describe(raw)}`);
  const data = structuredClone(raw);
  delete data['extends'];
  if (chain.length > 0) for (const k of NOT_INHERITED) delete data[k];
  const layer: Layer = { y, data };

  const ext = raw['extends'];
  if (ext === undefined || ext === null) return [layer];
  if (typeof ext !== 'string' || ext.trim() === '') {
    y.fail(['extends'], `expected the path of an experiment file to extend, relative to this one, got ${describe(ext)}`);
  }
  if (ext.includes('\0')) y.fail(['extends'], 'a path cannot hold the NUL character (\\0)');
  const target = resolve(dirname(abs), ext);
  const seen = [...chain, abs];
  if (seen.includes(target)) y.fail(['extends'], `extends cycle: ${chainText([...seen, target])}; a file cannot extend itself, directly or through others`);
  if (!existsSync(target)) y.fail(['extends'], `file not found: ${quoted(ext)} (read relative to this file's directory: ${quoted(target)})`);
  if (statSync(target).isDirectory()) y.fail(['extends'], `${quoted(ext)} is a directory; expected an experiment file (.yaml or .json)`);
  return [layer, ...readLayers(target, seen)];
}

// ---------------------------------------------------------------------------------------------------------------------
// expect

const expectDocument = z.strictObject({ expect: expectListSchema });

/** The file's `expect:` entries, their shape checked (what they name is checked against the points in check.ts). */
function fileExpectations(src: LayeredSource, raw: unknown): ExpectEntry[] {
  if (raw === undefined || raw === null) return [];
  const data = { expect: raw };
  const r = expectDocument.safeParse(data);
  if (r.success) return r.data.expect;
  const found = sortProblems(zodProblems(r.error.issues, expectDocument, data), src);
  const first = found[0];
  if (!first) throw new InvariantError('zod failed with no issues');
  src.fail(first.path, first.message + moreSuffix(found.length - 1));
}

/**
 * The product of the sweep's dimensions, in file order, the last varying fastest: p000, p001, ... (at least three
 * digits). A zip group is one dimension. A point's params hold every swept path, in dimension order (a zip group's in
 * its key order). A file without a sweep has one point, p000, with no params.
 */
export function expandPoints(loaded: LoadedExperiment): Point[] {
  return loaded.copyPoints();
}

// ---------------------------------------------------------------------------------------------------------------------
// The sweep and the flags

function fileSweep(y: LayeredSource, raw: unknown): Dimension[] {
  if (raw === undefined || raw === null) return [];
  if (!isMapValue(raw)) y.fail(['sweep'], `expected a map from field paths to lists of values, got ${describe(raw)}`);
  const seen = new Map<string, Path>();
  const entry = (key: string, values: unknown, at: Path): SweepEntry => {
    const problem = sweepKeyProblem(key) ?? sweepValuesProblem(values);
    if (problem) y.fail(at, problem);
    const earlier = seen.get(key);
    if (earlier) {
      y.fail(at, `'${key}' is already swept at ${y.lineRef(earlier, at)} (${fieldName(earlier)}); a path is swept once, on its own or in one zip group`);
    }
    seen.set(key, at);
    return { key, path: key.split('.'), values: values as unknown[], at };
  };
  const out: Dimension[] = [];
  for (const [key, values] of Object.entries(raw)) {
    if (key === 'zip') out.push(...zipGroups(y, values, entry));
    else out.push({ entries: [entry(key, values, ['sweep', key])] });
  }
  return out;
}

const ZIP_GROUP = 'a map from field paths to lists of equal length';

/** `zip:` as one group or a list of groups, each a dimension. */
function zipGroups(y: LayeredSource, raw: unknown, entry: (key: string, values: unknown, at: Path) => SweepEntry): Dimension[] {
  if (isMapValue(raw)) return [zipGroup(y, raw, ['sweep', 'zip'], entry)];
  if (!Array.isArray(raw)) y.fail(['sweep', 'zip'], `expected ${ZIP_GROUP}, or a list of such maps, got ${describe(raw)}`);
  if (raw.length === 0) y.fail(['sweep', 'zip'], `expected ${ZIP_GROUP}, or a non-empty list of such maps, got an empty list`);
  return raw.map((group: unknown, i) => {
    if (!isMapValue(group)) y.fail(['sweep', 'zip', i], `expected ${ZIP_GROUP}, got ${describe(group)}`);
    return zipGroup(y, group, ['sweep', 'zip', i], entry);
  });
}

function zipGroup(y: LayeredSource, raw: Record<string, unknown>, at: Path, entry: (key: string, values: unknown, at: Path) => SweepEntry): Dimension {
  const entries = Object.entries(raw).map(([key, values]) => entry(key, values, [...at, key]));
  const first = entries[0];
  if (!first) y.fail(at, `expected ${ZIP_GROUP}, got an empty map`);
  for (const e of entries) {
    if (e.values.length !== first.values.length) {
      y.fail(e.at, `'${e.key}' has ${e.values.length} values but '${first.key}' has ${first.values.length}; the lists of a zip group are taken together, so they must have equal lengths`);
    }
  }
  return { entries };
}

function sweepKeyProblem(key: string): string | undefined {
  if (key === 'name') return 'name cannot be swept: it names the report directory';
  if (!FIELD_PATHS.includes(key)) return unknownPathMessage(key) + ' (sweep keys are dotted paths, e.g. deployment.transport)';
  return undefined;
}

function sweepValuesProblem(values: unknown): string | undefined {
  if (!Array.isArray(values)) return `expected a list of values such as [a, b], got ${describe(values)}`;
  if (values.length === 0) return 'expected a non-empty list of values, got an empty list';
  return undefined;
}

function sweepWhere(y: LayeredSource, entry: SweepEntry, index: number): (rest: Path) => string {
  const shown = (rest: Path): Path => [...entry.at, index, ...rest];
  if (entry.flag !== undefined) return (rest) => `${entry.flag} ${fieldName(shown(rest))}`;
  return (rest) => y.where(shown(rest));
}

/** Takes out of the sweep the entries `drop` selects; a zip group left with no entries goes too. */
function dropEntries(sweep: Dimension[], drop: (key: string) => boolean): void {
  for (let i = sweep.length - 1; i >= 0; i--) {
    const d = sweep[i]!;
    d.entries = d.entries.filter((e) => !drop(e.key));
    if (d.entries.length === 0) sweep.splice(i, 1);
  }
}

/**
 * --set and --seed: edits the sweep in place and returns the field overrides, in the order given. `--set sweep.p=[...]`
 * replaces p's cartesian entry where it stands; a p in a zip group leaves the group and, like a new entry, goes last.
 */
function applyFlags(opts: LoadOptions, sweep: Dimension[], file: string): Override[] {
  const out: Override[] = [];
  const pin = (path: string, value: unknown, flag: string): void => {
    // A pinned path is no longer swept, nor is anything under it: the flag would overwrite those values anyway.
    // The rest of a zip group it was in still varies together.
    dropEntries(sweep, (k) => k === path || k.startsWith(`${path}.`));
    const segs = path.split('.');
    out.push({ path: segs, value, fromSweep: false, where: (rest) => (rest.length ? `${flag} ${fieldName([...segs, ...rest])}` : flag), file });
  };

  for (const expr of opts.set ?? []) {
    const flag = `--set ${expr}`;
    const eq = expr.indexOf('=');
    if (eq < 1) throw new UserError('expected path=value, e.g. --set deployment.prefill.tp=2', flag);
    const path = expr.slice(0, eq).trim();
    const text = expr.slice(eq + 1);
    if (/^sweep\.zip(?:$|[.[])/.test(path)) {
      throw new UserError('zip groups can only be written in the file (sweep: { zip: { <path>: [...], ... } }); --set sweep.<path>=[a, b] sweeps one path', flag);
    }
    let value: unknown;
    try {
      value = parseYaml(text);
    } catch (err) {
      const why = err instanceof Error ? err.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '').split('\n')[0] : String(err);
      throw new UserError(`cannot read the value '${text}' as YAML: ${why}`, flag);
    }
    if (path === 'sweep') throw new UserError('name the swept path: --set sweep.<path>=[a, b]', flag);
    if (path.startsWith('sweep.')) {
      const key = path.slice('sweep.'.length);
      const problem = sweepKeyProblem(key) ?? sweepValuesProblem(value);
      if (problem) throw new UserError(problem, flag);
      const entry: SweepEntry = { key, path: key.split('.'), values: value as unknown[], at: ['sweep', key], flag };
      const i = sweep.findIndex((d) => d.entries.length === 1 && d.entries[0]!.at.length === 2 && d.entries[0]!.key === key);
      if (i >= 0) sweep[i] = { entries: [entry] };
      else {
        dropEntries(sweep, (k) => k === key);
        sweep.push({ entries: [entry] });
      }
      continue;
    }
    if (!FIELD_PATHS.includes(path)) throw new UserError(unknownPathMessage(path), flag);
    pin(path, value, flag);
  }
  if (opts.seed !== undefined) pin('seed', opts.seed, `--seed ${opts.seed}`);
  return out;
}

/** Point k's id of a sweep of `total` points: p000, p001, ... (at least three digits, enough for the last point). */
export function pointId(k: number, total: number): string {
  return `p${String(k).padStart(Math.max(3, String(total - 1).length), '0')}`;
}

/** Refuses a sweep of more points than allowed, counted before anything is built (10^12 points would fill memory). */
function checkSweepSize(sweep: Dimension[], where: string): void {
  const total = sweep.reduce((n, d) => n * dimensionLength(d), 1);
  const maxPoints = sweepLimit();
  if (total <= maxPoints) return;
  const sizes = sweep.map((d) => `${d.entries.map((e) => e.key).join('+')} ${dimensionLength(d)}`).join(' x ');
  const raise = total <= MAX_POINTS_CEILING ? `, or raise the limit with --max-points ${total}` : '';
  throw new UserError(`the sweep has ${total.toLocaleString('en-US')} points (${sizes}); at most ${maxPoints.toLocaleString('en-US')}: split the study into experiments, pin a path with --set${raise}`, where);
}

function expand(sweep: Dimension[]): { id: string; picks: { dimension: Dimension; index: number }[] }[] {
  const total = sweep.reduce((n, d) => n * dimensionLength(d), 1);
  const out = [];
  for (let i = 0; i < total; i++) {
    const picks: { dimension: Dimension; index: number }[] = [];
    let rest = i;
    for (let k = sweep.length - 1; k >= 0; k--) {
      const dimension = sweep[k]!;
      const n = dimensionLength(dimension);
      picks.unshift({ dimension, index: rest % n });
      rest = Math.floor(rest / n);
    }
    out.push({ id: pointId(i, total), picks });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// One point

interface PointLabel {
  id: string;
  params: Record<string, unknown>;
}

function paramText(params: Record<string, unknown>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

/** The override that holds the value at `path`: the deepest one above it; on equal depth the later, applied on top. */
function holder(path: Path, overrides: Override[]): Override | undefined {
  let best: Override | undefined;
  for (const o of overrides) {
    const above = o.path.length <= path.length && o.path.every((s, i) => s === String(path[i]));
    if (above && (!best || o.path.length >= best.path.length)) best = o;
  }
  return best;
}

/**
 * One UserError for a problem, pointing at the place its value came from. Among the fields a problem involves, a
 * swept one is named first: it is what makes this point differ from the others. Then one set by a flag, then the file.
 */
function located(y: LayeredSource, p: Problem, overrides: Override[], point: PointLabel, static_ = false): UserError {
  // A point-dependent problem outside any sweep value still needs to say which point it is in.
  const context = !static_ && Object.keys(point.params).length ? ` (sweep point ${point.id}: ${paramText(point.params)})` : '';
  const paths = [p.path, ...(p.also ?? [])];
  const held = paths.map((path) => ({ path, o: holder(path, overrides) }));
  const pick = held.find((h) => h.o?.fromSweep) ?? held.find((h) => h.o);
  if (pick?.o) return new UserError(p.message + (pick.o.fromSweep ? '' : context), pick.o.where(pick.path.slice(pick.o.path.length)));
  return new UserError(p.message + context, y.where(p.path));
}

/** Writes `value` at `path`, making missing maps on the way; returns the path of a non-map in the way, if any. */
function setIn(data: Record<string, unknown>, path: string[], value: unknown): Path | undefined {
  let cur = data;
  for (const [i, seg] of path.entries()) {
    if (i === path.length - 1) {
      cur[seg] = structuredClone(value);
      return undefined;
    }
    const next = cur[seg];
    if (next === undefined || next === null) cur[seg] = {};
    else if (!isMapValue(next)) return path.slice(0, i + 1);
    cur = cur[seg] as Record<string, unknown>;
  }
  return undefined;
}

/**
 * Why a value cannot be set at `path` in `data`, when the path goes into one form of a field that takes several (the
 * diurnal form of workload.rate: workload.rate.diurnal.meanRate) and the field holds another (a constant, or steps):
 * setting it would mix two forms. Undefined when the path goes into the form the field holds, or the field is unset.
 */
function otherFormProblem(data: Record<string, unknown>, path: string[]): { field: Path; message: string } | undefined {
  for (let i = 1; i < path.length; i++) {
    const field = path.slice(0, i);
    const name = field.join('.');
    const forms = fieldForms(name);
    const here = valueAt(data, field);
    if (forms === undefined || here === undefined || here === null) continue;
    const form = forms.find((keys) => keys.includes(path[i]!)) ?? [];
    if (isMapValue(here) && Object.keys(here).every((k) => form.includes(k))) continue;
    const holds = isMapValue(here) ? `{ ${Object.keys(here).join(', ')} }` : describe(here);
    return { field, message: `${path.join('.')} is in the { ${form.join(', ')} } form of ${name}, but ${name} is ${holds} here; set ${name} whole to change its form` };
  }
  return undefined;
}

function buildPoint(
  y: LayeredSource,
  base: Record<string, unknown>,
  overrides: Override[],
  catalog: Catalog,
  point: PointLabel,
  traceChecks: Map<string, string | undefined>,
): Experiment {
  const data = structuredClone(base);
  for (const o of overrides) {
    const mixed = otherFormProblem(data, o.path);
    // The same at every point unless a sweep gives the field its form.
    if (mixed) throw located(y, { path: o.path, message: mixed.message }, overrides, point, !holder(mixed.field, overrides)?.fromSweep);
    const blocked = setIn(data, o.path, o.value);
    if (blocked) {
      throw located(y, { path: blocked, message: `expected a map (to set ${o.path.join('.')} in), got ${describe(valueAt(data, blocked))}` }, overrides, point);
    }
  }

  const r = experimentFileSchema.safeParse(data);
  if (!r.success) {
    const issues = r.error.issues;
    const found = sortProblems(zodProblems(issues, experimentFileSchema, data), y);
    const first = found[0];
    if (!first) throw new InvariantError('zod failed with no issues');
    // An unknown key is wrong whatever the sweep values are; naming a point would only distract.
    const static_ = issues.every((i) => i.code === 'unrecognized_keys');
    throw located(y, { ...first, message: first.message + moreSuffix(found.length - 1) }, overrides, point, static_);
  }

  const checked = checkAgainstCatalog(r.data, catalog);
  if ('message' in checked) throw located(y, checked, overrides, point);
  // A relative trace path is read from the directory of the file that wrote it (a sweep entry's, an extended file's).
  const tracePath: Path = ['workload', 'trace', 'path'];
  const traceFile = holder(tracePath, overrides)?.file ?? y.owner(tracePath).file;
  const experiment = toExperiment(r.data, checked, y.file, traceFile);
  const trace = experiment.workload.trace;
  if (trace) {
    const problem = traceStartProblem(trace.format, trace.path, traceChecks);
    if (problem) throw located(y, { path: tracePath, message: problem }, overrides, point);
  }
  return experiment;
}

/**
 * What is wrong at the start of a trace file, if anything: it does not exist, is a directory, is empty, has no rows,
 * or its header or first row is bad (the message names the trace's own file, line, row and field). Reading one
 * record costs one chunk of the file, so every point can afford it (and each file is read once per load); a bad row
 * further on is found when the point replays it.
 */
function traceStartProblem(format: TraceFormat, path: string, cache: Map<string, string | undefined>): string | undefined {
  const key = `${format}\u0000${path}`;
  if (cache.has(key)) return cache.get(key);
  const problem = traceFileProblem(format, path);
  cache.set(key, problem);
  return problem;
}

function traceFileProblem(format: TraceFormat, path: string): string | undefined {
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(path, { throwIfNoEntry: false });
  } catch (err) {
    // A name the file system cannot hold (ENAMETOOLONG), a path through a file (ENOTDIR), one we may not search.
    return `cannot use the trace path ${quoted(path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  if (!st) return `trace file not found: ${path} (a relative path is read from the experiment file's directory)`;
  if (st.isDirectory()) return `'${shownPath(path)}' is a directory; expected a trace file`;
  if (!st.isFile()) return `'${shownPath(path)}' is ${st.isFIFO() ? 'a FIFO' : 'a device or other special file'}; expected a trace file (a regular file)`;
  try {
    new TraceReader(format, path).next();
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    return err.message;
  }
  return undefined;
}

/** A name usable as a directory, from the file name, when the file gives none. */
function nameFromFile(file: string): string {
  const stem = basename(file, extname(file)).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return stem || 'experiment';
}

/**
 * The validated file as the simulator's Experiment: zod's output (defaults applied, absent optional keys absent), with
 * what the loader resolves put over it: the ids the catalog resolved, a group's own hardware, vLLM's batch defaults on
 * the GPU, the defaults that depend on other fields, the release's expiry and the trace's absolute path. A field the
 * schema gains reaches the simulation without a change here. Keys come in the schema's order, so that the same
 * experiment always reads the same way (what hashes or compares experiments uses canonical JSON regardless).
 */
function toExperiment(d: ExperimentFile, recs: CatalogRecords, file: string, traceFile: string): Experiment {
  const { name, extends: _extends, sweep: _sweep, expect: _expect, ...fields } = d;
  const { deployment: dep, workload: w } = fields;
  const { kvLayout, speculative, ...engine } = dep.engine;
  // A group with hardware of its own says so (absent keys otherwise: the output of files without any is unchanged),
  // with vLLM's batch defaults on its GPU where the file leaves them unset and they differ from the deployment's.
  const group = (g: 'prefill' | 'decode' | 'aggregated'): WorkerGroup => {
    const { workers, tp, kvCacheDtype, dp, ep, allToAll } = dep[g];
    // Each only where the file gives it: files without them resolve as they always did.
    const extra = {
      ...(kvCacheDtype === undefined ? {} : { kvCacheDtype }),
      ...(dp === undefined ? {} : { dp }),
      ...(ep === undefined ? {} : { ep }),
      ...(allToAll === undefined ? {} : { allToAll }),
    };
    const own = recs.groups[g];
    if (!own) return { workers, tp, ...extra };
    const b = own.batchDefaults;
    const ownEngine = {
      ...(engine.maxNumBatchedTokens === undefined && b.maxNumBatchedTokens !== recs.batchDefaults.maxNumBatchedTokens ? { maxNumBatchedTokens: b.maxNumBatchedTokens } : {}),
      ...(engine.maxNumSeqs === undefined && b.maxNumSeqs !== recs.batchDefaults.maxNumSeqs ? { maxNumSeqs: b.maxNumSeqs } : {}),
    };
    return { workers, tp, node: own.node.id, gpu: own.gpu, ...extra, ...(Object.keys(ownEngine).length ? { engine: ownEngine } : {}) };
  };
  // The file's expiry, else the vLLM release's where its range states one, else (absent) the profile's.
  const expiry = dep.expiry ?? recs.releaseExpiry;
  return inSchemaOrder<Experiment>({
    name: name ?? nameFromFile(file),
    ...fields,
    deployment: {
      ...dep,
      model: recs.llm.id,
      gpu: recs.gpu,
      node: recs.node.id,
      connector: recs.connector,
      transport: recs.transport.id,
      prefill: group('prefill'),
      decode: group('decode'),
      aggregated: group('aggregated'),
      engine: {
        ...engine,
        maxNumBatchedTokens: engine.maxNumBatchedTokens ?? recs.batchDefaults.maxNumBatchedTokens,
        maxNumSeqs: engine.maxNumSeqs ?? recs.batchDefaults.maxNumSeqs,
        // HND, the default every reader assumes when the key is absent, stays absent: earlier outputs are unchanged.
        ...(kvLayout === 'HND' ? {} : { kvLayout }),
        // Off (null) is absent, as in a file that never names it.
        ...(speculative ? { speculative } : {}),
      },
      maxRetries: dep.maxRetries ?? (dep.failurePolicy === 'retry' ? DEFAULT_RETRIES : 0),
      ...(expiry === undefined ? {} : { expiry }),
    },
    workload: {
      ...w,
      // A trace is replayed whole unless capped: a silent cap of 100 records would misrepresent it.
      requests: w.requests ?? (w.kind === 'trace' ? 0 : DEFAULT_REQUESTS),
      // A trace brings its own lengths; 0 says "from the trace" where the file gave none.
      isl: { mean: w.isl?.mean ?? 0, stddev: w.isl?.stddev ?? 0 },
      osl: { mean: w.osl?.mean ?? 0, stddev: w.osl?.stddev ?? 0 },
      ...(w.trace === undefined ? {} : { trace: { ...w.trace, path: resolve(dirname(traceFile), w.trace.path) } }),
    },
  });
}
