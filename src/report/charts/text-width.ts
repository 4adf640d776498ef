/**
 * Text widths for vega's layout without a canvas. Vega's fallback guesses 0.8 em per character, far wider than any
 * real sans-serif, so titles and legends got pages of empty space and labels were cut early. These are the advance
 * widths of DejaVu Sans (the font PNGs use on Linux; Arial and Helvetica are narrower, so a browser showing the SVG has
 * room to spare). A table, not the installed font: the layout, and so the SVG's bytes, are the same on every machine.
 */
import * as vega from 'vega';

/** Advance widths in thousandths of an em of the characters 32 (space) to 126 (~), regular then bold. */
const REGULAR = [
  318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636, 636, 636, 636, 636, 636, 337, 337,
  838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684,
  989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635,
  411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
];
const BOLD = [
  348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696, 696, 696, 696, 696, 696, 696, 400,
  400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372, 775, 637, 995, 837, 850, 733, 850, 770, 720, 682, 812,
  774, 1103, 771, 724, 725, 457, 365, 457, 838, 500, 500, 675, 716, 593, 716, 678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687, 716,
  716, 493, 595, 478, 712, 652, 924, 645, 652, 582, 712, 365, 712, 838,
];
/** Characters outside ASCII the charts use (quotes, dashes, arrows): a typical width, rounded up. */
const OTHER = { regular: 650, bold: 720 };

interface TextItem {
  fontSize?: number | string;
  fontWeight?: number | string;
  /** Vega truncates text wider than this (pixels) with an ellipsis. */
  limit?: number;
}

function isBold(w: number | string | undefined): boolean {
  return w === 'bold' || w === 'bolder' || (w !== undefined && Number(w) >= 600);
}

/** Width in pixels of `text` at `fontSize` (default 11, vega's), regular or bold. */
export function textWidth(text: string, fontSize = 11, bold = false): number {
  const table = bold ? BOLD : REGULAR;
  let em = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    em += c >= 32 && c <= 126 ? table[c - 32]! : bold ? OTHER.bold : OTHER.regular;
  }
  return (em * fontSize) / 1000;
}

let installed = false;

/** Makes vega measure text with textWidth (vega's documented hook, as vl-convert uses). Idempotent. */
export function useTableTextMetrics(): void {
  if (installed) return;
  const metrics = (vega as unknown as { textMetrics: { width: (item: TextItem, text: string) => number } }).textMetrics;
  metrics.width = (item: TextItem, text: string) => {
    const size = item.fontSize !== undefined && item.fontSize !== null ? Number(item.fontSize) || 0 : 11;
    // As vega's own measure does: trimmed, and no wider than the limit it truncates to.
    const w = textWidth(text === undefined || text === null ? '' : String(text).trim(), size, isBold(item.fontWeight));
    const limit = Number(item.limit);
    return limit > 0 ? Math.min(w, limit) : w;
  };
  installed = true;
}
