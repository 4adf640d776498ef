/**
 * Shards: `nixlsim run --shard i/n` simulates a deterministic slice of a sweep's points (point k belongs to shard
 * (k mod n) + 1, so a sweep whose cost grows along its last dimension still spreads evenly) and writes a shard summary:
 * summary.json in the usual format plus a `shard: {index, count, points}` field (`points`: the whole sweep's count).
 * `nixlsim merge` checks that a set of shard directories is one complete run and joins them into the summary.json and
 * events.log an unsharded run writes, byte for byte.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { readInputText } from '../input.js';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { canonicalJson } from '../spec/canonical.js';
import { buildSummary, SUMMARY_FILE, SUMMARY_SCHEMA_VERSION, type Summary } from '../spec/summary.js';
import { pointId } from './load.js';
import { shownPath } from './yaml-errors.js';
import { JsonFile } from '../yaml/json-file.js';
import type { Catalog } from '../spec/catalog.js';
import type { Point, PointResult } from '../spec/experiment.js';

export const EVENTS_LOG_FILE = 'events.log';

/** A point's id as expandPoints gives it (load.ts): p000, p001, ... */
export { pointId };

/** Which slice: shard `index` (1-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/** What a shard summary records about its slice. */
export interface ShardInfo extends Shard {
  /** Points in the whole sweep (all shards together). */
  points: number;
  /** runFingerprint of the whole run: shards with different fingerprints are slices of different runs. */
  fingerprint: string;
}

export interface ShardSummary extends Summary {
  shard: ShardInfo;
}

/** `--shard i/n`: whole numbers, 1 <= i <= n. */
export function parseShard(text: unknown): Shard {
  const s = String(text).trim();
  const m = /^(\d+)\s*\/\s*(\d+)$/.exec(s);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    throw new UserError(`--shard must be i/n with whole numbers 1 <= i <= n (e.g. --shard 2/4), got '${s}'`);
  }
  return { index, count };
}

/** SHA-256 of a file read in 1 MiB pieces: a trace has no size bound and is never held whole. */
function fileSha256(path: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * What a run simulates, as a SHA-256 of its canonical JSON: every point's resolved experiment (after `--set`,
 * `--seed`, `extends` and defaults), the Monte Carlo sample count, and the catalog entries it ran on. A trace is
 * represented by its bytes, not its path, so shards run in different checkouts of the same files still join. Two
 * shards whose fingerprints differ come from runs that would not give the same summary, whatever their names and seeds.
 */
export function runFingerprint(points: readonly Point[], samples: number, catalog: Catalog): string {
  const traceHashes = new Map<string, string>();
  const traceHash = (path: string): string => {
    let h = traceHashes.get(path);
    if (h === undefined) {
      h = fileSha256(path);
      traceHashes.set(path, h);
    }
    return h;
  };
  // Maps as objects and a trace by its bytes; then canonicalJson sorts every map's keys.
  const replacer = function (this: unknown, key: string, value: unknown): unknown {
    if (value instanceof Map) return Object.fromEntries(value);
    if (key === 'path' && typeof value === 'string' && isObject(this) && typeof this['format'] === 'string') return `sha256:${traceHash(value)}`;
    return value;
  };
  const plain: unknown = JSON.parse(JSON.stringify({ points: points.map((p) => ({ id: p.id, experiment: p.experiment })), samples, catalog }, replacer));
  const doc = canonicalJson(plain);
  return createHash('sha256').update(doc).digest('hex');
}

/** The indices of the points (of `total`) that belong to a shard: k with k mod count = index - 1, ascending. */
export function shardIndices(total: number, shard: Shard): number[] {
  const out: number[] = [];
  for (let k = shard.index - 1; k < total; k += shard.count) out.push(k);
  return out;
}

/** The shard point k belongs to (1-based). */
export function shardOf(k: number, count: number): number {
  return (k % count) + 1;
}

/** The default report directory of a shard under a run's: shard-2-of-4. */
export function shardDirName(shard: Shard): string {
  return `shard-${shard.index}-of-${shard.count}`;
}

/**
 * The shard summary's exact text: summaryJson's canonical form with the shard field after seed, so that the points
 * stay last (and unchanged: merge hands them back to buildSummary).
 */
export function shardSummaryJson(summary: Summary, shard: ShardInfo): string {
  const s = buildSummary(summary.experiment, summary.seed, summary.points);
  const out: ShardSummary = {
    schemaVersion: s.schemaVersion,
    experiment: s.experiment,
    seed: s.seed,
    shard: { index: shard.index, count: shard.count, points: shard.points, fingerprint: shard.fingerprint },
    points: s.points,
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------------------------------
// events.log as blocks, one per point

/** The block a point's lines form in events.log: `# <id> <params>: N events` then its lines, then an empty line. */
export function logBlock(header: string, lines: readonly string[]): string {
  return [header, ...lines, ''].join('\n');
}

/** events.log's text from its blocks in point order (the same text run writes: blocks joined by newlines). */
export function logText(blocks: readonly string[]): string {
  return blocks.join('\n');
}

/** An events.log split back into its blocks, each with the id of its point. */
export function splitLog(text: string): { id: string; block: string }[] {
  const lines = text.split('\n');
  const out: { id: string; lines: string[] }[] = [];
  for (const line of lines) {
    if (line.startsWith('# ')) {
      out.push({ id: /^# ([^\s:]+)/.exec(line)?.[1] ?? '', lines: [line] });
    } else if (out.length > 0) {
      out[out.length - 1]!.lines.push(line);
    } else if (line !== '') {
      return [{ id: '', block: text }]; // lines before any header: not a log run wrote
    }
  }
  return out.map((b) => ({ id: b.id, block: b.lines.join('\n') }));
}

// ---------------------------------------------------------------------------------------------------------------------
// Merging

export interface ShardDir {
  dir: string;
  summary: ShardSummary;
  /** events.log's text, if the directory holds one. */
  log?: string;
}

export interface Merged {
  summary: Summary;
  /** The joined events.log, when the shards wrote theirs. */
  log?: string;
  shards: ShardDir[];
}

/** The fields of a point result merge relies on (src/spec/summary.ts rebuilds each point from them). */
const POINT_FIELDS: [string, 'string' | 'number' | 'object'][] = [
  ['id', 'string'], ['params', 'object'], ['requests', 'object'], ['ttftMs', 'object'], ['itlMs', 'object'], ['e2eMs', 'object'],
  ['queueMs', 'object'], ['kvTransfer', 'object'], ['kvTransfer.ms', 'object'], ['throughput', 'object'], ['utilisation', 'object'],
  ['utilisation.workers', 'object'], ['utilisation.kvPoolPeak', 'object'], ['utilisation.links', 'object'], ['events', 'object'],
  ['durationS', 'number'],
];

/** The first field of POINT_FIELDS a point lacks (or has of another kind), if any, and where it would be. */
function missingField(p: unknown): { why: string; path?: string[] } | undefined {
  if (!isObject(p)) return { why: 'it is not a map' };
  for (const [path, kind] of POINT_FIELDS) {
    const v = path.split('.').reduce<unknown>((o, k) => (isObject(o) ? o[k] : undefined), p);
    if (kind === 'object' ? !isObject(v) : typeof v !== kind) return { why: `no ${path}`, path: path.split('.') };
  }
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isCount = (v: unknown, min: number): v is number => Number.isSafeInteger(v) && (v as number) >= min;

/**
 * Reads and checks one shard directory: summary.json with a shard field, and events.log if present. A mistake inside
 * summary.json is reported at its line, column and field.
 */
export function readShardDir(dir: string): ShardDir {
  const where = `'${shownPath(dir)}'`;
  const file = join(dir, SUMMARY_FILE);
  if (!existsSync(file)) throw new UserError(`${where} holds no ${SUMMARY_FILE}: give the --out directory of each \`nixlsim run --shard i/n\``);
  const j = new JsonFile(file, 'shard summary.json written by `nixlsim run --shard i/n`');
  const data = j.data;
    const notSummary = (path: (string | number)[], expected: string, v: unknown) =>
    j.error(path, `${v === undefined ? `missing; expected ${expected}` : `expected ${expected}, got ${JSON.stringify(v)}`}: this ${SUMMARY_FILE} is not a nixlsim summary of schemaVersion ${SUMMARY_SCHEMA_VERSION}`);
  if (!isObject(data)) throw j.error([], `expected a JSON object: this ${SUMMARY_FILE} is not a nixlsim summary`);
  if (data['schemaVersion'] !== SUMMARY_SCHEMA_VERSION) throw notSummary(['schemaVersion'], String(SUMMARY_SCHEMA_VERSION), data['schemaVersion']);
  if (typeof data['experiment'] !== 'string') throw notSummary(['experiment'], "the experiment's name", data['experiment']);
  if (!isCount(data['seed'], 0)) throw notSummary(['seed'], 'a whole number >= 0', data['seed']);
  if (!Array.isArray(data['points'])) throw notSummary(['points'], 'a list of point results', data['points']);
  const shard = data['shard'];
  if (shard === undefined) throw j.error(['shard'], `missing: this ${SUMMARY_FILE} is not a shard's but a whole run's, nothing to merge`);
  if (!isObject(shard) || !isCount(shard['count'], 1) || !isCount(shard['index'], 1) || (shard['index'] as number) > (shard['count'] as number) || !isCount(shard['points'], 0)) {
    throw j.error(['shard'], `malformed: expected {index, count, points, fingerprint} with 1 <= index <= count, got ${JSON.stringify(shard)}`);
  }
  if (typeof shard['fingerprint'] !== 'string' || !/^[0-9a-f]{64}$/.test(shard['fingerprint'])) {
    throw j.error(['shard', 'fingerprint'], `expected the run's 64-hex-digit fingerprint, got ${JSON.stringify(shard['fingerprint'])}: written by an older nixlsim? run the shards again`);
  }
  for (const [i, p] of (data['points'] as unknown[]).entries()) {
    const lacks = missingField(p);
    if (lacks) throw j.error(['points', i, ...(lacks.path ?? [])], `not a point result (${lacks.why})`);
  }
  const logFile = join(dir, EVENTS_LOG_FILE);
  const out: ShardDir = { dir, summary: data as unknown as ShardSummary };
  if (existsSync(logFile)) out.log = readInputText(logFile, 'shard events.log');
  return out;
}

const label = (s: ShardDir): string => `shard ${s.summary.shard.index}/${s.summary.shard.count} in '${shownPath(s.dir)}'`;

/**
 * Joins the shards of one run: every shard exactly once, all of the same experiment, seed, shard count and sweep size,
 * each holding exactly its points. The result is what the unsharded run writes. Any mismatch is a UserError naming
 * the directory.
 */
export function mergeShards(dirs: readonly string[]): Merged {
  if (dirs.length === 0) throw new UserError('merge needs the directories of the shards to join');
  const shards = dirs.map(readShardDir);
  const first = shards[0]!;
  const f = first.summary;
  for (const s of shards.slice(1)) {
    const d = s.summary;
    const mismatch =
      d.experiment !== f.experiment ? `experiment '${d.experiment}', not '${f.experiment}'`
      : d.seed !== f.seed ? `seed ${d.seed}, not ${f.seed}`
      : d.shard.count !== f.shard.count ? `${d.shard.count} shards, not ${f.shard.count}`
      : d.shard.points !== f.shard.points ? `a sweep of ${d.shard.points} points, not ${f.shard.points} (different --set flags?)`
      : undefined;
    if (mismatch) throw new UserError(`'${shownPath(s.dir)}' holds ${mismatch} as in '${shownPath(first.dir)}': shards of different runs`);
  }
  checkSameSamples(shards);
  // Last, the fingerprint: anything else that differs (a --set, a file, the catalog), once the differences that can be
  // named (seed, shard count, sweep size, sample count) have been.
  for (const s of shards.slice(1)) {
    const d = s.summary.shard.fingerprint;
    const want = f.shard.fingerprint;
    if (d !== want) {
      throw new UserError(`'${shownPath(s.dir)}' holds fingerprint ${d.slice(0, 12)}…, not ${want.slice(0, 12)}… (the resolved experiment differs: other --set flags, files or catalog) as in '${shownPath(first.dir)}': shards of different runs`);
    }
  }
  const { count, points: total } = f.shard;
  const byIndex = new Map<number, ShardDir>();
  for (const s of shards) {
    const other = byIndex.get(s.summary.shard.index);
    if (other) throw new UserError(`'${shownPath(s.dir)}' and '${shownPath(other.dir)}' both hold shard ${s.summary.shard.index}/${count}`);
    byIndex.set(s.summary.shard.index, s);
  }
  const absent = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
  if (absent.length > 0) {
    throw new UserError(`shard${absent.length > 1 ? 's' : ''} ${absent.map((i) => `${i}/${count}`).join(', ')} of experiment '${f.experiment}' missing (given: ${shards.map(label).join(', ')})`);
  }

  // Each shard holds exactly its points, in order.
  const results = new Array<PointResult>(total);
  for (const s of shards) {
    const want = shardIndices(total, s.summary.shard);
    const got = s.summary.points.map((p) => p.id);
    const wantIds = want.map((k) => pointId(k, total));
    if (got.length !== want.length || got.some((id, i) => id !== wantIds[i])) {
      throw new UserError(`'${shownPath(s.dir)}': shard ${s.summary.shard.index}/${count} of ${total} points should hold ${idList(wantIds)}, but holds ${idList(got)}`);
    }
    want.forEach((k, i) => (results[k] = s.summary.points[i]!));
  }

  // events.log: every shard with points has one, or none has.
  const withPoints = shards.filter((s) => s.summary.points.length > 0);
  const logged = withPoints.filter((s) => s.log !== undefined);
  let log: string | undefined;
  if (logged.length > 0) {
    const unlogged = withPoints.find((s) => s.log === undefined);
    if (unlogged) throw new UserError(`'${shownPath(unlogged.dir)}' holds no ${EVENTS_LOG_FILE}, but '${shownPath(logged[0]!.dir)}' does: shards of different runs, or an incomplete one`);
    const blocks = new Array<string>(total);
    for (const s of withPoints) {
      const split = splitLog(s.log!);
      const ids = s.summary.points.map((p) => p.id);
      if (split.length !== ids.length || split.some((b, i) => b.id !== ids[i])) {
        throw new UserError(`'${shownPath(s.dir)}': ${EVENTS_LOG_FILE} does not hold one block per point of its ${SUMMARY_FILE} (${idList(ids)}), but ${idList(split.map((b) => b.id))}`);
      }
      shardIndices(total, s.summary.shard).forEach((k, i) => (blocks[k] = split[i]!.block));
    }
    log = logText(blocks);
  }
  return { summary: buildSummary(f.experiment, f.seed, results), ...(log !== undefined ? { log } : {}), shards };
}

/** Monte Carlo samples a point was run with (`run --uncertainty n`), 0 without. */
const samplesOf = (p: PointResult): number => (isObject(p.bands) && typeof p.bands.samples === 'number' ? p.bands.samples : 0);

const uncertaintyText = (n: number): string => (n > 0 ? `--uncertainty ${n}` : 'no --uncertainty');

/**
 * Every point of every shard ran with the same number of Monte Carlo samples (or none): bands of 10 samples next to
 * bands of 1000, or next to none, are not one run. Merge keeps the bands as they are (a sample depends only on its
 * point, the seed and its number, so a shard's bands are the unsharded run's).
 */
function checkSameSamples(shards: readonly ShardDir[]): void {
  let first: { n: number; dir: string } | undefined;
  for (const s of shards) {
    for (const p of s.summary.points) {
      const n = samplesOf(p);
      if (!first) first = { n, dir: s.dir };
      else if (n !== first.n) {
        throw new UserError(`'${shownPath(s.dir)}' ran ${uncertaintyText(n)} (point ${p.id}), '${shownPath(first.dir)}' ${uncertaintyText(first.n)}: shards of different runs`);
      }
    }
  }
}

function idList(ids: readonly string[]): string {
  if (ids.length === 0) return 'no points';
  return ids.length <= 6 ? ids.join(', ') : `${ids.slice(0, 5).join(', ')}, ... ${ids[ids.length - 1]} (${ids.length} points)`;
}
