/** The commands' plain-text tables and numbers. */

/**
 * Rows under a header, columns two spaces apart, each as wide as its widest cell: left-aligned where `left(i)` says so
 * (names), right-aligned elsewhere (numbers). Lines carry no trailing spaces.
 */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[], left: (column: number) => boolean): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (left(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** Three significant-ish digits without exponents: 0.42, 12.3, 4512; '-' for no number (null: no samples). */
export function num(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  return x.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
}

/**
 * A column of numbers with one number of decimals, so that they line up and 6.4 does not sit under 6.87: as many as
 * give the largest `digits` significant digits (65.19 and 46.70 at 4; 8.15 and 6.40 at 3); none from 10^digits up.
 */
export function fixedColumn(values: readonly number[], digits: number): string[] {
  const largest = Math.max(0, ...values.filter(Number.isFinite).map(Math.abs));
  const decimals = largest === 0 ? 0 : Math.min(20, Math.max(0, digits - 1 - Math.floor(Math.log10(largest))));
  return values.map((v) => (Number.isFinite(v) ? v.toFixed(decimals) : '-'));
}

/** A size in bytes as nixlbench writes it: 4096 -> 4K, 67108864 -> 64M (powers of 1024; other sizes as they are). */
export function sizeText(b: number): string {
  for (const [unit, f] of [['G', 2 ** 30], ['M', 2 ** 20], ['K', 2 ** 10]] as const) if (b >= f && b % f === 0) return `${b / f}${unit}`;
  return String(b);
}
