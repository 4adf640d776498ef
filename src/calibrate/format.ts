import { basename, dirname, resolve } from 'node:path';
import { userCatalogDirs } from '../catalog/load.js';
import { textTable } from '../report/table.js';
import { shownPath } from '../yaml/positions.js';
import { measureText, METRIC_LABEL } from '../measure/types.js';
import type { CalibrateResult } from './calibrate.js';


const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;

function table(header: string[], rows: string[][], left: number[] = []): string[] {
  return textTable(header, rows, (i) => left.includes(i));
}

/**
 * How to use a record calibrate wrote: it is in a user catalog already in use (--catalog, NIXLSIM_CATALOG), or in a
 * catalog directory to name with --catalog, or in a file of its own that has to go into one first.
 */
export function catalogUsage(file: string, kind: 'gpu' | 'transport'): string {
  const abs = resolve(file);
  const id = basename(abs, '.yaml');
  const names = `an experiment names it as \`deployment.${kind}: ${id}\``;
  if (basename(dirname(abs)) !== kind) {
    return `to use ${shownPath(abs)}, put it in a catalog directory as <dir>/${kind}/${id}.yaml and give --catalog <dir>; ${names}`;
  }
  const dir = dirname(dirname(abs));
  const shown = shownPath(dir) === '' ? '.' : shownPath(dir);
  if (userCatalogDirs().some((d) => resolve(d) === dir)) return `${shownPath(abs)} is in your catalog ${shown}, in use: ${names}`;
  return `to use ${shownPath(abs)}, give its catalog to any command: --catalog ${shown} (or NIXLSIM_CATALOG=${shown}); ${names}`;
}

/** The fit as the command prints it: the factors, the error at every measured value and in total, the files written. */
export function formatCalibrate(r: CalibrateResult): string {
  const out = [`deployment: ${r.deployment}`];
  if (r.transport) {
    const t = r.transport;
    out.push(
      '',
      `transport ${t.base} -> ${t.id}: ${t.bandwidthGBps.toFixed(3)} GB/s a worker pair (${t.bandwidthPerRailGBps.toFixed(3)} GB/s x ${t.rails} rail${t.rails === 1 ? '' : 's'}), latency ${t.latencyUs.toFixed(1)} us${t.latencyHeld ? " (the record's: the fitted intercept was not positive)" : ''}`,
      '',
      ...table(
        ['file:row', 'measured ms', 'fit ms', 'error'],
        t.rows.map((x) => [`${x.file}:${x.row}`, measureText(x.measuredMs), measureText(x.modeledMs), pct(x.error)]),
        [0],
      ),
      `rms error ${(t.rmsError * 100).toFixed(2)}%`,
    );
  }
  if (r.gpu) {
    const g = r.gpu;
    out.push('', `gpu ${g.base} -> ${g.id}: ${g.iterations} iterations, ${g.simulations} simulations`, '');
    out.push(
      ...table(
        ['factor', 'base', 'fitted', 'range', ''],
        Object.entries(g.factors).map(([f, v]) => [
          f,
          String(v.base),
          v.fitted ? String(Number(v.value.toPrecision(4))) : '(held)',
          `${v.min} - ${v.max}`,
          v.atLimit ? 'at the limit of its range' : '',
        ]),
        [0, 4],
      ),
      '',
      ...table(
        ['file:row', 'isl', 'osl', 'conc', 'metric', 'measured', 'fit', 'error'],
        g.rows.map((x) => [`${x.file}:${x.row}`, String(x.isl), String(x.osl), String(x.concurrency), METRIC_LABEL[x.metric], measureText(x.measured), measureText(x.modeled), pct(x.error)]),
        [0, 4],
      ),
      `rms error ${(g.rmsError * 100).toFixed(2)}% over ${g.rows.length} measured values`,
    );
  }
  out.push('', ...r.files.map((f) => `wrote ${shownPath(f)}`));
  if (r.transport) out.push(catalogUsage(r.transport.file, 'transport'));
  if (r.gpu) out.push(catalogUsage(r.gpu.file, 'gpu'));
  return `${out.join('\n')}\n`;
}
