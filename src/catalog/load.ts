/**
 * Reads models/ into a Catalog: each YAML file is parsed with positions kept, validated against schema.ts, checked for a
 * source behind every number, converted from datasheet units to SI, and cross-checked (a node's GPU and transports must
 * exist). Every mistake becomes one UserError naming file:line:col and the field, so a catalog edit never ends in a
 * stack trace.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InvariantError, UserError } from '../errors.js';
import { shownPath, valueAt, YamlSource, type Path } from '../yaml/positions.js';
import { allowedKeys } from '../yaml/schema-keys.js';
import {
  allToAllFileSchema,
  connectorFileSchema,
  gpuFileSchema,
  llmFileSchema,
  nodeFileSchema,
  transportFileSchema,
  type AllToAllFile,
  type ConnectorFile,
  type GpuFile,
  type LlmFile,
  type NodeFile,
  type TransportFile,
} from './schema.js';
import { unknownNameMessage } from './suggest.js';
import { readSnapshot, writeSnapshot } from './snapshot.js';
import type { AllToAllSpec, Catalog, ConnectorError, ConnectorProfile, GpuSpec, LlmSpec, NodeSpec, Placement, PlacementRule, TransportFallback, TransportSpec } from '../spec/catalog.js';
import { readInputText } from '../input.js';

/** The subdirectories of a catalog directory, one per record kind. */
export const CATALOG_KINDS = ['llm', 'gpu', 'node', 'transport', 'connector', 'all-to-all'] as const;
export type CatalogKind = (typeof CATALOG_KINDS)[number];

// ---------------------------------------------------------------------------------------------------------------------
// Where the catalog lives

/**
 * The project root: the nearest ancestor of this module holding package.json. Walking up (rather than a fixed '../..')
 * keeps it right both from src/catalog under vitest and from dist/src/catalog after tsc.
 */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new InvariantError(`no package.json above ${fileURLToPath(import.meta.url)}: nixlsim is installed incompletely`);
    dir = up;
  }
}

export function defaultModelsDir(): string {
  return join(projectRoot(), 'models');
}

// ---------------------------------------------------------------------------------------------------------------------
// Validation messages

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `string '${v}'`;
  return `${typeof v} ${String(v)}`;
}

interface Problem {
  path: Path;
  message: string;
  /** A required key that is absent: often the echo of a misspelt key, so reported after everything else. */
  missing?: boolean;
}

/** Zod issues in words that tell the user what to write instead. */
function problems(issues: z.core.$ZodIssue[], schema: z.ZodType, data: unknown): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
    const got = valueAt(data, path);
    const missing = got === undefined;
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          out.push({ path: [...path, key], message: unknownNameMessage('key', key, allowedKeys(schema, path, data)) });
        }
        break;
      case 'invalid_type':
        out.push({ path, missing, message: missing ? `missing; expected ${issue.expected}` : `expected ${issue.expected}, got ${describe(got)}` });
        break;
      case 'invalid_value': {
        const expected = `one of ${issue.values.map((v) => `'${String(v)}'`).join(', ')}`;
        out.push({ path, missing, message: missing ? `missing; expected ${expected}` : `expected ${expected}, got ${describe(got)}` });
        break;
      }
      case 'invalid_union': {
        const options = (issue as { options?: unknown[] }).options;
        const expected = options ? `one of ${options.map((v) => `'${String(v)}'`).join(', ')}` : 'a different value';
        out.push({ path, missing, message: missing ? `missing; expected ${expected}` : `expected ${expected}, got ${describe(got)}` });
        break;
      }
      case 'custom':
        out.push({ path, message: issue.message });
        break;
      default:
        out.push({ path, message: `${issue.message}${missing ? '' : `, got ${describe(got)}`}` });
    }
  }
  return out;
}

function parseRecord<S extends z.ZodType>(y: YamlSource, schema: S): { data: z.output<S>; raw: unknown } {
  y.checkSyntax();
  const raw: unknown = y.toJS();
  if (raw === null || raw === undefined) y.fail([], 'empty file; expected a map of fields (id, name, ..., sources)');
  const r = schema.safeParse(raw);
  if (!r.success) {
    // First in the file, except that a missing key waits behind an unknown one: `hbmTbps: 3` should be reported as
    // "unknown key 'hbmTbps'; did you mean 'hbmTBps'?", not as "hbmTBps: missing" on the line of the parent map.
    const found = problems(r.error.issues, schema, raw).sort(
      (a, b) => Number(a.missing ?? false) - Number(b.missing ?? false) || y.offsetOf(a.path) - y.offsetOf(b.path),
    );
    const first = found[0];
    if (first) {
      const more = found.length > 1 ? ` (and ${found.length - 1} more problem${found.length > 2 ? 's' : ''} in this file)` : '';
      y.fail(first.path, first.message + more);
    }
  }
  return { data: r.data as z.output<S>, raw };
}

// ---------------------------------------------------------------------------------------------------------------------
// Sources: no number without a named origin

function numericFields(v: unknown, path: string[], out: string[][]): string[][] {
  if (typeof v === 'number' || v === null) out.push(path);
  else if (Array.isArray(v)) v.forEach((x, i) => numericFields(x, [...path, String(i)], out));
  else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) if (!(path.length === 0 && k === 'sources')) numericFields(x, [...path, k], out);
  }
  return out;
}

/**
 * Every number (and every null standing for "no such capability") needs a sources entry for itself or a parent key,
 * and every sources entry must name a real field, so a renamed field cannot leave its source behind unnoticed.
 */
function checkSources(y: YamlSource, raw: Record<string, unknown>, sources: Record<string, string>): void {
  for (const key of Object.keys(sources)) {
    const segs = key.split('.');
    if (key === 'sources' || segs[0] === 'sources' || valueAt(raw, segs) === undefined) {
      y.fail(['sources', key], `names no field of this record; expected a field path such as ${Object.keys(raw).filter((k) => k !== 'sources').slice(0, 3).join(', ')}`);
    }
  }
  for (const field of numericFields(raw, [], [])) {
    const covered = field.some((_, i) => sources[field.slice(0, i + 1).join('.')] !== undefined);
    if (!covered) {
      y.fail(field, `has no source; add 'sources: {${field.join('.')}: "<datasheet, config.json URL, seed section, or 'estimate: ...; calibration parameter'>"}'`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Datasheet units -> SI

/**
 * x * 10^exp computed on the decimal digits, so 50 us is exactly 5e-5 s and 3.35 TB/s exactly 3.35e12 B/s (binary
 * multiplication would give 4.9999999999999996e-5 and make hand-worked test values fail to match).
 */
export function scaleDecimal(x: number, exp: number): number {
  const [mantissa, e] = x.toExponential().split('e');
  return Number(`${mantissa}e${Number(e) + exp}`);
}

const GIGA = 9;
const TERA = 12;
const MICRO = -6;

function toLlm(f: LlmFile): LlmSpec {
  const mla = f.attention === 'mla' ? { kvLoraRank: f.mla.kvLoraRank, ropeDim: f.mla.ropeDim } : undefined;
  return {
    id: f.id,
    name: f.name,
    hfRepo: f.hfRepo,
    attention: f.attention,
    layers: f.layers,
    hiddenSize: f.hiddenSize,
    heads: f.heads,
    // MLA caches one latent vector (plus the RoPE key) per token and layer: treat it as a single "head" so that the GQA
    // formula's per-head terms keep working, with the factor 2 (K and V) applied only by GQA code.
    kvHeads: f.attention === 'gqa' ? f.kvHeads : 1,
    headDim: f.attention === 'gqa' ? f.headDim : f.mla.kvLoraRank + f.mla.ropeDim,
    intermediateSize: f.intermediateSize,
    vocabSize: f.vocabSize,
    params: scaleDecimal(f.paramsB, GIGA),
    activeParams: scaleDecimal(f.activeParamsB, GIGA),
    weightDtype: f.weightDtype,
    kvDtype: f.kvDtype,
    maxContext: f.maxContext,
    ...(mla ? { mla } : {}),
    ...(f.moe !== undefined ? { moe: { ...f.moe } } : {}),
    ...(f.speculative !== undefined ? { speculative: structuredClone(f.speculative) } : {}),
    sources: { ...f.sources },
  };
}

/** A GPU's host link: the line rate, and the copy rates measured on it (the line rate, and twice the copy rate, when unmeasured). */
function hostLinkOf(l: GpuFile['hostLink']): GpuSpec['hostLink'] {
  const bandwidth = scaleDecimal(l.GBps, GIGA);
  const copyBandwidth = l.copyGBps === undefined ? bandwidth : scaleDecimal(l.copyGBps, GIGA);
  return { name: l.name, bandwidth, copyBandwidth, duplexBandwidth: l.duplexGBps === undefined ? 2 * copyBandwidth : scaleDecimal(l.duplexGBps, GIGA) };
}

function toGpu(f: GpuFile): GpuSpec {
  const factor = (x: { value: number; min: number; max: number }) => ({ value: x.value, min: x.min, max: x.max });
  return {
    id: f.id,
    name: f.name,
    flops: { bf16: scaleDecimal(f.bf16Tflops, TERA), fp8: f.fp8Tflops === null ? null : scaleDecimal(f.fp8Tflops, TERA) },
    hbmBytes: scaleDecimal(f.hbmGB, GIGA),
    hbmBandwidth: scaleDecimal(f.hbmTBps, TERA),
    nvlinkBandwidth: scaleDecimal(f.nvlinkGBps, GIGA),
    hostLink: hostLinkOf(f.hostLink),
    efficiency: {
      prefillCompute: factor(f.efficiency.prefillCompute),
      decodeMemory: factor(f.efficiency.decodeMemory),
      stepOverheadS: factor(f.efficiency.stepOverheadS),
      eagerLayerOverheadS: factor(f.efficiency.eagerLayerOverheadS),
      piecewiseLayerOverheadS: factor(f.efficiency.piecewiseLayerOverheadS),
      allReduceLatencyS: factor(f.efficiency.allReduceLatencyS),
      connectorStepOverheadS: factor(f.efficiency.connectorStepOverheadS),
    },
    vllmBatchDefaults: { ...f.vllmBatchDefaults },
    ...(f.calibratedFrom !== undefined ? { calibratedFrom: f.calibratedFrom } : {}),
    sources: { ...f.sources },
  };
}

function toNode(f: NodeFile): NodeSpec {
  return {
    id: f.id,
    name: f.name,
    gpu: f.gpu,
    gpusPerNode: f.gpusPerNode,
    nvlinkDomainGpus: f.nvlinkDomainGpus ?? f.gpusPerNode,
    // Gb/s are bits: divide by 8 (exact in binary) after the decimal scaling.
    nics: { kind: f.nics.kind, count: f.nics.count, bandwidth: scaleDecimal(f.nics.lineRateGbps, GIGA) / 8 },
    transports: [...f.transports],
    ...(f.allToAll !== undefined ? { allToAll: f.allToAll } : {}),
    sources: { ...f.sources },
  };
}

function toAllToAll(f: AllToAllFile): AllToAllSpec {
  const bw = (r: { ep: number; dispatchGBps: number; combineGBps: number }) => ({ ep: r.ep, dispatch: scaleDecimal(r.dispatchGBps, GIGA), combine: scaleDecimal(r.combineGBps, GIGA) });
  return {
    id: f.id,
    name: f.name,
    library: f.library,
    // Gb/s are bits: divide by 8 after the decimal scaling, as for a node's NICs.
    measuredOn: { gpu: f.measuredOn.gpu, nvlinkBandwidth: scaleDecimal(f.measuredOn.nvlinkGBps, GIGA), nicBandwidth: scaleDecimal(f.measuredOn.nicLineRateGbps, GIGA) / 8 },
    fp8BytesPerElement: f.fp8BytesPerElement,
    highThroughput: { intranode: bw(f.highThroughput.intranode), internode: f.highThroughput.internode.map(bw) },
    lowLatency: {
      tokensPerRank: f.lowLatency.tokensPerRank,
      points: f.lowLatency.points.map((p) => ({
        ep: p.ep,
        dispatchS: scaleDecimal(p.dispatchUs, MICRO),
        dispatchBandwidth: scaleDecimal(p.dispatchGBps, GIGA),
        combineS: scaleDecimal(p.combineUs, MICRO),
        combineBandwidth: scaleDecimal(p.combineGBps, GIGA),
      })),
    },
    sources: { ...f.sources },
  };
}

const PLACEMENTS: Placement[] = ['intra-pod', 'same-node', 'cross-node'];

function toTransport(f: TransportFile): TransportSpec {
  const bw = f.bandwidthPerRailGBps;
  return {
    id: f.id,
    name: f.name,
    backend: f.backend,
    bandwidthPerRail: { min: scaleDecimal(bw.min, GIGA), typical: scaleDecimal(bw.typical, GIGA), max: scaleDecimal(bw.max, GIGA) },
    striped: f.striped,
    latencyS: scaleDecimal(f.latencyUs, MICRO),
    perReadS: scaleDecimal(f.perReadUs, MICRO),
    perDescriptorS: scaleDecimal(f.perDescriptorUs, MICRO),
    ...(f.perDescriptorUsRange !== undefined
      ? { perDescriptorRange: { min: scaleDecimal(f.perDescriptorUsRange.min, MICRO), max: scaleDecimal(f.perDescriptorUsRange.max, MICRO) } }
      : {}),
    gpuDirect: f.gpuDirect,
    ...(f.nvlinkDomainOnly ? { nvlinkDomainOnly: true } : {}),
    railRule: f.railRule !== undefined ? { ...f.railRule } : { rule: 'gpu-nics' },
    lineRateShare: f.lineRateShare ?? 1,
    ...(f.eagainRetry !== undefined
      ? {
          eagainRetry: {
            baseDelayS: scaleDecimal(f.eagainRetry.baseDelayUs, MICRO),
            maxDelayS: scaleDecimal(f.eagainRetry.maxDelayUs, MICRO),
            logEveryAttempts: f.eagainRetry.logEveryAttempts,
            line: f.eagainRetry.line,
          },
        }
      : {}),
    placements: PLACEMENTS.map((placement): PlacementRule => {
      const p = f.placements[placement];
      return p.reason === undefined ? { placement, outcome: p.outcome } : { placement, outcome: p.outcome, reason: p.reason };
    }),
    ...(f.sideChannel ? { sideChannel: true } : {}),
    ...(f.fallbackWhen !== undefined ? { fallbackWhen: f.fallbackWhen } : {}),
    ...(f.display !== undefined ? { display: { colour: f.display.colour, shape: f.display.shape } } : {}),
    ...(f.calibratedFrom !== undefined ? { calibratedFrom: f.calibratedFrom } : {}),
    sources: { ...f.sources },
  };
}

/** Seconds stay seconds; error texts keep their placeholders for the code that raises them to fill in. */
function toConnector(f: ConnectorFile): ConnectorProfile {
  const err = (x: { error: string; message: string }): ConnectorError => ({ error: x.error, message: x.message });
  const e = f.errors;
  return {
    id: f.id,
    name: f.name,
    ...(f.default ? { default: true } : {}),
    upstream: [...f.upstream],
    tp: { decodeWider: f.tp.decodeWider, prefillWider: f.tp.prefillWider },
    // Optional entries are left out, not set to undefined, so --json output and toEqual comparisons see only real ones.
    errors: {
      ...(e.decodeWiderRejected ? { decodeWiderRejected: err(e.decodeWiderRejected) } : {}),
      ...(e.prefillWiderRejected ? { prefillWiderRejected: err(e.prefillWiderRejected) } : {}),
      ...(e.prefillWiderHandshake ? { prefillWiderHandshake: err(e.prefillWiderHandshake) } : {}),
      ...(e.prefillWiderFirstTransfer ? { prefillWiderFirstTransfer: err(e.prefillWiderFirstTransfer) } : {}),
      tpNotDivisible: err(e.tpNotDivisible),
      blockSizeMismatch: err(e.blockSizeMismatch),
      ...(e.blockSizePrefillWider ? { blockSizePrefillWider: err(e.blockSizePrefillWider) } : {}),
      ...(e.engineUnregistered ? { engineUnregistered: err(e.engineUnregistered) } : {}),
      compatHashMismatch: err(e.compatHashMismatch),
      handshakeTimeout: err(e.handshakeTimeout),
    },
    blockSize: { rule: f.blockSize.rule, equalWhenPrefillWider: f.blockSize.equalWhenPrefillWider },
    handshake: { timeoutS: f.handshake.timeoutS, onFailure: f.handshake.onFailure, prepPerDescriptorS: f.handshake.prepPerDescriptorS ?? 0 },
    kvLoadFailurePolicy: f.kvLoadFailurePolicy,
    ...(f.dataParallel === 'unsupported' ? { dataParallel: 'unsupported' as const } : {}),
    pipelineParallel: f.pipelineParallel ?? 'unsupported',
    expiry: toExpiry(f.expiry),
    ...(f.vllmReleases !== undefined
      ? {
          vllmReleases: f.vllmReleases.map((r, i) => ({
            versions: r.versions,
            ...(r.expiry !== undefined ? { expiry: toExpiry(r.expiry) } : {}),
            source: f.sources[`vllmReleases.${i}`] ?? '',
          })),
        }
      : {}),
    sources: { ...f.sources },
  };
}

function toExpiry(e: ConnectorFile['expiry']): ConnectorProfile['expiry'] {
  return e.kind === 'abort-timeout'
    ? { kind: 'abort-timeout', timeoutS: e.timeoutS }
    : { kind: 'lease', leaseS: e.leaseS, heartbeatS: e.heartbeatS, extendS: e.extendS };
}

/** The shared, cached catalog must not be edited in place by one caller behind another's back. */
function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------------------------------
// Loading

interface Loaded<T> {
  y: YamlSource;
  record: T;
}

function yamlFiles(dir: string, kind: CatalogKind): string[] {
  const sub = join(dir, kind);
  if (!existsSync(sub)) return [];
  // Sorted by id, not by file name: 'any-tp.yaml' sorts after 'any-tp-hardened.yaml' ('.' > '-'), the id before it.
  const id = (n: string) => n.replace(/\.ya?ml$/, '');
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const names = readdirSync(sub).sort((a, b) => cmp(id(a), id(b)) || cmp(a, b));
  const misnamed = names.find((n) => n.endsWith('.yml'));
  if (misnamed) throw new UserError(`catalog files end in .yaml; rename it to ${misnamed.replace(/\.yml$/, '.yaml')}`, shownPath(join(sub, misnamed)));
  return names.filter((n) => n.endsWith('.yaml')).map((n) => join(sub, n));
}

function loadKind<S extends z.ZodType, T extends { id: string }>(
  dir: string,
  kind: CatalogKind,
  schema: S,
  convert: (f: z.output<S>) => T,
): Map<string, Loaded<T>> {
  const out = new Map<string, Loaded<T>>();
  for (const file of yamlFiles(dir, kind)) {
    const y = new YamlSource(file, readInputText(file, 'catalog record'));
    const { data, raw } = parseRecord(y, schema);
    const record = data as z.output<S> & { id: string; sources: Record<string, string> };
    // The file name is the id so that `ls models/gpu` is the list of valid ids, and two files cannot claim one id.
    const expected = basename(file, '.yaml');
    if (record.id !== expected) y.fail(['id'], `id '${record.id}' must match the file name '${expected}.yaml'`);
    checkSources(y, raw as Record<string, unknown>, record.sources);
    out.set(record.id, { y, record: deepFreeze(convert(data)) });
  }
  return out;
}

function records<T>(m: Map<string, Loaded<T>>): Map<string, T> {
  return new Map([...m].map(([id, l]) => [id, l.record]));
}

/** Where a record of a loaded catalog came from: `nixlsim list` shows it. */
export interface RecordOrigin {
  /** The YAML file, absolute. */
  file: string;
  /** 'package': the base directory (the package's models/); 'user': a directory given with --catalog or NIXLSIM_CATALOG. */
  layer: 'package' | 'user';
  /** For a user record whose id the package also has: the package's file it replaces. */
  overrides?: string;
}

/** Records are frozen objects that only the loader makes, so a weak map keyed by them follows them wherever they go. */
const origins = new WeakMap<object, RecordOrigin>();

/** The file a catalog record was loaded from (undefined for a record made in code, such as a test's or a sample's). */
export function recordOrigin(record: object): RecordOrigin | undefined {
  return origins.get(record);
}

/**
 * Checks that a user catalog directory exists and is laid out like models/: a directory holding any of llm/, gpu/,
 * node/, transport/, connector/, all-to-all/. An empty directory is accepted (it adds nothing: `calibrate` may be about to fill
 * it); one holding other things but none of those is a mistake, most often the path of one kind's subdirectory.
 */
function checkUserDir(dir: string, root: string): void {
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(root, { throwIfNoEntry: false });
  } catch {
    st = undefined;
  }
  if (!st) throw new UserError(`user catalog directory '${dir}' not found${dir === root ? '' : ` (${root})`}; give a directory laid out like the package's models/: ${KIND_DIRS}`);
  if (!st.isDirectory()) throw new UserError(`user catalog '${dir}' is not a directory; give a directory laid out like the package's models/: ${KIND_DIRS}`);
  if (CATALOG_KINDS.some((k) => existsSync(join(root, k)))) return;
  const held = readdirSync(root).filter((n) => !n.startsWith('.'));
  if (held.length > 0) {
    const hint = (CATALOG_KINDS as readonly string[]).includes(basename(root)) ? `; give its parent, '${dirname(dir) || '.'}'` : '';
    throw new UserError(`'${dir}' is not a catalog directory: it holds none of the subdirectories ${KIND_DIRS} (it holds ${held.slice(0, 3).join(', ')}${held.length > 3 ? ', ...' : ''})${hint}`);
  }
}

const KIND_DIRS = CATALOG_KINDS.map((k) => `${k}/`).join(', ');

/**
 * Loads and validates a catalog directory (llm/, gpu/, node/, transport/, connector/, all-to-all/; a missing subdirectory is an empty
 * kind), then each of `userDirs` over it in turn, laid out the same way: a user record with the id of a base record
 * replaces it, a new id adds one. Two user directories may not both define an id (which one wins would depend on the
 * order they were given in). Every record is validated alike, and the cross-checks (a node's GPU and transports, a
 * calibration's base) run on the merged catalog, so a user's node may name the package's GPU and the other way round.
 * Throws UserError naming file:line:col and field for any mistake.
 */
export function loadCatalog(dir: string = defaultModelsDir(), userDirs: readonly string[] = []): Catalog {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new UserError(`catalog directory '${dir}' not found`);
  if (!CATALOG_KINDS.some((k) => existsSync(join(root, k)))) {
    throw new UserError(`'${dir}' is not a catalog directory: expected subdirectories ${KIND_DIRS}`);
  }
  const layers = [root];
  for (const u of userDirs) {
    const r = resolve(u);
    checkUserDir(u, r);
    // The package's own models/ given again, or one directory given twice, adds nothing.
    if (!layers.includes(r)) layers.push(r);
  }
  const base = new Map<string, string>();
  const merge = <S extends z.ZodType, T extends { id: string }>(kind: CatalogKind, schema: S, convert: (f: z.output<S>) => T): Map<string, Loaded<T>> => {
    const out = new Map<string, Loaded<T>>();
    const userFile = new Map<string, string>();
    for (const [i, r] of layers.entries()) {
      for (const [id, l] of loadKind(r, kind, schema, convert)) {
        const file = l.y.file;
        if (i === 0) {
          base.set(`${kind}/${id}`, file);
          origins.set(l.record, { file, layer: 'package' });
        } else {
          const other = userFile.get(id);
          if (other !== undefined) l.y.fail(['id'], `${kind} '${id}' is also defined in ${shownPath(other)}; two user catalogs may not define one id, so remove or rename one`);
          userFile.set(id, file);
          const overrides = base.get(`${kind}/${id}`);
          origins.set(l.record, { file, layer: 'user', ...(overrides !== undefined ? { overrides } : {}) });
        }
        out.set(id, l);
      }
    }
    // Sorted by id whichever layer a record came from: listings and "first node offering" defaults do not depend on it.
    return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  };
  const llms = merge('llm', llmFileSchema, toLlm);
  const gpus = merge('gpu', gpuFileSchema, toGpu);
  const transports = merge('transport', transportFileSchema, toTransport);
  const nodes = merge('node', nodeFileSchema, toNode);
  const connectors = merge('connector', connectorFileSchema, toConnector);
  const allToAll = merge('all-to-all', allToAllFileSchema, toAllToAll);
  for (const kind of [gpus, transports] as const) {
    for (const { y, record } of (kind as Map<string, Loaded<{ id: string; calibratedFrom?: string }>>).values()) {
      const base = record.calibratedFrom;
      if (base === undefined) continue;
      const what = kind === gpus ? 'gpu' : 'transport';
      if (base === record.id) y.fail(['calibratedFrom'], `a record cannot calibrate itself; name the ${what} it was calibrated from`);
      if (!kind.has(base)) y.fail(['calibratedFrom'], unknownNameMessage(what, base, kind.keys()));
    }
  }
  for (const { y, record: n } of nodes.values()) {
    if (!gpus.has(n.gpu)) y.fail(['gpu'], unknownNameMessage('gpu', n.gpu, gpus.keys()));
    n.transports.forEach((t, i) => {
      if (!transports.has(t)) y.fail(['transports', i], unknownNameMessage('transport', t, transports.keys()));
    });
    if (n.allToAll !== undefined && !allToAll.has(n.allToAll)) y.fail(['allToAll'], unknownNameMessage('all-to-all record', n.allToAll, allToAll.keys()));
  }
  const sideChannels = [...transports.values()].filter((l) => l.record.sideChannel);
  for (const { y } of sideChannels.slice(1)) {
    y.fail(['sideChannel'], `transport '${sideChannels[0]!.record.id}' is already the side channel; at most one transport record may set sideChannel`);
  }
  checkRoles(transports, connectors, root);
  return { llms: records(llms), gpus: records(gpus), nodes: records(nodes), transports: records(transports), connectors: records(connectors), allToAll: records(allToAll) };
}

/**
 * The roles records play for the whole catalog, checked on the merged records (a user's record may take a role from
 * the package's): one transport per fallbackWhen value, no colour or shape drawn for two transports, and exactly one
 * default connector profile wherever there are profiles. A second claimant is named at its field.
 */
function checkRoles(transports: Map<string, Loaded<TransportSpec>>, connectors: Map<string, Loaded<ConnectorProfile>>, root: string): void {
  const taken = new Map<string, string>();
  const claim = (y: YamlSource, path: Path, key: string, id: string, message: (other: string) => string): void => {
    const other = taken.get(key);
    if (other !== undefined) y.fail(path, message(other));
    taken.set(key, id);
  };
  for (const { y, record: t } of transports.values()) {
    const when = t.fallbackWhen;
    if (when !== undefined) claim(y, ['fallbackWhen'], `fallback:${when}`, t.id, (o) => `transport '${o}' is already the '${when}' fallback; at most one transport record may set fallbackWhen: ${when}`);
    const d = t.display;
    if (d === undefined) continue;
    claim(y, ['display', 'colour'], `colour:${d.colour}`, t.id, (o) => `transport '${o}' already has colour ${d.colour}; each transport needs its own, so charts tell them apart`);
    claim(y, ['display', 'shape'], `shape:${d.shape}`, t.id, (o) => `transport '${o}' already has shape '${d.shape}'; each transport needs its own, so charts tell them apart without colour`);
  }
  const defaults = [...connectors.values()].filter((l) => l.record.default);
  for (const { y } of defaults.slice(1)) {
    y.fail(['default'], `connector '${defaults[0]!.record.id}' (${shownPath(defaults[0]!.y.file)}) is already the default profile; exactly one connector record may set default: true`);
  }
  if (defaults.length === 0 && connectors.size > 0) {
    throw new UserError(
      `no connector profile sets default: true; exactly one must, the profile plan and breakeven use when none is named (a user record that replaces the default profile keeps default: true)`,
      shownPath(join(root, 'connector')),
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// The catalog of this process: the package's models/, with the user's directories over it

/** The user's catalog directories as given (--catalog DIR, or NIXLSIM_CATALOG), in order; none by default. */
let userDirs: readonly string[] = [];
let cached: Catalog | undefined;

/**
 * Sets the user's catalog directories that defaultCatalog() lays over the package's models/ (the CLI does, from
 * `--catalog` or NIXLSIM_CATALOG). Nothing is read until the catalog is needed; a directory that is missing is
 * reported then.
 */
export function useUserCatalog(dirs: readonly string[]): void {
  const next = [...dirs];
  if (next.length === userDirs.length && next.every((d, i) => d === userDirs[i])) return;
  userDirs = next;
  cached = undefined;
}

/** The user's catalog directories in use (as given), in order. */
export function userCatalogDirs(): readonly string[] {
  return userDirs;
}

/**
 * The catalog commands simulate against, loaded once per process: the project's own models/, with the user's
 * directories (useUserCatalog) over it.
 */
export function defaultCatalog(): Catalog {
  cached ??= (userDirs.length === 0 ? fromSnapshot(defaultModelsDir()) : undefined) ?? loadCatalog(defaultModelsDir(), userDirs);
  return cached;
}

/** Where the build keeps the package's catalog, loaded and validated (src/catalog/snapshot.ts). */
export function catalogSnapshotFile(): string {
  return join(projectRoot(), 'dist', 'catalog-snapshot.json');
}

/** Loads `dir` (the package's models/) and writes its snapshot: the build does, after compiling. */
export function writeCatalogSnapshot(file: string = catalogSnapshotFile(), dir: string = defaultModelsDir()): void {
  const catalog = loadCatalog(dir);
  writeSnapshot(file, resolve(dir), CATALOG_KINDS, catalog, (r) => origins.get(r)!.file);
}

/** The package's catalog from the build's snapshot, when models/ has not changed since; else undefined. */
export function fromSnapshot(dir: string, file: string = catalogSnapshotFile()): Catalog | undefined {
  return readSnapshot(file, resolve(dir), CATALOG_KINDS, (r, f) => {
    const record = deepFreeze(r);
    origins.set(record, { file: f, layer: 'package' });
    return record;
  });
}

// ---------------------------------------------------------------------------------------------------------------------
// Lookups: an unknown id is a user mistake, answered with the nearest known one

function lookup<T>(m: Map<string, T>, kind: string, id: string): T {
  const r = m.get(id);
  if (r === undefined) throw new UserError(unknownNameMessage(kind, id, m.keys()));
  return r;
}

export const getLlm = (c: Catalog, id: string): LlmSpec => lookup(c.llms, 'model', id);
export const getGpu = (c: Catalog, id: string): GpuSpec => lookup(c.gpus, 'gpu', id);
export const getNode = (c: Catalog, id: string): NodeSpec => lookup(c.nodes, 'node', id);
export const getTransport = (c: Catalog, id: string): TransportSpec => lookup(c.transports, 'transport', id);
export const getConnector = (c: Catalog, id: string): ConnectorProfile => lookup(c.connectors, 'connector', id);
export const getAllToAll = (c: Catalog, id: string): AllToAllSpec => lookup(c.allToAll, 'all-to-all record', id);

/**
 * The transport vLLM's NIXL side channel (the handshake's ZMQ messages) runs over: the record marked `sideChannel`
 * (models/transport/), or undefined when the catalog marks none.
 */
export function sideChannelTransport(c: Catalog): TransportSpec | undefined {
  for (const t of c.transports.values()) if (t.sideChannel) return t;
  return undefined;
}

/**
 * The transport playing a fallback role (`fallbackWhen` on its models/transport/ record): what the KV moves over when no
 * RDMA device is found, or when RDMA runs without GPUDirect. Undefined when the catalog marks none.
 */
export function fallbackTransport(c: Catalog, when: TransportFallback): TransportSpec | undefined {
  for (const t of c.transports.values()) if (t.fallbackWhen === when) return t;
  return undefined;
}

/** The connector profile commands use when none is named: the record marked `default: true` (models/connector/). */
export function defaultConnector(c: Catalog): ConnectorProfile {
  for (const p of c.connectors.values()) if (p.default) return p;
  throw new UserError(`no connector profile in the catalog is the default (default: true); name one (nixlsim list connectors: ${[...c.connectors.keys()].join(', ') || 'none'})`);
}

/** Whether a node offers a transport: it lists it, or the transport is a calibration of one it lists. */
export function nodeOffers(node: NodeSpec, transport: TransportSpec): boolean {
  return node.transports.includes(transport.id) || (transport.calibratedFrom !== undefined && node.transports.includes(transport.calibratedFrom));
}

/** Whether a node runs a GPU: it is the node's GPU, or a calibration of it (`nixlsim calibrate`). */
export function nodeHasGpu(node: NodeSpec, gpu: GpuSpec): boolean {
  return node.gpu === gpu.id || gpu.calibratedFrom === node.gpu;
}

/** The first node, by id, that offers a transport: the default where a command names a transport but no node. */
export function firstNodeOffering(c: Catalog, transport: string): NodeSpec {
  const t = c.transports.get(transport);
  for (const id of [...c.nodes.keys()].sort()) {
    const n = c.nodes.get(id)!;
    if (t ? nodeOffers(n, t) : n.transports.includes(transport)) return n;
  }
  throw new UserError(`no node in the catalog offers transport '${transport}'`);
}
