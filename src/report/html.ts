/**
 * report.html: one page a reader opens from the report directory with no server and no network. It holds the
 * command's tables (as the command prints them, or its report.md turned into HTML) and every chart drawn live by
 * vega-embed, from the same Vega-Lite specs the command writes as <kind>.vl.json, with their data inlined. vega,
 * vega-lite and vega-embed's browser builds are inlined from node_modules, read once per process and only when a page
 * with charts is built, so commands that write no HTML never touch them.
 *
 * The page is a pure function of its input (no dates, no random ids): the same run writes the same bytes. A
 * Content-Security-Policy forbids every request, so a chart that tried to load anything would fail loudly (a console
 * error) rather than reach out.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Marked, type Token } from 'marked';
import { InvariantError } from '../errors.js';
import type { OutputFile } from '../spec/output.js';

export const REPORT_HTML_FILE = 'report.html';

/** One chart: its name (the <name>.vl.json it was written as) and its Vega-Lite spec. */
export interface HtmlChart {
  name: string;
  spec: unknown;
}

/** A part of the page: a heading and preformatted text (a command's table as printed) or Markdown. */
export interface HtmlSection {
  heading?: string;
  /** Shown as it is, in a monospace block (the columns of a text table stay aligned). */
  pre?: string;
  /**
   * Markdown (GFM, through `marked`), as the report.md files are written. An image alone in its paragraph whose file
   * is <name>.png for a chart of the page is replaced by that chart.
   */
  markdown?: string;
}

export interface ReportPage {
  title: string;
  sections: readonly HtmlSection[];
  /** The charts, drawn where the Markdown places them, the rest after the sections in this order. */
  charts: readonly HtmlChart[];
}

// ---------------------------------------------------------------------------------------------------------------------
// The vendor scripts

const VENDOR = [
  ['vega', 'build/vega.min.js'],
  ['vega-lite', 'build/vega-lite.min.js'],
  ['vega-embed', 'build/vega-embed.min.js'],
] as const;

let vendorCache: string | undefined;

/** The directory of an installed package: up from its entry point to the package.json that names it. */
function packageDir(name: string): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === name) return dir;
    } catch {
      // no package.json here: keep going up
    }
    const up = dirname(dir);
    if (up === dir) throw new InvariantError(`cannot find the package directory of ${name}`);
    dir = up;
  }
}

/** A script's text made safe inside <script>: no `</script` or `<!--` can end or confuse the element. */
function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** The three browser builds as <script> elements, read on first use. */
function vendorScripts(): string {
  if (vendorCache === undefined) {
    vendorCache = VENDOR.map(([pkg, file]) => {
      // The source map comment goes: the page has no map beside it, and a browser's tools would go looking.
      const text = readFileSync(join(packageDir(pkg), file), 'utf8').replace(/^\/\/# sourceMappingURL=.*$/gm, '');
      return `<script>/* ${pkg} (${basename(file)}) */\n${scriptSafe(text)}\n</script>`;
    }).join('\n');
  }
  return vendorCache;
}

// ---------------------------------------------------------------------------------------------------------------------
// Text to HTML

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** JSON inside a <script> element: every `<` escaped, and the two line separators JavaScript once rejected. */
function jsonInScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** A cell that holds a number (or a number / number, or '-'): right-aligned, as the text tables align them. */
const NUMERIC = /^(-|[-+]?\$?[\d,.]+%?( \/ (-|[\d,.]+))?( \([^)]*\))?)$/;

const chartFigure = (name: string): string => `<figure class="chart" data-chart="${escapeHtml(name)}"></figure>`;

/**
 * Markdown (report.md) as HTML, through `marked` (GFM tables), with three rules of this page: an image alone in its
 * paragraph whose file is <name>.png (or .svg) for a chart of the page becomes that chart, drawn live (`placed`
 * collects them), any other image a note; numeric table cells are right-aligned; raw HTML in the text is shown, not
 * interpreted.
 */
export function markdownHtml(md: string, chartNames: ReadonlySet<string>, placed: Set<string>): string {
  const marked = new Marked({ gfm: true });
  const imageHtml = (href: string, text: string): string => {
    const name = href.replace(/\.(png|svg)$/, '');
    if (chartNames.has(name) && !placed.has(name)) {
      placed.add(name);
      return chartFigure(name);
    }
    return `<p class="note">(${escapeHtml(text)}: ${escapeHtml(href)} beside this page)</p>`;
  };
  marked.use({
    renderer: {
      paragraph(token) {
        const only = token.tokens.length === 1 ? token.tokens[0] : undefined;
        if (only?.type === 'image') return `${imageHtml(only.href, only.text)}\n`;
        return `<p>${this.parser.parseInline(token.tokens)}</p>\n`;
      },
      image(token) {
        return escapeHtml(`![${token.text}](${token.href})`);
      },
      html(token) {
        return escapeHtml(token.text);
      },
      table(token) {
        const cell = (c: { tokens: Token[]; text: string }, header: boolean) => {
          const tag = header ? 'th' : 'td';
          return `<${tag}${!header && NUMERIC.test(c.text.trim()) ? ' class="num"' : ''}>${this.parser.parseInline(c.tokens)}</${tag}>`;
        };
        const head = `<tr>${token.header.map((c) => cell(c, true)).join('')}</tr>`;
        const rows = token.rows.map((r) => `<tr>${r.map((c) => cell(c, false)).join('')}</tr>`);
        return `<div class="scroll"><table>\n<thead>${head}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table></div>\n`;
      },
    },
  });
  return (marked.parse(md.replace(/\r\n/g, '\n'), { async: false }) as string).trim();
}

// ---------------------------------------------------------------------------------------------------------------------
// The page

const CSS = `
:root { color-scheme: light; }
body { margin: 0; background: #fafafa; color: #1f2328; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif; }
main { max-width: 1400px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; min-height: 100vh; box-sizing: border-box; }
h1 { font-size: 1.55rem; margin: 0 0 0.6rem; line-height: 1.25; }
h2 { font-size: 1.2rem; margin: 1.8rem 0 0.6rem; padding-bottom: 0.25rem; border-bottom: 1px solid #d8dee4; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 0.5rem; }
p, ul { margin: 0.5rem 0 0.8rem; max-width: 78em; }
code { font: 0.92em ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; background: #f0f2f4; padding: 0 0.25em; border-radius: 3px; }
pre { font: 12px/1.45 ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; background: #f6f8fa; border: 1px solid #d8dee4; border-radius: 6px; padding: 12px 14px; overflow-x: auto; margin: 0.5rem 0 1rem; }
.scroll { overflow-x: auto; margin: 0.5rem 0 1rem; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #d8dee4; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f2f4; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #f8f9fa; }
figure.chart { margin: 1rem 0 1.6rem; overflow-x: auto; min-height: 60px; }
.note { color: #57606a; font-size: 0.92em; }
.chart-error { color: #b42318; white-space: pre-wrap; }
`.trim();

/** Draws every chart of the page with vega-embed; a failure shows in its place and on the console. */
const EMBED = `
(function () {
  var specs = JSON.parse(document.getElementById('nixlsim-charts').textContent);
  var figures = document.querySelectorAll('figure.chart');
  Array.prototype.forEach.call(figures, function (el) {
    var name = el.getAttribute('data-chart');
    var target = document.createElement('div');
    el.appendChild(target);
    vegaEmbed(target, specs[name], { mode: 'vega-lite', renderer: 'svg', actions: false, tooltip: true })
      .then(function () { el.setAttribute('data-rendered', 'yes'); })
      .catch(function (err) {
        el.setAttribute('data-rendered', 'error');
        var p = document.createElement('p');
        p.className = 'chart-error';
        p.textContent = 'The chart ' + name + ' could not be drawn: ' + (err && err.message ? err.message : String(err));
        el.appendChild(p);
        console.error('nixlsim: chart ' + name + ' failed', err);
      });
  });
})();
`.trim();

/** The whole page (see the top of this file). */
export function reportHtml(page: ReportPage): string {
  const names = new Set(page.charts.map((c) => c.name));
  if (names.size !== page.charts.length) throw new InvariantError(`report.html was given one chart twice: ${page.charts.map((c) => c.name).join(', ')}`);
  const placed = new Set<string>();
  const body: string[] = [`<h1>${escapeHtml(page.title)}</h1>`];
  for (const s of page.sections) {
    if (s.heading !== undefined) body.push(`<h2>${escapeHtml(s.heading)}</h2>`);
    if (s.pre !== undefined) body.push(`<pre>${escapeHtml(s.pre.replace(/\n+$/, ''))}</pre>`);
    if (s.markdown !== undefined) body.push(markdownHtml(s.markdown, names, placed));
  }
  const rest = page.charts.filter((c) => !placed.has(c.name));
  if (rest.length > 0) {
    body.push('<h2>Charts</h2>', '<p class="note">Drawn in the page from the <code>.vl.json</code> specs beside it; hover a point for its values.</p>');
    for (const c of rest) body.push(chartFigure(c.name));
  }
  const scripts =
    page.charts.length === 0
      ? ''
      : [
          `<script type="application/json" id="nixlsim-charts">${jsonInScript(Object.fromEntries(page.charts.map((c) => [c.name, c.spec])))}</script>`,
          vendorScripts(),
          `<script>\n${EMBED}\n</script>`,
        ].join('\n');
  const csp = "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:";
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(page.title)}</title>`,
    `<style>\n${CSS}\n</style>`,
    '</head>',
    '<body>',
    '<main>',
    ...body,
    '</main>',
    ...(scripts ? [scripts] : []),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** The charts among a command's files: every <name>.vl.json, parsed back into its spec, in order. */
export function chartsOf(outputs: readonly OutputFile[]): HtmlChart[] {
  return outputs
    .filter((f) => f.path.endsWith('.vl.json'))
    .map((f) => ({ name: basename(f.path).slice(0, -'.vl.json'.length), spec: JSON.parse(typeof f.data === 'string' ? f.data : new TextDecoder().decode(f.data)) as unknown }));
}

/** What a run's (or merge's) report.html shows besides its charts. */
export interface RunPage {
  /** The report directory. */
  dir: string;
  title: string;
  /** The command's printed table and notes. */
  text: string;
  flag?: string;
}

/**
 * A run's files with its report.html added (the printed table, then every chart among the files), or the files as
 * they are when `page` is false (a caller that writes the files itself).
 */
export function withReportHtml(outputs: readonly OutputFile[], page: RunPage | false): OutputFile[] {
  if (page === false) return [...outputs];
  const data = reportHtml({ title: page.title, sections: [{ heading: 'Points', pre: page.text }], charts: chartsOf(outputs) });
  return [...outputs, { path: join(page.dir, REPORT_HTML_FILE), data, ...(page.flag !== undefined ? { flag: page.flag } : {}) }];
}

/** A report.md as a page: its first `# ` heading the title, the rest the body, the charts placed by its images. */
export function markdownReportHtml(md: string, charts: readonly HtmlChart[]): string {
  const m = /^#\s+(.*)\n/.exec(md);
  const title = m ? m[1]! : 'nixlsim report';
  return reportHtml({ title, sections: [{ markdown: m ? md.slice(m[0].length) : md }], charts });
}
