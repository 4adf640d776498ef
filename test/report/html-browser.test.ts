/**
 * report.html in a real browser: headless Chromium (Debian's chromium or chromium-headless-shell, driven by
 * playwright-core) opens the page a small real run writes, and a plan's, from the file itself. Every chart must draw
 * (an SVG or a canvas in each chart's place), nothing may reach the console as an error, the page may request nothing
 * but itself, a point must show its tooltip, and the screenshot must not be blank.
 *
 * The browser is $NIXLSIM_CHROMIUM, else /usr/bin/chromium, else /usr/bin/chromium-headless-shell. Without one the
 * test is skipped, saying so, except under CI (CI set), where a missing browser fails it: `.ci/run` installs one.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nixlsimInProcess } from '../helpers/cli.js';

const CANDIDATES = [process.env['NIXLSIM_CHROMIUM'], '/usr/bin/chromium', '/usr/bin/chromium-headless-shell'].filter((p): p is string => !!p);
const browserPath = CANDIDATES.find((p) => existsSync(p));
const inCi = process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false';
const NO_BROWSER = `no Chromium found (looked for ${CANDIDATES.join(', ')}); install Debian's chromium or chromium-headless-shell, or set NIXLSIM_CHROMIUM`;

/** The flags that let Chromium start as root in a sandboxed machine with no network, and not try to reach any. */
const FLAGS = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

if (!browserPath && !inCi) console.warn(`html-browser.test.ts: skipped, ${NO_BROWSER}`);

describe.runIf(!browserPath && inCi)('report.html in headless Chromium, under CI', () => {
  it('has a browser to run in', () => {
    throw new Error(`CI is set but ${NO_BROWSER}: .ci/run installs it`);
  });
});

/** What opening a page saw. */
interface Visit {
  page: Page;
  requests: string[];
  errors: string[];
}

/** Colours in a PNG (every pixel, RGBA), and the share of pixels that are not the most common one. */
function colours(png: Buffer): { distinct: number; notBackground: number } {
  const img = PNG.sync.read(png);
  const counts = new Map<number, number>();
  for (let i = 0; i < img.data.length; i += 4) {
    const c = ((img.data[i]! << 24) | (img.data[i + 1]! << 16) | (img.data[i + 2]! << 8) | img.data[i + 3]!) >>> 0;
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  const most = Math.max(...counts.values());
  const pixels = img.data.length / 4;
  return { distinct: counts.size, notBackground: (pixels - most) / pixels };
}

describe.skipIf(!browserPath)(`report.html in headless Chromium${browserPath ? ` (${browserPath})` : ` (skipped: ${NO_BROWSER})`}`, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'nixlsim-html-browser-'));
  const runDir = join(tmp, 'run');
  const planDir = join(tmp, 'plan');
  let browser: Browser;

  beforeAll(async () => {
    // A small real run: the breakeven seed at two input lengths, 40 requests a point (breakeven and ttft-cdf charts).
    const run = await nixlsimInProcess(['run', 'experiments/seeds/breakeven.yaml', '--set', 'sweep.workload.isl.mean=[1000,8000]', '--set', 'workload.requests=40', '--workers', '1', '--out', runDir]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // A small real plan (its Pareto chart and ranking table), as in test/plan/cli.test.ts.
    const plan = await nixlsimInProcess([
      'plan', '--model', 'llama-3.1-8b-instruct', '--node', 'dgx-h100', '--transport', 'ib-rdma', '--gpus', '2',
      '--workload', 'test/fixtures/plan/short-prompts.yaml', '--slo', 'ttft_p95_ms<=300',
      '--requests', '30', '--warmup', '3', '--window', '2', '--precision', '0.25', '--out', planDir,
    ]);
    expect(plan.code).toBe(0);
    browser = await chromium.launch({ executablePath: browserPath!, headless: true, chromiumSandbox: false, args: FLAGS });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** Opens dir/report.html from the file, every other request refused and recorded, and waits for its charts. */
  async function visit(dir: string): Promise<Visit> {
    const file = pathToFileURL(join(dir, 'report.html')).href;
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => void requests.push(r.url()));
    page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    page.on('pageerror', (e) => void errors.push(e.message));
    await context.route('**/*', (route) => (route.request().url() === file ? route.continue() : route.abort()));
    await page.goto(file, { waitUntil: 'load' });
    // Every chart has said how it went (drawn or failed); a string, as the tests are type-checked without the DOM's types.
    await page.waitForFunction("[...document.querySelectorAll('figure.chart')].every((f) => f.hasAttribute('data-rendered'))", null, { timeout: 30_000 });
    return { page, requests, errors };
  }

  /** Every chart of the directory (its .vl.json files) drawn in its place, as an SVG or a canvas. */
  async function expectChartsDrawn(page: Page, dir: string): Promise<void> {
    const specs = readdirSync(dir).filter((f) => f.endsWith('.vl.json')).map((f) => f.slice(0, -'.vl.json'.length)).sort();
    expect(specs.length).toBeGreaterThan(0);
    const figures = await page.$$eval('figure.chart', (fs) =>
      fs.map((f) => ({ name: f.getAttribute('data-chart'), state: f.getAttribute('data-rendered'), drawn: f.querySelector('svg, canvas') !== null })),
    );
    expect(figures.map((f) => f.name).sort()).toEqual(specs);
    for (const f of figures) expect(f, `chart ${f.name}`).toEqual({ name: f.name, state: 'yes', drawn: true });
  }

  it('draws every chart of a run, with tooltips, asking the network for nothing', async () => {
    const { page, requests, errors } = await visit(runDir);
    await expectChartsDrawn(page, runDir);
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(join(runDir, 'report.html')).href]);

    // The points table as the command prints it.
    const table = await page.textContent('pre');
    expect(table).toMatch(/point\s+workload\.isl\.mean\s+mode\s+completed/);
    expect(table).toMatch(/p003\s+8000\s+disaggregated/);

    // A point's tooltip: hover the first point symbol of a chart.
    const point = page.locator('figure.chart .mark-symbol path').first();
    await point.hover({ force: true });
    await page.waitForSelector('#vg-tooltip-element.visible', { timeout: 5_000 });
    expect(await page.textContent('#vg-tooltip-element')).not.toBe('');

    // A screenshot that is not blank: the whole page, and the first chart alone.
    const shot = join(tmp, 'run-report.png');
    const png = await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot)).toBe(true);
    const whole = colours(png);
    expect(whole.distinct).toBeGreaterThan(50);
    expect(whole.notBackground).toBeGreaterThan(0.05);
    const chart = colours(await page.locator('figure.chart').first().screenshot({ path: join(tmp, 'run-chart.png') }));
    expect(chart.distinct).toBeGreaterThan(20);
    expect(chart.notBackground).toBeGreaterThan(0.02);
    await page.context().close();
  }, 120_000);

  it("draws a plan's page: its ranking table and its Pareto chart", async () => {
    const { page, requests, errors } = await visit(planDir);
    await expectChartsDrawn(page, planDir);
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(join(planDir, 'report.html')).href]);
    expect(await page.textContent('h1')).toMatch(/^Capacity plan: llama-3\.1-8b-instruct/);
    const header = await page.$$eval('table th', (ths) => ths.map((t) => t.textContent));
    expect(header).toEqual(expect.arrayContaining(['configuration', 'GPUs', 'max rate (req/s)']));
    expect(await page.locator('table tbody tr').count()).toBe(JSON.parse(readFileSync(join(planDir, 'plan.json'), 'utf8')).ranked.length);
    const png = await page.screenshot({ path: join(tmp, 'plan-report.png'), fullPage: true });
    expect(colours(png).distinct).toBeGreaterThan(50);
    await page.context().close();
  }, 120_000);
});
