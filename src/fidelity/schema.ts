/**
 * The shape of a measurement file (models/measurements/<id>.yaml): published measurements, each a record naming the
 * metric of the model that should reproduce it. Objects are strict (a misspelt key is an error with a suggestion);
 * each leaf's message states what is expected, and the loader appends what it found (`expected a number > 0, got 0`).
 * Rules between fields (experiment or transfer, a point for a transfer file) and against the experiment and the
 * catalog live in load.ts.
 */
import { z } from 'zod';
import { BANDWIDTHS, PLACEMENTS, positive, whole } from '../experiment/schema.js';
import { COPY_DIRECTIONS } from '../serving/host-tier.js';
import { KV_LAYOUTS } from '../spec/experiment.js';

/** The families a record's error is averaged in (MAPE per family). */
export const FAMILIES = ['ttft', 'itl', 'throughput', 'transfer'] as const;
export type Family = (typeof FAMILIES)[number];

/** The fields of a transfer estimate a record may name (the `transfer --json` contract's numbers). */
export const TRANSFER_METRICS = ['ms', 'effectiveGBps', 'bytesTotal', 'bytesPerDecodeRank', 'reads', 'descriptors'] as const;

/** The fields of a host-copy estimate a record may name. */
export const COPY_METRICS = ['ms', 'effectiveGBps'] as const;

const text = () => z.string({ error: 'expected a non-empty string' }).min(1, { error: 'expected a non-empty string' });

const ID_MESSAGE = 'expected an id of letters, digits, dots, dashes and underscores';
const id = () => z.string({ error: ID_MESSAGE }).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: ID_MESSAGE });


function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.map((v) => `'${v}'`).join(', ')}` });
}

export const measurementRecordSchema = z.strictObject({
  id: id(),
  point: z.record(z.string(), z.unknown(), { error: 'expected a map from swept paths to values' }).optional(),
  metric: text(),
  family: oneOf(FAMILIES),
  measured: z.number({ error: 'expected a finite number' }).finite({ error: 'expected a finite number' }),
  unit: text(),
  tolerancePct: positive(),
  source: text().optional(),
  note: text().optional(),
  /** The value is the difference: this record's metric minus `minus.metric` of the `minus.point` point (experiment files). */
  minus: z
    .strictObject({
      point: z.record(z.string(), z.unknown(), { error: 'expected a map from swept paths to values' }).optional(),
      metric: text(),
    })
    .optional(),
  /** A transfer file's record may change fields of the file's transfer (e.g. the size of one nixlbench row). */
  transfer: z.record(z.string(), z.unknown(), { error: 'expected a map of transfer fields' }).optional(),
  /** A copy file's record may change fields of the file's copy (one block size of a sweep, say). */
  copy: z.record(z.string(), z.unknown(), { error: 'expected a map of copy fields' }).optional(),
  /** The record calibrated the model (what was fitted to it, and where): its error shows the fit, not a prediction. */
  fitted: text().optional(),
  /** A gap the model is known not to close yet: why, and the error it must stay within (`--strict` fails past it). */
  knownGap: z.strictObject({ maxErrorPct: positive(), why: text() }).optional(),
});

export const transferSpecSchema = z.strictObject({
  /** The request whose KV moves (with tokens), or leave both out and give bytes. */
  model: text().optional(),
  tokens: whole(1).optional(),
  /** A raw size instead: one READ of this many bytes (nixlbench's batch of blocks). */
  bytes: whole(1).optional(),
  /** With bytes: each descriptor's size (nixlbench's block size); default the whole buffer. */
  descriptorBytes: whole(1).optional(),
  /** NIC rails a worker's reads stripe over (default: the transport's rail rule on the node, railsFor). */
  rails: whole(1).optional(),
  prefillTp: whole(1).optional(),
  decodeTp: whole(1).optional(),
  transport: text(),
  node: text().optional(),
  placement: oneOf(PLACEMENTS).optional(),
  bandwidth: oneOf(BANDWIDTHS).optional(),
  prefillBlockSize: whole(1).optional(),
  /** The KV layout as registered with NIXL (descriptors per block): HND (default), NHD, flashinfer, cross-layer. */
  kvLayout: oneOf(KV_LAYOUTS).optional(),
  /** Line rate of each NIC rail, Gb/s, for a setup whose NICs are not the node's. */
  nicGbps: positive().optional(),
  concurrent: whole(1).optional(),
});

/**
 * A copy between a GPU and host memory over the GPU's host link, as a KV host tier makes it (vLLM's offloading
 * connector, KVBM's G2): `bytes` in blocks of `blockBytes`, to the host, to the GPU, or that much each way at once.
 */
export const copySpecSchema = z.strictObject({
  gpu: text(),
  direction: oneOf(COPY_DIRECTIONS),
  bytes: whole(1),
  blockBytes: whole(1),
});

export const measurementFileSchema = z.strictObject({
  id: id(),
  title: text(),
  source: text(),
  url: text().optional(),
  experiment: text().optional(),
  set: z.array(text(), { error: 'expected a list of path=value strings' }).optional(),
  transfer: transferSpecSchema.optional(),
  copy: copySpecSchema.optional(),
  records: z.array(measurementRecordSchema, { error: 'expected a list of records' }).min(1, { error: 'expected at least one record' }),
});

export type MeasurementFile = z.output<typeof measurementFileSchema>;
export type MeasurementRecordEntry = z.output<typeof measurementRecordSchema>;
export type TransferSpec = z.output<typeof transferSpecSchema>;
export type CopySpec = z.output<typeof copySpecSchema>;
