import { textTable } from '../report/table.js';
import { shownPath } from '../yaml/positions.js';
import { measureText, METRIC_LABEL } from '../measure/types.js';
import type { CalibrateResult } from './calibrate.js';


const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;

function table(header: string[], rows: string[][], left: number[] = []): string[] {
  return textTable(header, rows, (i) => left.includes(i));
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
  return `${out.join('\n')}\n`;
}
