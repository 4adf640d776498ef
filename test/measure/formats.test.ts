import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { readMeasurements, type ReadOptions } from '../../src/measure/index.js';

const dir = mkdtempSync(join(tmpdir(), 'nixlsim-measure-'));
const write = (name: string, text: string): string => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
/** The one-line UserError reading `file` throws. */
const error = (file: string, opts: ReadOptions = {}): string => {
  let caught: unknown;
  try {
    readMeasurements(file, opts);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(UserError);
  expect((caught as Error).message).not.toContain('\n');
  return (caught as Error).message;
};

describe('the plain CSV', () => {
  it('reads every column, empty cells as not measured, rows counted after the header (comments and blanks skipped)', () => {
    const f = write(
      'plain.csv',
      [
        '# measured on 2 x p5.48xlarge',
        'isl,osl,concurrency,ttft_ms,itl_ms,latency_ms,throughput',
        '8000,50,10,210,16.9,,248',
        '',
        '2000,100,4,,20,2100,',
      ].join('\n'),
    );
    const [a, b] = readMeasurements(f);
    expect(a).toMatchObject({ format: 'plain-csv', row: 1, line: 3, isl: 8000, osl: 50, concurrency: 10, ttftMs: 210, itlMs: 16.9, throughput: 248, statistic: { ttft: 'mean', itl: 'mean' } });
    expect(a!.latencyMs).toBeUndefined();
    expect(b).toMatchObject({ row: 2, line: 5, isl: 2000, itlMs: 20, latencyMs: 2100 });
    expect(b!.ttftMs).toBeUndefined();
    expect(b!.throughput).toBeUndefined();
  });

  it('takes isl, osl and concurrency from the flags where the file has no such column or an empty cell', () => {
    const f = write('flags.csv', 'isl,ttft_ms\n4000,300\n,250\n');
    const points = readMeasurements(f, { isl: 1000, osl: 64, concurrency: 2 });
    expect(points.map((p) => [p.isl, p.osl, p.concurrency])).toEqual([
      [4000, 64, 2],
      [1000, 64, 2],
    ]);
  });

  it('reads the optional KV transfer columns', () => {
    const f = write('kv.csv', 'isl,osl,concurrency,kv_tokens,kv_bytes,kv_transfer_ms\n8000,1,1,8000,,115\n1,1,1,,1048576000,110\n');
    const [a, b] = readMeasurements(f);
    expect([a!.kvTokens, a!.kvTransferMs, b!.kvBytes, b!.kvTransferMs]).toEqual([8000, 115, 1048576000, 110]);
  });

  it('names the file, line, row and column of a bad cell', () => {
    const f = write('bad.csv', 'isl,osl,concurrency,ttft_ms\n8000,50,10,210\n\n8000,50,10,fast\n');
    expect(error(f)).toMatch(/bad\.csv:4: row 2, column ttft_ms: expected a number > 0, got 'fast'$/);
  });

  it('wants whole numbers for lengths and concurrency', () => {
    const f = write('frac.csv', 'isl,osl,concurrency,ttft_ms\n8000,50,2.5,210\n');
    expect(error(f)).toMatch(/frac\.csv:2: row 1, column concurrency: expected a whole number >= 1, got '2\.5'/);
  });

  it('names a missing isl and the flag that would supply it', () => {
    const f = write('noisl.csv', 'osl,concurrency,ttft_ms\n50,1,100\n');
    expect(error(f)).toMatch(/noisl\.csv:2: row 1, column isl: is not a column of this file; fill it in or give --isl/);
  });

  it('rejects an unknown column with a suggestion, and a row of the wrong width', () => {
    expect(error(write('typo.csv', 'isl,osl,concurrency,ttf_ms\n1,1,1,1\n'))).toMatch(/typo\.csv:1: header: unknown column 'ttf_ms' \(column 4\); did you mean 'ttft_ms'\?/);
    expect(error(write('wide.csv', 'isl,osl,concurrency,ttft_ms\n1,1,1,1,5\n'))).toMatch(/wide\.csv:2: row 1: 5 cells, but the header has 4 columns/);
  });

  it('rejects a row that measured nothing', () => {
    expect(error(write('empty-row.csv', 'isl,osl,concurrency,ttft_ms,itl_ms\n1,1,1,,\n'))).toMatch(/empty-row\.csv:2: row 1: nothing measured/);
  });
});

// genai-perf's profile_export_genai_perf.json layout: one object per metric and the command line under input_config.
const genaiJson = {
  request_throughput: { unit: 'requests/sec', avg: 4.9 },
  request_latency: { unit: 'ms', avg: 2040.5, p50: 2000, p99: 2600 },
  time_to_first_token: { unit: 'ms', avg: 180.25, p50: 170, p90: 240, p99: 300 },
  inter_token_latency: { unit: 'ms', avg: 16.9, p50: 16.5 },
  output_token_throughput: { unit: 'tokens/sec', avg: 248 },
  input_sequence_length: { unit: 'tokens', avg: 7999.6, p50: 8000 },
  output_sequence_length: { unit: 'tokens', avg: 50.2, p50: 50 },
  input_config: { model: ['llama'], concurrency: 10, synthetic_input_tokens_mean: 8000, output_tokens_mean: 50, streaming: true },
};

describe('genai-perf exports', () => {
  it('JSON: the averages, the measured mean lengths (rounded), the concurrency from input_config', () => {
    const [p] = readMeasurements(write('profile_export_genai_perf.json', JSON.stringify(genaiJson, null, 2)));
    expect(p).toMatchObject({ format: 'genai-perf-json', row: 1, isl: 8000, osl: 50, concurrency: 10, ttftMs: 180.25, itlMs: 16.9, latencyMs: 2040.5, throughput: 248 });
    expect(p!.statistic).toEqual({ ttft: 'mean', itl: 'mean', latency: 'mean' });
  });

  it('JSON: nanoseconds (older releases) become ms; p50 stands in where avg is missing; a request-rate run needs --concurrency', () => {
    const old = {
      time_to_first_token: { unit: 'ns', p50: 170_000_000 },
      num_input_token: { unit: 'tokens', avg: 550 },
      num_output_token: { unit: 'tokens', avg: 256 },
      input_config: { concurrency: null, request_rate: 10 },
    };
    const f = write('old.json', JSON.stringify(old));
    expect(error(f)).toMatch(/row 1, concurrency: input_config has no concurrency \(a --request-rate run\?\); give --concurrency/);
    const [p] = readMeasurements(f, { concurrency: 8 });
    expect(p).toMatchObject({ isl: 550, osl: 256, concurrency: 8, ttftMs: 170, statistic: { ttft: 'p50' } });
  });

  it('JSON: a bad value is reported at its line and field', () => {
    const bad = structuredClone(genaiJson) as Record<string, Record<string, unknown>>;
    bad['time_to_first_token']!['avg'] = 'soon';
    const f = write('bad-genai.json', JSON.stringify(bad, null, 2));
    // Line 14 of the pretty-printed file: '{' (1), request_throughput (2-5), request_latency (6-11), then
    // time_to_first_token's opening (12), unit (13) and avg (14), indented 4: column 5.
    expect(error(f)).toMatch(/bad-genai\.json:14:5: row 1, time_to_first_token\.avg: expected a number >= 0, got "soon"$/);
  });

  it('CSV: the Metric,avg,... table (thousands separators) and the Metric,Value table; concurrency from the flag', () => {
    const csv = [
      'Metric,avg,min,max,p99,p95,p90,p75,p50,p25',
      'Time To First Token (ms),"1,234.50",100.00,"2,000.00",1.00,1.00,1.00,1.00,"1,200.00",1.00',
      'Inter Token Latency (ms),16.90,15.00,19.00,1.00,1.00,1.00,1.00,16.80,1.00',
      'Request Latency (ms),"2,070.00",1.00,1.00,1.00,1.00,1.00,1.00,1.00,1.00',
      'Output Sequence Length,50.00,50.00,50.00,50.00,50.00,50.00,50.00,50.00,50.00',
      'Input Sequence Length,"8,000.00","8,000.00","8,000.00","8,000.00","8,000.00","8,000.00","8,000.00","8,000.00","8,000.00"',
      '',
      'Metric,Value',
      'Output Token Throughput (tokens/sec),248.00',
      'Request Throughput (per sec),4.96',
      '',
    ].join('\r\n');
    const f = write('profile_export_genai_perf.csv', csv);
    expect(error(f)).toMatch(/row 1, concurrency: the CSV export does not record it; give --concurrency/);
    const [p] = readMeasurements(f, { concurrency: 10 });
    expect(p).toMatchObject({ format: 'genai-perf-csv', isl: 8000, osl: 50, concurrency: 10, ttftMs: 1234.5, itlMs: 16.9, latencyMs: 2070, throughput: 248 });
  });

  it('CSV: a bad number names its line and column', () => {
    const f = write('bad-genai.csv', 'Metric,avg,p50\nTime To First Token (ms),12.5,1\nInter Token Latency (ms),n/a,3\n');
    expect(error(f, { isl: 1, osl: 1, concurrency: 1 })).toMatch(/bad-genai\.csv:3: row 1, column avg of 'Inter Token Latency \(ms\)': expected a number >= 0, got "n\/a"/);
  });
});

// vLLM bench serve --save-result: flat keys; e2el only when --percentile-metrics asked for it.
const vllm = {
  date: '20250101-000000',
  backend: 'vllm',
  model_id: 'meta-llama/Llama-3.1-8B-Instruct',
  num_prompts: 100,
  request_rate: 'inf',
  burstiness: 1.0,
  max_concurrency: 10,
  duration: 20.1,
  completed: 100,
  total_input_tokens: 800000,
  total_output_tokens: 5000,
  request_throughput: 4.97,
  output_throughput: 248.4,
  mean_ttft_ms: 210.5,
  median_ttft_ms: 200,
  p99_ttft_ms: 320,
  mean_tpot_ms: 16.9,
  median_tpot_ms: 16.8,
  mean_itl_ms: 16.7,
};

describe('vLLM bench serve results', () => {
  it('TTFT, ITL from TPOT (genai-perf\'s per-request definition), lengths from the totals, concurrency from max_concurrency', () => {
    const [p] = readMeasurements(write('vllm.json', JSON.stringify(vllm, null, 2)));
    // isl = 800000 / 100 = 8000, osl = 5000 / 100 = 50
    expect(p).toMatchObject({ format: 'vllm-bench', row: 1, isl: 8000, osl: 50, concurrency: 10, ttftMs: 210.5, itlMs: 16.9, throughput: 248.4 });
    expect(p!.latencyMs).toBeUndefined();
  });

  it('JSON Lines (--append-result): one point per line; an uncapped run needs --concurrency', () => {
    const second = { ...vllm, max_concurrency: null, mean_ttft_ms: undefined, median_ttft_ms: 150, total_input_tokens: 200000 };
    const f = write('append.jsonl', `${JSON.stringify(vllm)}\n${JSON.stringify(second)}\n`);
    expect(error(f)).toMatch(/append\.jsonl:2: row 2, concurrency: max_concurrency is null \(an uncapped run\); give --concurrency/);
    const [, b] = readMeasurements(f, { concurrency: 32 });
    expect(b).toMatchObject({ row: 2, line: 2, isl: 2000, concurrency: 32, ttftMs: 150, statistic: { ttft: 'p50' } });
  });

  it('a bad field names its row', () => {
    const f = write('bad.jsonl', `${JSON.stringify(vllm)}\n${JSON.stringify({ ...vllm, mean_tpot_ms: -3 })}\n`);
    expect(error(f)).toMatch(/bad\.jsonl:2: row 2, mean_tpot_ms: expected a number > 0, got -3/);
  });
});

describe('format detection', () => {
  it('tells the formats apart by content, whatever the extension', () => {
    expect(readMeasurements(write('a.txt', JSON.stringify(vllm)))[0]!.format).toBe('vllm-bench');
    expect(readMeasurements(write('b.txt', JSON.stringify(genaiJson)))[0]!.format).toBe('genai-perf-json');
    expect(readMeasurements(write('c.data', 'isl,osl,concurrency,itl_ms\n1,2,3,4\n'))[0]!.format).toBe('plain-csv');
  });

  it('refuses JSON of another tool, pointing to the plain CSV', () => {
    expect(error(write('other.json', '{"latency": 3}'))).toMatch(/neither a vLLM bench serve result .* nor a genai-perf export/);
  });
});
