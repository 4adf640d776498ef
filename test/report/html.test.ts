import { describe, expect, it } from 'vitest';
import { chartsOf, markdownReportHtml, reportHtml, withReportHtml } from '../../src/report/html.js';

const spec = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', data: { values: [{ x: 1, label: '</script><b>' }] }, mark: 'point' };

describe('report.html', () => {
  it('is the same bytes for the same input, and inlines the charts and the vendor scripts only when there are charts', () => {
    const page = { title: 'nixlsim run: t <1>', sections: [{ heading: 'Points', pre: 'point  a\np000   1\n' }], charts: [{ name: 'ttft-cdf', spec }] };
    const a = reportHtml(page);
    expect(reportHtml(page)).toBe(a);
    expect(a).toContain('<title>nixlsim run: t &lt;1&gt;</title>');
    expect(a).toContain('<pre>point  a\np000   1</pre>');
    expect(a).toContain('<figure class="chart" data-chart="ttft-cdf"></figure>');
    // The data's `</script>` cannot end the JSON element early; the vendor builds are there, with no source maps.
    expect(a).not.toContain('</script><b>');
    expect(a).toContain('\\u003c/script>\\u003cb>');
    for (const lib of ['vega (vega.min.js)', 'vega-lite (vega-lite.min.js)', 'vega-embed (vega-embed.min.js)']) expect(a).toContain(`/* ${lib} */`);
    expect(a).not.toMatch(/sourceMappingURL/);
    expect(a).toMatch(/Content-Security-Policy" content="default-src 'none'/);
    const bare = reportHtml({ ...page, charts: [] });
    expect(bare).not.toContain('vegaEmbed');
    expect(bare.length).toBeLessThan(10_000);
  });

  it("takes a run's charts from its .vl.json files and goes beside its summary.json", () => {
    const files = [
      { path: '/r/summary.json', data: '{}' },
      { path: '/r/ttft-cdf.vl.json', data: `${JSON.stringify(spec)}\n` },
      { path: '/r/ttft-cdf.png', data: new Uint8Array([1]) },
    ];
    expect(chartsOf(files)).toEqual([{ name: 'ttft-cdf', spec }]);
    const out = withReportHtml(files, { dir: '/r', title: 'nixlsim run: x', text: 'table', flag: '--out /r' });
    expect(out.slice(0, 3)).toEqual(files);
    expect(out[3]).toMatchObject({ path: '/r/report.html', flag: '--out /r' });
    expect(withReportHtml(files, false)).toEqual(files);
  });

  it("turns a report.md into the page: title, headings, tables with numbers right-aligned, lists, the chart in its image's place", () => {
    const md = [
      '# Capacity plan: m on 2 x g',
      '',
      'SLO: `ttft_p95_ms<=300` and **bold** text.',
      '',
      '## Ranked',
      '',
      '| # | configuration | max rate (req/s) |',
      '|---|---|---|',
      '| 1 | aggregated 2 x TP1 | 207.3 |',
      '| 2 | disaggregated 1P x TP1 + 1D x TP1 | - |',
      '',
      '![goodput per GPU](pareto.png)',
      '',
      '![a picture](other.png)',
      '',
      '- **Enumerated**: every TP',
      '  and more.',
      '- **Pruned**: none',
      '',
    ].join('\n');
    const h = markdownReportHtml(md, [{ name: 'pareto', spec }]);
    expect(h).toContain('<title>Capacity plan: m on 2 x g</title>');
    expect(h).toContain('<h1>Capacity plan: m on 2 x g</h1>');
    expect(h).toContain('<p>SLO: <code>ttft_p95_ms&lt;=300</code> and <strong>bold</strong> text.</p>');
    expect(h).toContain('<h2>Ranked</h2>');
    expect(h).toContain('<thead><tr><th>#</th><th>configuration</th><th>max rate (req/s)</th></tr></thead>');
    expect(h).toContain('<tr><td class="num">1</td><td>aggregated 2 x TP1</td><td class="num">207.3</td></tr>');
    expect(h).toContain('<td class="num">-</td>');
    expect(h).toContain('<figure class="chart" data-chart="pareto"></figure>');
    expect(h).not.toContain('<h2>Charts</h2>'); // the only chart is placed by its image
    expect(h).toContain('(a picture: other.png beside this page)');
    // A list item's continuation line stays in the item (a line break, shown as a space).
    expect(h.replace(/\s+/g, ' ')).toContain('<li><strong>Enumerated</strong>: every TP and more.</li>');
    // Raw HTML in the Markdown is shown as text, never interpreted.
    expect(markdownReportHtml('a <script>x</script> b', [])).toContain('a &lt;script&gt;x&lt;/script&gt; b');
  });
});
