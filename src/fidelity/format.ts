/** How `nixlsim fidelity` prints its report: a text table, the --json contract, and README.md's markdown section. */
import { num, textTable } from '../report/table.js';
import type { FidelityReport, RecordResult } from './run.js';
import { FAMILIES } from './schema.js';

const HEADER = ['record', 'metric', 'measured', 'modeled', 'error %', 'tolerance', 'verdict'] as const;

function pct(x: number | null, signed: boolean): string {
  if (x === null || !Number.isFinite(x)) return '-';
  const r = Number(x.toFixed(1));
  if (r === 0) return '0.0%'; // no -0.0%
  const t = `${r.toFixed(1)}%`;
  return signed && r > 0 ? `+${t}` : t;
}

function withUnit(x: number | null, unit: string): string {
  return x === null ? '-' : `${num(x)} ${unit}`;
}

/** `ok`, `ok (fit)` for a record calibration used, `gap` for a known gap inside its bound, else `OUTSIDE`. */
export function verdict(r: RecordResult): string {
  if (r.within) return r.fitted !== undefined ? 'ok (fit)' : 'ok';
  if (r.knownGap?.held) return `gap (<= ${Number(r.knownGap.maxErrorPct.toPrecision(6))}%)`;
  return 'OUTSIDE';
}

function cells(r: RecordResult): string[] {
  return [r.id, r.metric, withUnit(r.measured, r.unit), withUnit(r.modeled, r.unit), pct(r.errorPct, true), `${Number(r.tolerancePct.toPrecision(6))}%`, verdict(r)];
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** `MAPE ttft 4.2% (5 records)`, one per family, over the records that did not calibrate the model. */
export function mapeLines(report: FidelityReport): string[] {
  return FAMILIES.map((f) => {
    const s = report.families[f];
    return `MAPE ${f} ${s.mape === null ? '-' : pct(s.mape, false)} (${plural(s.records, 'validation record')})`;
  });
}

export function withinLine(report: FidelityReport): string {
  const ok = report.records.filter((r) => r.within).length;
  const gaps = report.records.filter((r) => !r.within && r.knownGap?.held).length;
  const fitted = report.records.filter((r) => r.fitted !== undefined).length;
  return (
    `${ok} of ${plural(report.records.length, 'record')} within tolerance` +
    (fitted ? ` (${fitted} of them calibrated the model)` : '') +
    (gaps ? `; ${plural(gaps, 'known gap')} inside ${gaps === 1 ? 'its' : 'their'} stated bound` : '')
  );
}

/** The table, the MAPE per family and the closing count. Ends with a newline. */
export function formatFidelity(report: FidelityReport): string {
  const left = (i: number) => i <= 1 || i === 6;
  const lines = [...textTable(HEADER, report.records.map(cells), left), '', ...mapeLines(report), '', withinLine(report)];
  return `${lines.join('\n')}\n`;
}

/**
 * The --json contract: `{records: [{id, source, metric, measured, modeled, errorPct, tolerancePct, within}], mape}`,
 * each record with `fitted` (what calibration fitted to it) and `knownGap` ({maxErrorPct, why, held}) when it has them.
 */
export function fidelityJson(report: FidelityReport): string {
  const records = report.records.map(({ id, source, metric, measured, modeled, errorPct, tolerancePct, within, fitted, knownGap }) => ({
    id,
    source,
    metric,
    measured,
    modeled,
    errorPct,
    tolerancePct,
    within,
    ...(fitted !== undefined ? { fitted } : {}),
    ...(knownGap !== undefined ? { knownGap } : {}),
  }));
  const mape = Object.fromEntries(FAMILIES.map((f) => [f, report.families[f].mape]));
  return `${JSON.stringify({ records, mape })}\n`;
}

/** README.md's generated section: the records as a markdown table, then the MAPE per family in one line. */
export function fidelityMarkdown(report: FidelityReport): string {
  const row = (c: readonly string[]) => `| ${c.join(' | ')} |`;
  const mape = FAMILIES.map((f) => {
    const s = report.families[f];
    return `${f} ${s.mape === null ? '-' : pct(s.mape, false)} (${s.records})`;
  });
  return [
    row(HEADER),
    `|${HEADER.map((_, i) => (i <= 1 || i === 6 ? '---' : '---:')).join('|')}|`,
    ...report.records.map((r) => row(cells(r).map((c, i) => (i <= 1 ? `\`${c}\`` : c)))),
    '',
    `MAPE by family over the records that did not calibrate the model (how many): ${mape.join(', ')}. ${withinLine(report)}.`,
  ].join('\n');
}
