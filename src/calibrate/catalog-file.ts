import { Document, isMap } from 'yaml';
import { scaleDecimal } from '../catalog/load.js';
import { gpuFileSchema, idSchema, transportFileSchema } from '../catalog/schema.js';
import type { GpuSpec, TransportSpec } from '../spec/catalog.js';
import { InvariantError, UserError } from '../errors.js';
import type { Efficiency } from '../physics/index.js';
import type { FactorName } from './fit-gpu.js';

/**
 * The catalog records `nixlsim calibrate` writes: a copy of the base record in datasheet units (models/README.md)
 * with the fitted figures replaced, `calibratedFrom` naming the base (so that experiments can use it on the base's
 * nodes), and a source per fitted figure naming the input files and the fit. Each text is checked against the
 * catalog's own schema before it is returned, so a written file always loads.
 */

/** Significant digits kept of a fitted figure: more than any measurement supports. */
const DIGITS = 4;
const sig = (x: number): number => Number(x.toPrecision(DIGITS));

export function checkId(id: string, what: string): void {
  const r = idSchema.safeParse(id);
  if (!r.success) throw new UserError(`${what}: '${id}' is not a catalog id (lowercase letters, digits, dots and dashes; the file name is the id)`);
}

export function gpuRecordText(base: GpuSpec, id: string, eff: Efficiency, fitted: readonly FactorName[], sources: Record<string, string>, header: string): string {
  checkId(id, 'gpu id');
  const factor = (f: FactorName) => {
    const range = base.efficiency[f];
    const value = fitted.includes(f) ? Math.min(range.max, Math.max(range.min, sig(eff[f]))) : range.value;
    return { value, min: range.min, max: range.max };
  };
  const record = {
    id,
    name: `${base.name} (calibrated)`,
    calibratedFrom: base.calibratedFrom ?? base.id,
    bf16Tflops: scaleDecimal(base.flops.bf16, -12),
    fp8Tflops: base.flops.fp8 === null ? null : scaleDecimal(base.flops.fp8, -12),
    hbmGB: scaleDecimal(base.hbmBytes, -9),
    hbmTBps: scaleDecimal(base.hbmBandwidth, -12),
    nvlinkGBps: scaleDecimal(base.nvlinkBandwidth, -9),
    hostLink: {
      name: base.hostLink.name,
      GBps: scaleDecimal(base.hostLink.bandwidth, -9),
      copyGBps: scaleDecimal(base.hostLink.copyBandwidth, -9),
      duplexGBps: scaleDecimal(base.hostLink.duplexBandwidth, -9),
    },
    efficiency: {
      prefillCompute: factor('prefillCompute'),
      decodeMemory: factor('decodeMemory'),
      stepOverheadS: factor('stepOverheadS'),
      eagerLayerOverheadS: factor('eagerLayerOverheadS'),
      piecewiseLayerOverheadS: factor('piecewiseLayerOverheadS'),
      allReduceLatencyS: factor('allReduceLatencyS'),
      connectorStepOverheadS: factor('connectorStepOverheadS'),
    },
    vllmBatchDefaults: { ...base.vllmBatchDefaults },
    sources: { ...base.sources, ...sources },
  };
  return checked(record, gpuFileSchema, header);
}

export function transportRecordText(
  base: TransportSpec,
  id: string,
  fit: { latencyS: number; bandwidthPerRail: number; perReadS?: number; perDescriptorS?: number },
  sources: Record<string, string>,
  header: string,
): string {
  checkId(id, 'transport id');
  const gb = (x: number) => scaleDecimal(x, -9);
  const typical = sig(gb(fit.bandwidthPerRail));
  const placements = Object.fromEntries(base.placements.map((p) => [p.placement, p.reason === undefined ? { outcome: p.outcome } : { outcome: p.outcome, reason: p.reason }]));
  const record = {
    id,
    name: `${base.name} (calibrated)`,
    calibratedFrom: base.calibratedFrom ?? base.id,
    backend: base.backend,
    // The measured figure is typical; the range widens to hold it.
    bandwidthPerRailGBps: { min: Math.min(gb(base.bandwidthPerRail.min), typical), typical, max: Math.max(gb(base.bandwidthPerRail.max), typical) },
    striped: base.striped,
    // Multi-node NVLink stays inside its NVLink domain whoever measured it.
    ...(base.nvlinkDomainOnly ? { nvlinkDomainOnly: true } : {}),
    latencyUs: sig(scaleDecimal(fit.latencyS, 6)),
    perReadUs: fit.perReadS !== undefined ? sig(fit.perReadS * 1e6) : scaleDecimal(base.perReadS, 6),
    perDescriptorUs: fit.perDescriptorS !== undefined ? sig(fit.perDescriptorS * 1e6) : scaleDecimal(base.perDescriptorS, 6),
    gpuDirect: base.gpuDirect,
    railRule: { ...base.railRule },
    ...(base.lineRateShare !== 1 ? { lineRateShare: base.lineRateShare } : {}),
    ...(base.eagainRetry !== undefined
      ? {
          eagainRetry: {
            baseDelayUs: scaleDecimal(base.eagainRetry.baseDelayS, 6),
            maxDelayUs: scaleDecimal(base.eagainRetry.maxDelayS, 6),
            logEveryAttempts: base.eagainRetry.logEveryAttempts,
            line: base.eagainRetry.line,
          },
        }
      : {}),
    placements,
    // A calibrated record's per-descriptor figure is fitted (or carried), not the base's spread: the range stays behind.
    sources: { ...Object.fromEntries(Object.entries(base.sources).filter(([k]) => !k.startsWith('perDescriptorUsRange'))), ...sources },
  };
  return checked(record, transportFileSchema, header);
}

function checked(record: Record<string, unknown>, schema: typeof gpuFileSchema | typeof transportFileSchema, header: string): string {
  const r = schema.safeParse(record);
  if (!r.success) throw new InvariantError(`calibrate built a catalog record its own schema rejects: ${r.error.message}`);
  const comments = header
    .split('\n')
    .map((l) => `# ${l}`.trimEnd())
    .join('\n');
  // The layout of the hand-written records: small maps of figures on one line, `{ value: 0.6, min: 0.3, max: 0.85 }`.
  const doc = new Document(record);
  const flow = ['hostLink', 'bandwidthPerRailGBps', 'vllmBatchDefaults', 'eagainRetry', ...['efficiency', 'placements'].flatMap((k) => Object.keys((record[k] as object | undefined) ?? {}).map((c) => `${k}.${c}`))];
  for (const path of flow) {
    const node = doc.getIn(path.split('.'), true);
    if (isMap(node)) node.flow = true;
  }
  return `${comments}\n${doc.toString({ lineWidth: 0 })}`;
}
