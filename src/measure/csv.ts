/**
 * The little CSV the measurement readers need: a file's lines (BOM and CR stripped, 1-based line numbers) and one
 * line split into cells, double quotes allowed around a cell (genai-perf writes "1,234.56") with "" for a quote
 * inside. A record never spans lines in the files we read, so a quote left open is an error on its line.
 */

export interface Line {
  /** 1-based line number in the file. */
  line: number;
  text: string;
}

export function fileLines(text: string): Line[] {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  return body.split('\n').map((t, i) => ({ line: i + 1, text: t.endsWith('\r') ? t.slice(0, -1) : t }));
}

/** The cells of one CSV line, or a message saying why it cannot be split. */
export function splitCsvLine(text: string): string[] | { error: string } {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    let cell = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) return { error: `a quoted cell (cell ${cells.length + 1}) is not closed` };
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        cell += text[i++];
      }
      if (i < text.length && text[i] !== ',') return { error: `unexpected text after the closing quote of cell ${cells.length + 1}` };
    } else {
      const end = text.indexOf(',', i);
      cell = end < 0 ? text.slice(i) : text.slice(i, end);
      i = end < 0 ? text.length : end;
    }
    cells.push(cell.trim());
    if (i >= text.length) return cells;
    i++; // the comma
  }
}
