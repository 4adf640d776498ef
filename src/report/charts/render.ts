/**
 * Vega-Lite spec -> SVG (vega, headless, no canvas) -> PNG (resvg), without a browser and without downloading
 * anything. The SVG is made byte-stable: vega numbers clip paths and gradients from a process-wide counter, so the
 * ids are renumbered in order of appearance.
 */
import { existsSync } from 'node:fs';
import { Resvg, type ResvgRenderOptions } from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { InvariantError } from '../../errors.js';
import { useTableTextMetrics } from './text-width.js';

export interface RenderedChart {
  svg: string;
  png: Buffer;
  /** Vega-Lite's warnings while compiling (an empty list for a clean spec). */
  warnings: string[];
}

export const PNG_WIDTH = 1280;

/**
 * Sans-serif fonts to render with, by file, first found wins: resvg's own default (Arial) is missing on most Linux
 * machines, where it would fall back to whatever font comes first (often a serif). With none of these, resvg's
 * system-font fallback is left to choose.
 */
const SANS_FONTS: readonly { file: string; family: string }[] = [
  { file: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', family: 'DejaVu Sans' },
  { file: '/usr/share/fonts/dejavu/DejaVuSans.ttf', family: 'DejaVu Sans' },
  { file: '/usr/share/fonts/TTF/DejaVuSans.ttf', family: 'DejaVu Sans' },
  { file: '/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf', family: 'DejaVu Sans' },
  { file: '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf', family: 'Liberation Sans' },
  { file: '/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf', family: 'Liberation Sans' },
  { file: '/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf', family: 'Noto Sans' },
  { file: '/System/Library/Fonts/Supplemental/Arial.ttf', family: 'Arial' },
  { file: '/Library/Fonts/Arial.ttf', family: 'Arial' },
  { file: '/System/Library/Fonts/Helvetica.ttc', family: 'Helvetica' },
  { file: 'C:\\Windows\\Fonts\\arial.ttf', family: 'Arial' },
];

let fontChoice: { file: string; family: string } | null | undefined;

/** The sans-serif font PNGs are drawn with on this machine, or null when resvg's fallback decides. */
export function chartFont(): { file: string; family: string } | null {
  if (fontChoice === undefined) fontChoice = SANS_FONTS.find((f) => existsSync(f.file)) ?? null;
  return fontChoice;
}

function resvgOptions(width: number): ResvgRenderOptions {
  const font = chartFont();
  return {
    fitTo: { mode: 'width', value: width },
    font: {
      loadSystemFonts: true,
      ...(font ? { fontFiles: [font.file], defaultFontFamily: font.family, sansSerifFamily: font.family } : {}),
    },
    logLevel: 'off',
  };
}

/** Renumbers every id (and each url(#id) / href="#id" that points at one) in order of first appearance. */
export function normaliseSvgIds(svg: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) if (!ids.has(m[1]!)) ids.set(m[1]!, `nx${ids.size + 1}`);
  if (ids.size === 0) return svg;
  const sub = (id: string) => ids.get(id) ?? id;
  return svg
    .replace(/(\sid=")([^"]+)"/g, (_, pre: string, id: string) => `${pre}${sub(id)}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${sub(id)})`)
    .replace(/(href=")#([^"]+)"/g, (_, pre: string, id: string) => `${pre}#${sub(id)}"`);
}

/** Compiles a Vega-Lite spec to Vega, collecting warnings instead of printing them. Throws on an invalid spec. */
export function compileSpec(spec: TopLevelSpec): { vgSpec: vega.Spec; warnings: string[] } {
  const warnings: string[] = [];
  let level = 2;
  const logger = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return logger;
    },
    error(...args: unknown[]) {
      throw new InvariantError(`vega-lite: ${args.map(String).join(' ')}`);
    },
    warn(...args: unknown[]) {
      warnings.push(args.map(String).join(' '));
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  };
  const vgSpec = vl.compile(spec, { logger: logger as never }).spec as unknown as vega.Spec;
  return { vgSpec, warnings };
}

/** The SVG of a spec, ids normalised. */
export async function renderSvg(spec: TopLevelSpec): Promise<{ svg: string; warnings: string[] }> {
  useTableTextMetrics();
  const { vgSpec, warnings } = compileSpec(spec);
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none', logLevel: vega.Error });
  try {
    const svg = await view.toSVG();
    return { svg: normaliseSvgIds(svg), warnings };
  } finally {
    view.finalize();
  }
}

export function svgToPng(svg: string, width = PNG_WIDTH): Buffer {
  return new Resvg(svg, resvgOptions(width)).render().asPng();
}

/** Spec -> {svg, png}: the SVG from vega, the PNG from resvg at `width` pixels wide (default 1280). */
export async function renderChart(spec: TopLevelSpec, opts: { pngWidth?: number } = {}): Promise<RenderedChart> {
  const { svg, warnings } = await renderSvg(spec);
  return { svg, png: svgToPng(svg, opts.pngWidth ?? PNG_WIDTH), warnings };
}
