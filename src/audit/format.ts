import { textTable } from '../report/table.js';
import { measureText, METRIC_LABEL } from '../measure/types.js';
import type { AuditReport } from './audit.js';

const num = (x: number | null): string => (x === null ? '-' : measureText(x));

/** The audit as a table, one line per measured metric, then what each named cause means. */
export function formatAudit(r: AuditReport, experimentFile: string): string {
  const files = new Set(r.points.map((p) => p.file));
  const header = ['row', 'isl', 'osl', 'conc', 'metric', 'measured', 'bound', 'modeled', 'verdict', 'causes'];
  const rows = r.points.map((p) => [
    files.size > 1 ? `${p.file}:${p.row}` : String(p.row),
    String(p.isl),
    String(p.osl),
    String(p.concurrency),
    p.statistic === 'mean' ? METRIC_LABEL[p.metric] : `${METRIC_LABEL[p.metric]} ${p.statistic}`,
    num(p.measured),
    num(p.bound),
    num(p.modeled),
    p.verdict,
    p.causes.map((c) => c.cause).join(', ') || '-',
  ]);
  const left = new Set([4, 8, 9]);
  const count = (v: string) => r.points.filter((p) => p.verdict === v).length;
  const out = [
    `audit of ${[...files].join(', ')} against ${experimentFile}`,
    `deployment: ${r.deployment}`,
    `bound: physics at 100% of peak FLOP/s, HBM bandwidth and line rate; modeled: the simulated closed loop; consistent within ${Math.round(r.tolerance * 1000) / 10}%`,
    '',
    ...textTable(header, rows, (i) => left.has(i)),
    '',
    `${count('consistent')} consistent, ${count('slower')} slower than modeled, ${count('impossible')} impossible`,
  ];
  // Each cause once; one whose detail depends on the metric (broken-measurement) once per metric.
  const details = new Map<string, Map<string, string>>();
  for (const p of r.points) {
    for (const c of p.causes) {
      const byDetail = details.get(c.cause) ?? new Map<string, string>();
      if (!byDetail.has(c.detail)) byDetail.set(c.detail, METRIC_LABEL[p.metric].replace(/ ms$/, ''));
      details.set(c.cause, byDetail);
    }
  }
  if (details.size > 0) {
    out.push('', 'causes:');
    for (const [cause, byDetail] of details) {
      for (const [detail, metric] of byDetail) out.push(`  ${cause}${byDetail.size > 1 ? ` (${metric})` : ''}: ${detail}`);
    }
  }
  const unexplained = r.points.filter((p) => p.verdict === 'slower' && p.causes.length === 0).length;
  if (unexplained > 0) out.push('', `${unexplained} slower value(s) with no cause the model can name (not queueing at 2x load, TCP fallback, host staging or expiry)`);
  return `${out.join('\n')}\n`;
}
