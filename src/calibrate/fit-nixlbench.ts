/**
 * `nixlsim calibrate` on nixlbench output: reads the table NIXL's benchmark prints (block size, batch size, average
 * latency per block, bandwidth; older builds print MiB/s and GiB/s columns too, newer ones prep/post/tx columns, and a
 * log may prefix each line with a timestamp) and fits the transport's cost per transfer (`perReadUs`), per descriptor
 * (`perDescriptorUs`) and its bandwidth to the rows, as src/physics/nixlbench.ts models them: a transfer of n blocks of
 * b bytes takes latency + perRead + max(n x perDescriptor, threads x n x b / bandwidth).
 */
import { readInputText } from '../input.js';
import type { TransportSpec } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import { shownPath } from '../experiment/yaml-errors.js';
import { nixlbenchTransferS } from '../physics/nixlbench.js';
import { levenbergMarquardt } from './least-squares.js';

export interface NixlbenchSample {
  blockSize: number;
  batchSize: number;
  /** nixlbench's "Avg Lat. (us)": a transfer's time over its batch size. */
  latencyUs: number;
  /** `file:line`, for messages and tables. */
  where: string;
}

/** Whether a text is nixlbench output: its results header names these columns. */
export function isNixlbenchText(text: string): boolean {
  return /Block Size \(B\)/.test(text) && /Avg Lat\. \(us\)/.test(text);
}

/** The rows of every results table in a nixlbench log. */
export function parseNixlbench(text: string, file: string): NixlbenchSample[] {
  const out: NixlbenchSample[] = [];
  let columns: string[] | null = null;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\s*\[[^\]]*\]\s*/, ''); // a log's timestamp prefix
    if (/Block Size \(B\)/.test(line)) {
      columns = line.trim().split(/\s{2,}/);
      return;
    }
    if (columns === null) return;
    const cells = line.trim().split(/\s+/);
    if (cells.length !== columns.length || !cells.every((c) => /^[0-9.eE+-]+$/.test(c))) return;
    const at = (name: string) => Number(cells[columns!.indexOf(name)]);
    const sample = { blockSize: at('Block Size (B)'), batchSize: at('Batch Size'), latencyUs: at('Avg Lat. (us)'), where: `${shownPath(file)}:${i + 1}` };
    if (!(sample.blockSize >= 1 && sample.batchSize >= 1 && sample.latencyUs > 0)) {
      throw new UserError(`a nixlbench row needs a block size and batch size >= 1 and a latency > 0, got '${line.trim()}'`, sample.where);
    }
    out.push(sample);
  });
  if (out.length === 0) throw new UserError(`no nixlbench result rows (a 'Block Size (B) ... Avg Lat. (us)' header and numbers under it)`, shownPath(file));
  return out;
}

export function readNixlbench(files: readonly string[]): NixlbenchSample[] {
  return files.flatMap((f) => {
    return parseNixlbench(readInputText(f, 'nixlbench output'), f);
  });
}

export interface NixlbenchFit {
  perReadS: number;
  perDescriptorS: number;
  /** One GPU's bandwidth over its rails, bytes/s. */
  bandwidth: number;
  rails: number;
  rows: { where: string; blockSize: number; batchSize: number; measuredUs: number; modeledUs: number; error: number }[];
  /** Root mean square of the relative errors. */
  rmsError: number;
}

/**
 * Least squares on relative errors of the per-block latency, in log space (the figures span orders of magnitude), the
 * transport's latency held. Needs rows where posting shows (many small blocks) and rows where the wire does (large
 * blocks), or the fit says which it cannot see.
 */
export function fitNixlbench(samples: readonly NixlbenchSample[], t: TransportSpec, rails: number, threads = 1): NixlbenchFit {
  if (samples.length < 3) throw new UserError(`cannot fit transport '${t.id}' to ${samples.length} nixlbench row(s): give at least 3, small blocks and large`);
  const model = (x: readonly number[], s: NixlbenchSample) =>
    (nixlbenchTransferS({ latencyS: t.latencyS, perReadS: 10 ** x[0]!, perDescriptorS: 10 ** x[1]! }, 10 ** x[2]!, s.blockSize, s.batchSize, threads) / s.batchSize) * 1e6;
  const start = [Math.log10(t.perReadS), Math.log10(t.perDescriptorS), Math.log10(t.bandwidthPerRail.typical * rails)];
  const fit = levenbergMarquardt(
    {
      params: [
        { name: 'perReadS', lo: -9, hi: -1, start: start[0]! },
        { name: 'perDescriptorS', lo: -11, hi: -3, start: start[1]! },
        { name: 'bandwidth', lo: 6, hi: 13, start: start[2]! },
      ],
      residuals: (x) => samples.map((s) => (model(x, s) - s.latencyUs) / s.latencyUs),
    },
    { maxIterations: 200 },
  );
  const rows = samples.map((s) => {
    const modeledUs = model(fit.x, s);
    return { where: s.where, blockSize: s.blockSize, batchSize: s.batchSize, measuredUs: s.latencyUs, modeledUs, error: (modeledUs - s.latencyUs) / s.latencyUs };
  });
  return {
    perReadS: 10 ** fit.x[0]!,
    perDescriptorS: 10 ** fit.x[1]!,
    bandwidth: 10 ** fit.x[2]!,
    rails,
    rows,
    rmsError: Math.sqrt(rows.reduce((a, r) => a + r.error * r.error, 0) / rows.length),
  };
}
