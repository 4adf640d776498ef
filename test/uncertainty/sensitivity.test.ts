import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sensitivityTable } from '../../src/cli/commands/sensitivity.js';
import { runSensitivity } from '../../src/run/sensitivity.js';
import { tornadoRows, tornadoSpec } from '../../src/report/charts/index.js';
import { nixlsimInProcess, ROOT } from '../helpers/cli.js';
import { aggregatedExperiment, experimentFile, tcpExperiment, tmp } from './helpers.js';

describe('sensitivity', () => {
  it('a long prompt over TCP: the transport bandwidth ranks first for TTFT p95, by the transfer time it saves', async () => {
    const out = tmp();
    const { result, files } = await runSensitivity(experimentFile(tcpExperiment(32000)), { out, workers: 1 });
    expect(result.metric).toBe('ttft_p95_ms');
    expect(result.parameters.map((p) => p.name)).toEqual([
      'transport.bandwidthPerRailGBps',
      'gpu.efficiency.prefillCompute',
      'gpu.efficiency.stepOverheadS',
      'gpu.efficiency.connectorStepOverheadS',
      'gpu.efficiency.decodeMemory',
      'gpu.efficiency.piecewiseLayerOverheadS',
    ]);
    const [bw, pc, so, cs, dm, pw] = result.parameters;
    // 4,194,304,000 B of KV (32,000 tokens x 131,072 B) at tcp's 0.1 GB/s (min = nominal) and at its 3 GB/s max:
    // 41,943.04 ms - 1,398.10 ms = 40,544.94 ms; nothing else in TTFT depends on the bandwidth.
    expect(bw!.low).toEqual({ value: 0.1, metric: result.nominal });
    expect(bw!.high.value).toBe(3);
    expect(bw!.swing).toBeCloseTo(40544.94, -1);
    // Prefill of 32,000 tokens: 2 x 6.979e9 x 32,000 + 4 chunks' LM heads 4.2e9 + attention 524,288 x 512,016,000 pairs
    // = 7.1512e14 FLOPs / 989e12 = 723.1 ms at efficiency 1; at 0.3 and at 0.85 it differs by 723.1 x (1/0.3 - 1/0.85)
    // = 1,559.7 ms (chunks are compute-bound; the first decode step is memory-bound and does not care).
    expect(pc!.swing / 1559.7).toBeCloseTo(1, 2);
    expect(pc!.low.metric).toBeGreaterThan(pc!.high.metric); // more efficient, sooner
    // Host time from 0.5 to 10 ms on the steps before the first token: 4 prefill chunks (3 x 8,192 + 7,424 tokens)
    // and the first decode step: 5 x 9.5 ms = 47.5 ms.
    expect(so!.swing).toBeCloseTo(47.5, 0);
    expect(so!.low).toMatchObject({ value: 0.0005 });
    expect(so!.high).toMatchObject({ value: 0.01 });
    // The decode worker's connector time (0.1 to 15 ms) enters once, in its first step: 14.9 ms.
    expect(cs!.swing).toBeCloseTo(14.9, 1);
    // That first decode step reads 16.06e9 B of weights + 32,001 x 131,072 B of KV = 20.25e9 B at 3.35e12 B/s x 0.5 or
    // 0.95: 12.09 - 6.36 = 5.73 ms.
    expect(dm!.swing).toBeCloseTo(5.73, 1);
    // Piecewise launches (32 layers x 5 to 100 us) hide under each prefill chunk's ~180 ms of compute.
    expect(pw!.swing).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['sensitivity.json', 'tornado.png', 'tornado.svg', 'tornado.vl.json']);
    expect(files.map((f) => f.slice(out.length + 1))).toEqual(['sensitivity.json', 'tornado.vl.json', 'tornado.svg', 'tornado.png']);
    expect(JSON.parse(readFileSync(join(out, 'sensitivity.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(result)));
    expect(sensitivityTable(result)[1]).toMatch(/^ {3}1 {2}bandwidth per rail \(tcp\) +0\.1 GB\/s +0\.1 GB\/s +3 GB\/s/);
  });

  it('a compute-bound aggregated point: prefill compute efficiency ranks first; no transport to vary', async () => {
    const { result } = await runSensitivity(experimentFile(aggregatedExperiment(8000)), { out: tmp(), workers: 1 });
    expect(result.parameters.map((p) => p.name)).toEqual([
      'gpu.efficiency.prefillCompute',
      'gpu.efficiency.stepOverheadS',
      'gpu.efficiency.decodeMemory',
      'gpu.efficiency.piecewiseLayerOverheadS',
    ]);
    const [pc, so, dm, pw] = result.parameters;
    // One 8,000-token prefill step: 1.2845e14 FLOPs / 989e12 = 129.88 ms at efficiency 1: 432.93 ms at 0.3, 152.80 at 0.85.
    expect(pc!.swing / 280.13).toBeCloseTo(1, 2);
    // One step's host time, 10 - 0.5 = 9.5 ms.
    expect(so!.swing).toBeCloseTo(9.5, 1);
    // The prefill step reads 16 GB of weights in at most 9.6 ms, far under its compute time: HBM efficiency moves nothing,
    // and neither do its 32 x (5 to 100 us) of piecewise launches.
    expect(dm!.swing).toBe(0);
    expect(pw!.swing).toBe(0);
  });

  it('ranks by another metric, and picks a point of a sweep by id', async () => {
    const f = experimentFile({ ...aggregatedExperiment(1000), sweep: { 'workload.isl.mean': [1000, 8000] } });
    const { result } = await runSensitivity(f, { out: tmp(), workers: 1, metric: 'itl_mean_ms', point: 'p001' });
    expect(result.point).toEqual({ id: 'p001', params: { 'workload.isl.mean': 8000 } });
    // Decode steps: 17.11e9 B from HBM at 3.35e12 x 0.5 or 0.95 = 10.21 or 5.38 ms (swing 4.84 ms) plus the host's
    // time (swing 9.5 ms); prefill compute does not enter ITL, nor do launches (decode-only steps replay full graphs).
    expect(result.parameters.map((p) => p.name)).toEqual([
      'gpu.efficiency.stepOverheadS',
      'gpu.efficiency.decodeMemory',
      'gpu.efficiency.prefillCompute',
      'gpu.efficiency.piecewiseLayerOverheadS',
    ]);
    expect(result.parameters[0]!.swing).toBeCloseTo(9.5, 1);
    expect(result.parameters[1]!.swing).toBeCloseTo(4.84, 1);
    expect(result.parameters[2]!.swing).toBe(0);
    expect(result.parameters[3]!.swing).toBe(0);
  });

  it('the tornado chart: two bars a parameter from the nominal, largest swing on top', () => {
    const result = {
      metric: 'ttft_p95_ms' as const,
      label: 'TTFT p95',
      unit: 'ms',
      nominal: 100,
      experiment: 'x',
      seed: 0,
      point: { id: 'p000', params: {} },
      parameters: [
        { name: 'transport.bandwidthPerRailGBps' as const, label: 'bandwidth per rail (tcp)', unit: 'GB/s', nominal: 0.1, low: { value: 0.1, metric: 100 }, high: { value: 3, metric: 20 }, swing: 80 },
        { name: 'gpu.efficiency.stepOverheadS' as const, label: 'step overhead (h100-sxm)', unit: 's', nominal: 0.00846, low: { value: 0.001, metric: 95 }, high: { value: 0.03, metric: 110 }, swing: 15 },
      ],
    };
    const rows = tornadoRows(result);
    expect(rows.map((r) => [r.parameter, r.end, r.valueText, r.metric, r.right])).toEqual([
      ['bandwidth per rail (tcp): 0.1 GB/s to 3 GB/s', 'at min', '0.1 GB/s', 100, true],
      ['bandwidth per rail (tcp): 0.1 GB/s to 3 GB/s', 'at max', '3 GB/s', 20, false],
      ['step overhead (h100-sxm): 1 ms to 30 ms', 'at min', '1 ms', 95, false],
      ['step overhead (h100-sxm): 1 ms to 30 ms', 'at max', '30 ms', 110, true],
    ]);
    const spec = JSON.parse(JSON.stringify(tornadoSpec(result)));
    const bars = spec.layer[0].layer[0];
    expect(bars.mark.type).toBe('bar');
    expect(bars.encoding.x.field).toBe('nominal');
    expect(bars.encoding.x2.field).toBe('metric');
    expect(bars.encoding.y.sort).toEqual(['bandwidth per rail (tcp): 0.1 GB/s to 3 GB/s', 'step overhead (h100-sxm): 1 ms to 30 ms']);
    expect(spec.layer[1].mark.type).toBe('rule');
  });
});

describe('nixlsim sensitivity (CLI)', () => {
  it('prints the ranked table, or the JSON; bad flags exit 2 naming the flag', async () => {
    const f = experimentFile(aggregatedExperiment(2000));
    const out = tmp();
    const r = await nixlsimInProcess(['sensitivity', f, '--out', out, '--workers', '1', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(Object.keys(json)).toEqual(['metric', 'label', 'unit', 'nominal', 'experiment', 'seed', 'point', 'parameters']);
    expect(json.parameters[0].name).toBe('gpu.efficiency.prefillCompute');
    expect(r.stdout).toBe(readFileSync(join(out, 'sensitivity.json'), 'utf8'));

    const never = join(tmp(), 'never');
    const m = await nixlsimInProcess(['sensitivity', f, '--out', never, '--metric', 'ttft_p97_ms']);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/^nixlsim: error: --metric must be one of ttft_mean_ms, .*got 'ttft_p97_ms'/);
    const p = await nixlsimInProcess(['sensitivity', f, '--out', never, '--point', 'p007']);
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/^nixlsim: error: --point: no point 'p007' in this sweep \(points: p000\)/);
    expect(existsSync(never)).toBe(false);
  });
});

describe("docs/planning.md's sensitivity example", () => {
  it('is what the command prints for seed 002\'s disaggregated point at ISL 8000', async () => {
    const doc = readFileSync(join(ROOT, 'docs/planning.md'), 'utf8');
    const example = /npx nixlsim sensitivity experiments\/seeds\/breakeven\.yaml --point p015.*\n((?:#.*\n)+)/.exec(doc)?.[1];
    expect(example).toBeDefined();
    const shown = example!.split('\n').filter((l) => /^# {3}(rank|\s+\d )/.test(l)).map((l) => l.slice(4));
    const { result } = await runSensitivity(join(ROOT, 'experiments/seeds/breakeven.yaml'), { out: tmp(), point: 'p015', workers: 1 });
    expect(shown).toEqual(sensitivityTable(result));
  });
});
